"""Two deployments in one account and Region: nothing they name may collide."""

from __future__ import annotations

from typing import Any

from tools.cfn_resolve import Resolver

PARAMETERS = {
    "AllowedClusterIdentifiers": "orders-prod",
    "EnableSchedule": "true",
    "ScheduleClusterIdentifier": "orders-prod",
    "EnableSnapshotEventTrigger": "true",
    "EnableAwsBackupTrigger": "true",
}
# Properties that give a resource its name in the account and Region.
NAME_KEYS = {"Name", "AliasName", "LogGroupName", "FunctionName", "StateMachineName", "TopicName", "QueueName",
             "BucketName", "RoleName", "ManagedPolicyName", "AlarmName", "DashboardName", "ScheduleName"}


def _names(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Dimensions":  # metric dimensions name a metric's dimension, not a resource
                continue
            # "<Logical.Arn>" is a reference to another resource of the stack, named on its own.
            if key in NAME_KEYS and isinstance(item, str) and not item.startswith("<"):
                found.add(item)
            _names(item, found)
    elif isinstance(value, list):
        for item in value:
            _names(item, found)
    return found


def _deployed_names(cfn: dict[str, Any], stack: str) -> tuple[set[str], set[str]]:
    resolver = Resolver(cfn, PARAMETERS, stack_name=stack)
    names: set[str] = set()
    stacks_in_metrics: set[str] = set()
    for resource in cfn["Resources"].values():
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        properties = resolver.resolve(resource.get("Properties") or {})
        _names(properties, names)
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        if "AURORA_LAKE_STACK" in variables:
            stacks_in_metrics.add(variables["AURORA_LAKE_STACK"])
    return names, stacks_in_metrics


def test_two_stacks_share_no_name_and_no_metric(cfn: dict[str, Any]) -> None:
    names_a, metrics_a = _deployed_names(cfn, "aurora-lake")
    names_b, metrics_b = _deployed_names(cfn, "aurora-lake-prod")
    assert "aurora_lake" in names_a and "aurora_lake_prod" in names_b  # the Glue databases, derived
    assert names_a and not names_a & names_b, sorted(names_a & names_b)
    # Every function tags its metrics with its own stack (the Powertools default dimension).
    assert metrics_a == {"aurora-lake"} and metrics_b == {"aurora-lake-prod"}


def test_a_glue_database_name_given_is_used_as_given(cfn: dict[str, Any]) -> None:
    resolver = Resolver(cfn, {**PARAMETERS, "GlueDatabaseName": "finance_lake"}, stack_name="aurora-lake")
    database = resolver.resolve(cfn["Resources"]["GlueDatabase"]["Properties"])
    assert database["DatabaseInput"]["Name"] == "finance_lake"
