"""ListAccountSources: one account's sources in a fleet run, each with its export input and name.

The account's step of the fleet's Distributed Map calls it first (aurora_lake/fleet.py,
aurora_lake/inventory.py); what it returns is that step's whole state.
"""

from __future__ import annotations

from typing import Any

from aurora_lake import fleet, naming
from aurora_lake.handler import step_handler


@step_handler("ListAccountSources")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The lake's own account: the function's own ARN names it.
    lake_account = naming.split_arn(str(context.invoked_function_arn)).account
    return fleet.list_account_sources(event.get("account") or {}, lake_account)
