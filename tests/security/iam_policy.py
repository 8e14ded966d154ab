"""The IAM policy evaluator of the emulated account, under the name these tests import it by."""

from emulated_account.iam_policy import *  # noqa: F403
from emulated_account.iam_policy import action_matches, as_list, conditions_hold, resource_matches  # noqa: F401
