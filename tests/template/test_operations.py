"""Operations settings of template.yaml: parameters, triggers, alarm, retention, publishing metadata.

Read after the SAM transform, as CloudFormation receives the template, and evaluated for
given parameter values with the offline resolver.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from tools.cfn_resolve import Resolver
from tools.sam_translate import REPO_ROOT

ALLOWED = "orders-prod,billing"
EVENTS = REPO_ROOT / "events"
SNAPSHOT_ARN = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:"


def resolver(cfn: dict[str, Any], **parameters: str) -> Resolver:
    return Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED, **parameters})


# --- parameters ---------------------------------------------------------------------------


def test_every_parameter_has_a_description_a_constraint_and_one_interface_group(sam: dict[str, Any]) -> None:
    parameters = sam["Parameters"]
    for name, spec in parameters.items():
        assert len(spec.get("Description", "")) >= 20, f"{name}: a description an operator can act on"
        if spec["Type"] == "Number":
            assert "AllowedValues" in spec or {"MinValue", "MaxValue"} <= set(spec), name
            if "Default" in spec and "MinValue" in spec:
                assert spec["MinValue"] <= int(spec["Default"]) <= spec["MaxValue"], name
        else:
            assert {"AllowedPattern", "AllowedValues"} & set(spec), name
            if "AllowedPattern" in spec:
                assert spec.get("ConstraintDescription"), f"{name}: say what the pattern wants"
                if "Default" in spec:
                    assert re.fullmatch(spec["AllowedPattern"], str(spec["Default"])), name
            if "Default" in spec and "AllowedValues" in spec:
                assert spec["Default"] in spec["AllowedValues"], name
    groups = sam["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(parameters), "each parameter in exactly one group"
    assert all(group["Label"]["default"] for group in groups)


def _documented_parameter_rows() -> dict[str, str]:
    operations = (REPO_ROOT / "docs" / "operations.md").read_text()
    section = operations.split("## Parameters", 1)[1].split("\n#", 1)[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| ([^|]*) \|", section, re.M)}


def test_parameter_table_lists_every_parameter_with_its_default(sam: dict[str, Any]) -> None:
    rows = _documented_parameter_rows()
    assert sorted(rows) == sorted(sam["Parameters"])
    for name, spec in sam["Parameters"].items():
        default = str(spec.get("Default", ""))
        shown = rows[name].strip()
        if "Default" not in spec:
            assert shown == "(required)", name
        elif default == "":
            assert shown == "(empty)", name
        else:
            assert shown == f"`{default}`", name


# --- triggers -----------------------------------------------------------------------------


def test_triggers_are_off_by_default(cfn: dict[str, Any]) -> None:
    defaults = resolver(cfn)
    for name in ("ExportSchedule", "ScheduleRole", "SnapshotCreatedRule", "SnapshotEventRuleRole"):
        assert not defaults.resource_exists(name), name


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("new", {"cluster_identifier": "billing"}),
        ("latest-automated", {"cluster_identifier": "billing", "use_latest_automated_snapshot": True}),
    ],
)
def test_schedule_input_follows_the_snapshot_source(cfn: dict[str, Any], source: str, expected: dict[str, Any]) -> None:
    on = resolver(cfn, EnableSchedule="true", ScheduleClusterIdentifier="billing", ScheduleSnapshotSource=source,
                  ScheduleExpression="rate(1 day)", ScheduleTimezone="Europe/Paris")
    schedule = on.resolve(cfn["Resources"]["ExportSchedule"]["Properties"])
    assert json.loads(schedule["Target"]["Input"]) == expected
    assert schedule["ScheduleExpression"] == "rate(1 day)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    # Straight to the state machine: no function in between.
    assert schedule["Target"]["Arn"] == "<ExportStateMachine>"


def _rule_pattern(cfn: dict[str, Any], **parameters: str) -> EventPattern:
    on = resolver(cfn, EnableSnapshotEventTrigger="true", **parameters)
    rule = on.resolve(cfn["Resources"]["SnapshotCreatedRule"]["Properties"])
    assert [target["Arn"] for target in rule["Targets"]] == ["<ExportStateMachine>"]
    return EventPattern(None, rule["EventPattern"])


def _snapshot_event(identifier: str, event_id: str = "RDS-EVENT-0169") -> dict[str, Any]:
    event = json.loads((EVENTS / "rds-cluster-snapshot-created-event.json").read_text())
    event["detail"].update(SourceIdentifier=identifier, SourceArn=SNAPSHOT_ARN + identifier, EventID=event_id)
    event["resources"] = [SNAPSHOT_ARN + identifier]
    return event


def test_snapshot_rule_matches_the_sample_event_of_an_allowed_cluster(cfn: dict[str, Any]) -> None:
    sample = json.loads((EVENTS / "rds-cluster-snapshot-created-event.json").read_text())
    assert _rule_pattern(cfn, AllowedClusterIdentifiers="demo-aurora-cluster").matches_event(sample)


@pytest.mark.parametrize(
    ("parameters", "identifier", "event_id", "matches"),
    [
        # By default: snapshots of every allowed cluster, automated only.
        ({}, "rds:orders-prod-2026-11-01-03-10", "RDS-EVENT-0169", True),
        ({}, "rds:billing-2026-11-01-03-10", "RDS-EVENT-0169", True),
        # With no cluster named, any cluster's snapshot starts a run, which validation refuses
        # unless the cluster is allowed (AllowedClusterIdentifiers may name more than a pattern can).
        ({}, "rds:payments-2026-11-01-03-10", "RDS-EVENT-0169", True),
        ({"SnapshotEventClusters": "orders-prod,billing"}, "rds:payments-2026-11-01-03-10", "RDS-EVENT-0169", False),
        ({}, "orders-prod-before-upgrade", "RDS-EVENT-0075", False),
        ({"SnapshotEventTypes": "manual"}, "orders-prod-before-upgrade", "RDS-EVENT-0075", True),
        ({"SnapshotEventTypes": "manual"}, "rds:orders-prod-2026-11-01-03-10", "RDS-EVENT-0169", False),
        ({"SnapshotEventTypes": "both"}, "orders-prod-before-upgrade", "RDS-EVENT-0075", True),
        # No substring of a name drops an event: a cluster may be named "data-lake-prod". The
        # workflow's own snapshots are recognised by their exact name in the run (triggers.py).
        ({"SnapshotEventTypes": "both", "AllowedClusterIdentifiers": "data-lake-prod"}, "data-lake-prod-before-upgrade",
         "RDS-EVENT-0075", True),
        ({"SnapshotEventTypes": "both"}, "orders-prod-lake-0123456789ab", "RDS-EVENT-0075", True),
        # "Snapshot creating" events are not "created" events.
        ({"SnapshotEventTypes": "both"}, "rds:orders-prod-2026-11-01-03-10", "RDS-EVENT-0168", False),
        # Only the clusters chosen for the trigger.
        ({"SnapshotEventClusters": "billing"}, "rds:billing-2026-11-01-03-10", "RDS-EVENT-0169", True),
        ({"SnapshotEventClusters": "billing"}, "rds:orders-prod-2026-11-01-03-10", "RDS-EVENT-0169", False),
    ],
)
def test_snapshot_rule_filters_by_event_type_and_cluster(
    cfn: dict[str, Any], parameters: dict[str, str], identifier: str, event_id: str, matches: bool
) -> None:
    assert _rule_pattern(cfn, **parameters).matches_event(_snapshot_event(identifier, event_id)) is matches


def test_snapshot_rule_cluster_prefixes_name_only_chosen_clusters(cfn: dict[str, Any]) -> None:
    on = resolver(cfn, EnableSnapshotEventTrigger="true", SnapshotEventClusters="billing")
    pattern = on.resolve(cfn["Resources"]["SnapshotCreatedRule"]["Properties"])["EventPattern"]
    prefixes = {entry["prefix"] for entry in pattern["detail"]["SourceArn"]}
    assert prefixes == {SNAPSHOT_ARN + "rds:billing-", SNAPSHOT_ARN + "billing-"}


def test_snapshot_cluster_filter_accepts_one_to_five_clusters(sam: dict[str, Any]) -> None:
    pattern = sam["Parameters"]["SnapshotEventClusters"]["AllowedPattern"]
    assert re.fullmatch(pattern, "") and re.fullmatch(pattern, "a,b,c,d,e")
    assert not re.fullmatch(pattern, "a,b,c,d,e,f") and not re.fullmatch(pattern, "a, b")


# --- alarm --------------------------------------------------------------------------------


@pytest.mark.parametrize(("alarm_name", "machine"), [("UnsuccessfulExecutionsAlarm", "ExportStateMachine"),
                                                     ("UnsuccessfulFleetExecutionsAlarm", "FleetStateMachine")])
def test_alarm_notifies_the_topic_of_failed_timed_out_and_aborted_executions(cfn: dict[str, Any], alarm_name: str, machine: str) -> None:
    alarms = {n: r for n, r in cfn["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm" and "Condition" not in r}
    assert sorted(alarms) == ["ExportEventDeadLettersAlarm", "UnsuccessfulExecutionsAlarm", "UnsuccessfulFleetExecutionsAlarm"]
    props = resolver(cfn).resolve(alarms[alarm_name]["Properties"])
    assert props["AlarmActions"] == ["<NotificationTopic>"]
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and props["Threshold"] == 1
    assert props["TreatMissingData"] == "notBreaching"
    queries = {query["Id"]: query for query in props["Metrics"]}
    stats = {q["MetricStat"]["Metric"]["MetricName"]: q for q in queries.values() if "MetricStat" in q}
    assert set(stats) == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    for query in stats.values():
        metric = query["MetricStat"]["Metric"]
        assert metric["Namespace"] == "AWS/States"
        assert metric["Dimensions"] == [{"Name": "StateMachineArn", "Value": f"<{machine}>"}]
        assert query["MetricStat"]["Stat"] == "Sum" and query["ReturnData"] is False
    [returned] = [q for q in queries.values() if q.get("ReturnData", True)]
    assert all(query_id in returned["Expression"] for query_id in (q["Id"] for q in stats.values()))


def test_key_lets_cloudwatch_alarms_publish_to_the_encrypted_topic(cfn: dict[str, Any]) -> None:
    topic = resolver(cfn).resolve(cfn["Resources"]["NotificationTopic"]["Properties"])
    assert topic["KmsMasterKeyId"] == "<ExportKey.Arn>"
    statements = resolver(cfn).resolve(cfn["Resources"]["ExportKey"]["Properties"]["KeyPolicy"])["Statement"]
    cloudwatch = [s for s in statements if s["Effect"] == "Allow" and s["Principal"].get("Service") == "cloudwatch.amazonaws.com"]
    assert cloudwatch, "an alarm cannot publish to a KMS-encrypted topic without the key"
    actions = {a for s in cloudwatch for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert "kms:Decrypt" in actions and any(a.startswith("kms:GenerateDataKey") for a in actions)


# --- retention ----------------------------------------------------------------------------


def _lifecycle(cfn: dict[str, Any], **parameters: str) -> dict[str, dict[str, Any]]:
    props = resolver(cfn, **parameters).resolve(cfn["Resources"]["ExportBucket"]["Properties"])
    return {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}


def test_default_retention_keeps_exports_and_expires_only_old_versions_and_query_results(cfn: dict[str, Any]) -> None:
    rules = _lifecycle(cfn)
    assert set(rules) == {"AbortIncompleteUploads", "ExpireExportWaitTokens", "ExpireNoncurrentVersions", "ExpireAthenaResults",
                          "ExpireAthenaPlans", "ExpireRunReports"}
    assert rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    # An export wait's task token is worthless after the wait (12 hours at most).
    assert rules["ExpireExportWaitTokens"] == {"Id": "ExpireExportWaitTokens", "Status": "Enabled", "Prefix": "export-waits/",
                                               "ExpirationInDays": 1}
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": "30"}
    assert "Prefix" not in rules["ExpireNoncurrentVersions"]
    assert rules["ExpireAthenaResults"]["Prefix"] == "athena-results/"
    assert rules["ExpireAthenaPlans"]["Prefix"] == "athena-plans/"
    # The runs' reports name the table reports: both expire together.
    assert rules["ExpireRunReports"]["Prefix"] == "reports/runs/"
    assert rules["ExpireRunReports"]["ExpirationInDays"] == rules["ExpireAthenaPlans"]["ExpirationInDays"]
    assert all(rule["Status"] == "Enabled" for rule in rules.values())
    # Nothing touches the exports themselves unless asked.
    assert not any(rule.get("Prefix") == "exports/" for rule in rules.values())


def test_retention_parameters_become_rules_on_the_export_prefix(cfn: dict[str, Any]) -> None:
    rules = _lifecycle(cfn, ExportPrefix="lake/aurora/", ExportTransitionDays="30", ExportTransitionStorageClass="STANDARD_IA",
                       ExportExpirationDays="365", NoncurrentVersionExpirationDays="7", AthenaResultsExpirationDays="3")
    assert rules["TransitionExports"]["Prefix"] == "lake/aurora/"
    assert rules["TransitionExports"]["Transitions"] == [{"StorageClass": "STANDARD_IA", "TransitionInDays": "30"}]
    assert rules["ExpireExports"] == {"Id": "ExpireExports", "Status": "Enabled", "Prefix": "lake/aurora/", "ExpirationInDays": "365"}
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": "7"}
    assert rules["ExpireAthenaResults"]["ExpirationInDays"] == "3" and rules["ExpireAthenaPlans"]["ExpirationInDays"] == "3"


def test_zero_days_turns_each_rule_off(cfn: dict[str, Any]) -> None:
    rules = _lifecycle(cfn, ExportTransitionDays="0", ExportExpirationDays="0", NoncurrentVersionExpirationDays="0",
                       AthenaResultsExpirationDays="0")
    assert set(rules) == {"AbortIncompleteUploads", "ExpireExportWaitTokens"}


def test_transition_classes_stay_queryable_by_athena(sam: dict[str, Any]) -> None:
    # Athena cannot read Glacier Flexible Retrieval or Deep Archive objects without a restore.
    assert set(sam["Parameters"]["ExportTransitionStorageClass"]["AllowedValues"]) <= {"STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR"}


# --- deletion and publishing --------------------------------------------------------------


def test_sam_delete_keeps_the_export_bucket_and_the_key(cfn: dict[str, Any]) -> None:
    for name in ("ExportBucket", "ExportKey"):
        assert cfn["Resources"][name]["DeletionPolicy"] == "Retain", name
        assert cfn["Resources"][name]["UpdateReplacePolicy"] == "Retain", name


def test_serverless_repo_metadata_is_publishable(sam: dict[str, Any]) -> None:
    app = sam["Metadata"]["AWS::ServerlessRepo::Application"]
    assert re.fullmatch(r"[a-zA-Z0-9-]{1,140}", app["Name"])
    assert 1 <= len(app["Description"]) <= 256
    assert re.fullmatch(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?", app["Author"]) and len(app["Author"]) <= 127
    assert re.fullmatch(r"\d+\.\d+\.\d+", app["SemanticVersion"])
    assert 1 <= len(app["Labels"]) <= 10
    assert all(re.fullmatch(r"[a-zA-Z0-9+\-_:/@]{1,127}", label) for label in app["Labels"])
    # sam package uploads these local files; they must exist and match the declared licence.
    assert (REPO_ROOT / app["ReadmeUrl"]).is_file()
    license_text = (REPO_ROOT / app["LicenseUrl"]).read_text()
    assert app["SpdxLicenseId"] == "MIT" and license_text.startswith("MIT License")


def _samconfig() -> dict[str, Any]:
    import tomllib

    return tomllib.loads(Path(REPO_ROOT / "samconfig.toml").read_text())


def test_samconfig_deploys_in_ci_without_a_question_and_takes_the_region_from_the_environment() -> None:
    config = _samconfig()
    assert {"default", "ci", "prod"} <= set(config)
    for environment in ("default", "ci", "prod"):
        deploy = config[environment]["deploy"]["parameters"]
        assert deploy["capabilities"] == "CAPABILITY_IAM", environment
        assert deploy["resolve_s3"] is True, environment
        assert "region" not in deploy and "region" not in config[environment]["global"]["parameters"], environment
        assert config[environment]["global"]["parameters"]["stack_name"], environment
        # The shipped environments name no cluster: every deployment gives its own.
        from tests.docs.deploy_commands import effective_parameters

        assert "AllowedClusterIdentifiers" not in effective_parameters(["sam", "deploy", "--config-env", environment]), environment
    assert config["ci"]["deploy"]["parameters"]["confirm_changeset"] is False
    assert config["default"]["deploy"]["parameters"]["confirm_changeset"] is True
    assert config["default"]["global"]["parameters"]["stack_name"] != config["prod"]["global"]["parameters"]["stack_name"]


def _readme_deploy_command() -> list[str]:
    """The README's deploy command as bash expands it with only ``AWS_REGION`` set (a newcomer's shell)."""
    from tests.docs.deploy_commands import documented_commands, shell_words

    [command] = [c for c in documented_commands() if c.page == "README.md" and c.text.startswith(".venv-sam/bin/sam deploy")]
    return shell_words(command.text, {"AWS_REGION": "eu-west-1"})


def test_the_readme_deploy_command_is_non_interactive_and_needs_only_the_allowed_clusters(sam: dict[str, Any]) -> None:
    from tests.docs.deploy_commands import effective_parameters

    words = _readme_deploy_command()
    assert words[:2] == [".venv-sam/bin/sam", "deploy"] and "--guided" not in words
    assert words[words.index("--config-env") + 1] == "ci"
    assert words[words.index("--region") + 1] == "eu-west-1"
    overrides = effective_parameters(words)
    # The first deploy subscribes someone to the alarms: a default deployment would send them nowhere.
    assert set(overrides) == {"AllowedClusterIdentifiers", "NotificationEmail", "AlarmNotificationEmail"}
    assert overrides["AlarmNotificationEmail"]
    required = {name for name, spec in sam["Parameters"].items() if "Default" not in spec}
    assert required == {"AllowedClusterIdentifiers"}
    for name, value in overrides.items():
        assert re.fullmatch(sam["Parameters"][name]["AllowedPattern"], value), name


# --- deadlines ----------------------------------------------------------------------------


def test_no_timeout_parameter_reaches_past_the_runs_deadline(sam: dict[str, Any]) -> None:
    from aurora_lake import deadline

    definition = json.loads((REPO_ROOT / "statemachine" / "export_to_data_lake.asl.json").read_text())
    assert definition["TimeoutSeconds"] == deadline.EXECUTION_TIMEOUT_SECONDS
    assert deadline.DEFAULT_SECONDS <= deadline.EXECUTION_TIMEOUT_SECONDS - 3600
    for name in ("SnapshotTimeoutSeconds", "ExportTimeoutSeconds"):
        assert int(sam["Parameters"][name]["MaxValue"]) < deadline.DEFAULT_SECONDS, name
    # The longest single wait a step may ask for leaves the clean-up its hour (a Retry's longest interval too).
    longest_retry = max(
        retry.get("MaxDelaySeconds", retry["IntervalSeconds"])
        for state in definition["States"].values() for retry in state.get("Retry", [])
    )
    assert longest_retry <= deadline.CLEAN_UP_MARGIN_SECONDS / 4


# --- releases -----------------------------------------------------------------------------


def test_the_changelog_names_the_templates_version_first_and_every_release_once(sam: dict[str, Any]) -> None:
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text()
    versions = re.findall(r"^## (\d+\.\d+\.\d+)\s*$", changelog, re.M)
    assert versions and versions[0] == sam["Metadata"]["AWS::ServerlessRepo::Application"]["SemanticVersion"]
    as_tuples = [tuple(int(part) for part in version.split(".")) for version in versions]
    assert as_tuples == sorted(set(as_tuples), reverse=True), "one entry per release, newest first"
