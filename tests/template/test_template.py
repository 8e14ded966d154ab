"""What template.yaml deploys, read after the SAM transform as CloudFormation receives it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tools.cfn_resolve import Resolver
from tools.sam_translate import REPO_ROOT

FUNCTIONS = {
    "ValidateInputFunction": "validate_input",
    "CreateSnapshotFunction": "create_snapshot",
    "CheckSnapshotFunction": "check_snapshot",
    "StartExportFunction": "start_export",
    "CheckExportFunction": "check_export",
    "CreateAthenaTablesFunction": "create_athena_tables",
    "DeleteSnapshotFunction": "delete_snapshot",
    "NotifyFunction": "notify",
    "WakeExportWaitFunction": "wake_export_wait",
    "FleetFunction": "fleet",
    "ListSourcesFunction": "list_sources",
    "RouteTriggerFunction": "route_trigger",
}
ALLOWED = "orders-prod,billing"
ARN_PREFIX = "arn:aws:rds:us-east-1:123456789012"

# Actions granted on "*", each because it supports no resource-level permission (or, for
# DescribeExportTasks, because a lookup by task identifier names no resource).
STAR_ACTIONS = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions",
    "xray:GetSamplingRules": "X-Ray has no resource-level permissions (state machine tracing reads sampling rules)",
    "xray:GetSamplingTargets": "X-Ray has no resource-level permissions (state machine tracing reads sampling targets)",
    "logs:CreateLogDelivery": "log delivery actions have no resource-level permissions",
    "logs:GetLogDelivery": "log delivery actions have no resource-level permissions",
    "logs:UpdateLogDelivery": "log delivery actions have no resource-level permissions",
    "logs:DeleteLogDelivery": "log delivery actions have no resource-level permissions",
    "logs:ListLogDeliveries": "log delivery actions have no resource-level permissions",
    "logs:PutResourcePolicy": "account-level CloudWatch Logs resource policy used by log delivery",
    "logs:DescribeResourcePolicies": "account-level CloudWatch Logs resource policy used by log delivery",
    "logs:DescribeLogGroups": "listing log groups is not resource-scoped",
    "rds:DescribeExportTasks": "a lookup by export task identifier names no source ARN",
    "states:SendTaskSuccess": "a task token names no resource; the IAM reference gives the action no resource type",
}


@pytest.fixture(scope="module")
def resolver(cfn: dict[str, Any]) -> Resolver:
    return Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED})


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _role_statements(resolver: Resolver, role: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for policy in resolver.resolve(role["Properties"].get("Policies", [])):
        document = policy["PolicyDocument"]
        statements += document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- storage and encryption ---------------------------------------------------------


def test_export_bucket_is_encrypted_private_versioned_and_retained(cfn: dict[str, Any], resolver: Resolver) -> None:
    bucket = cfn["Resources"]["ExportBucket"]
    props = resolver.resolve(bucket["Properties"])
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "<ExportKey.Arn>"}
    assert rule["BucketKeyEnabled"] is True
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"


def test_bucket_policy_denies_every_request_without_tls(cfn: dict[str, Any], resolver: Resolver) -> None:
    document = resolver.resolve(cfn["Resources"]["ExportBucketPolicy"]["Properties"]["PolicyDocument"])
    denies = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert any(
        s["Principal"] == "*"
        and s["Action"] == "s3:*"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        and set(s["Resource"]) == {"<ExportBucket.Arn>", "<ExportBucket.Arn>/*"}
        for s in denies
    )


def test_key_is_symmetric_rotated_retained_and_has_no_open_principal(cfn: dict[str, Any]) -> None:
    key = cfn["Resources"]["ExportKey"]
    props = key["Properties"]
    assert props["EnableKeyRotation"] is True
    assert props["KeySpec"] == "SYMMETRIC_DEFAULT" and props["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert key["DeletionPolicy"] == "Retain"
    # With an organization, so that its statements are checked too: an open principal only in a
    # Deny, or narrowed to this lake's roles of one organization.
    with_sources = Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED, "OrganizationId": "o-a1b2c3d4e5"})
    for statement in with_sources.resolve(props["KeyPolicy"])["Statement"]:
        principal = statement["Principal"]
        if statement["Effect"] == "Deny":  # the one Deny (CT.KMS.PR.3) names everyone it refuses
            assert statement["Sid"] == "DenyGrantsNotForAwsServices" and statement["Action"] == "kms:CreateGrant", statement
            continue
        if principal == "*" or principal.get("AWS") == "*":
            assert statement["Effect"] == "Deny" or (
                statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == "o-a1b2c3d4e5"
                and statement["Condition"]["ArnLike"]["aws:PrincipalArn"].endswith(("-source-access-us-east-1", "-source-export-us-east-1"))
            ), statement
        if "Service" in principal:
            assert statement.get("Condition"), f"service statement {statement['Sid']} must be narrowed"
    assert _of_type(cfn, "AWS::KMS::Alias")


def test_existing_bucket_and_key_replace_the_created_ones(cfn: dict[str, Any]) -> None:
    existing = Resolver(cfn, {
        "AllowedClusterIdentifiers": ALLOWED,
        "ExistingExportBucketName": "my-exports",
        "ExistingKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    })
    for name in ("ExportBucket", "ExportBucketPolicy", "ExportKey", "ExportKeyAlias"):
        assert not existing.resource_exists(name)
    env = existing.resolve(cfn["Resources"]["StartExportFunction"]["Properties"]["Environment"]["Variables"])
    assert env["EXPORT_BUCKET"] == "my-exports"
    assert env["EXPORT_KMS_KEY_ARN"].endswith(":key/1234abcd-12ab-34cd-56ef-1234567890ab")


def test_topic_and_athena_results_are_encrypted_with_the_key(cfn: dict[str, Any], resolver: Resolver) -> None:
    topic = resolver.resolve(cfn["Resources"]["NotificationTopic"]["Properties"])
    assert topic["KmsMasterKeyId"] == "<ExportKey.Arn>"
    workgroup = resolver.resolve(cfn["Resources"]["AthenaWorkGroup"]["Properties"])["WorkGroupConfiguration"]
    assert workgroup["EnforceWorkGroupConfiguration"] is True
    assert workgroup["ResultConfiguration"]["OutputLocation"] == "s3://<ExportBucket>/athena-results/"
    assert workgroup["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_KMS", "KmsKey": "<ExportKey.Arn>"}


def test_email_subscription_only_with_an_address(cfn: dict[str, Any], resolver: Resolver) -> None:
    assert not resolver.resource_exists("NotificationEmailSubscription")
    with_email = Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED, "NotificationEmail": "ops@example.com"})
    assert with_email.resource_exists("NotificationEmailSubscription")


# --- functions, logs and the state machine ---------------------------------------------


def test_every_step_is_an_arm64_python313_function_built_by_the_makefile(cfn: dict[str, Any], sam: dict[str, Any]) -> None:
    lambdas = _of_type(cfn, "AWS::Lambda::Function")
    assert set(lambdas) == set(FUNCTIONS)
    makefile = (REPO_ROOT / "Makefile").read_text()
    for name, folder in FUNCTIONS.items():
        props = lambdas[name]["Properties"]
        assert props["Runtime"] == "python3.13", name
        assert props["Architectures"] == ["arm64"], name
        assert props["Handler"] == "app.lambda_handler", name
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert sam["Resources"][name]["Properties"]["CodeUri"] == f"functions/{folder}/"
        assert sam["Resources"][name]["Metadata"]["BuildMethod"] == "makefile"
        assert re.search(rf"^build-{name}:\n\t\$\(call package_function,{folder}\)$", makefile, re.M), name


def test_every_function_logs_to_its_own_group_with_retention(cfn: dict[str, Any]) -> None:
    groups = _of_type(cfn, "AWS::Logs::LogGroup")
    used = set()
    for name in FUNCTIONS:
        group = cfn["Resources"][name]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert group in groups and group not in used, name
        used.add(group)
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}, name


def test_functions_get_the_environment_of_the_design(cfn: dict[str, Any], resolver: Resolver) -> None:
    expected = {
        "ValidateInputFunction": {"ALLOWED_CLUSTERS", "DEFAULT_S3_PREFIX"},
        "CreateSnapshotFunction": {"SNAPSHOT_DEADLINE_SECONDS"},
        "CheckSnapshotFunction": {"SNAPSHOT_DEADLINE_SECONDS", "ALLOWED_CLUSTERS"},
        "StartExportFunction": {"EXPORT_BUCKET", "EXPORT_KMS_KEY_ARN", "EXPORT_ROLE_ARN"},
        "CheckExportFunction": {"EXPORT_DEADLINE_SECONDS"},
        "CreateAthenaTablesFunction": {"EXPORT_BUCKET", "GLUE_DATABASE", "ATHENA_WORKGROUP", "MAX_TABLES_PER_SOURCE",
                                       "FAIL_ON_PARTIAL_EXPORT", "EXPORT_EXPIRATION_DAYS"},
        "NotifyFunction": {"TOPIC_ARN", "GLUE_DATABASE", "ATHENA_WORKGROUP", "EXPORT_BUCKET"},
        "FleetFunction": {"EXPORT_BUCKET", "TOPIC_ARN", "FLEET_MAX_CONCURRENCY", "FLEET_MAX_ACCOUNTS", "EXPORT_STATE_MACHINE_ARN",
                          "FRESHNESS_ALARM_HOURS", "GLUE_DATABASE", "DEFAULT_S3_PREFIX"},
        "RouteTriggerFunction": {"STATE_MACHINE_ARN", "DEFAULT_S3_PREFIX", "ALLOWED_CLUSTERS", "ALLOWED_DB_INSTANCES"},
    }
    for name in FUNCTIONS:
        env = resolver.resolve(cfn["Resources"][name]["Properties"]["Environment"]["Variables"])
        assert env["POWERTOOLS_SERVICE_NAME"] == "aurora-lake"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "AuroraLake"
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert expected.get(name, set()) <= set(env), name
    all_defaults = resolver.resolve(cfn["Resources"]["CreateAthenaTablesFunction"]["Properties"]["Environment"]["Variables"])
    assert all_defaults["MAX_TABLES_PER_SOURCE"] == "5000" and all_defaults["FAIL_ON_PARTIAL_EXPORT"] == "false"


def test_state_machine_is_standard_logged_traced_and_fully_substituted(cfn: dict[str, Any]) -> None:
    machine = cfn["Resources"]["ExportStateMachine"]["Properties"]
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    logging = machine["LoggingConfiguration"]
    assert logging["Level"] in ("ALL", "ERROR", "FATAL")
    group = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert cfn["Resources"][group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    asl = (REPO_ROOT / "statemachine/export_to_data_lake.asl.json").read_text()
    assert machine["Definition"] == json.loads(asl)
    placeholders = set(re.findall(r"\$\{(\w+)\}", asl))
    assert set(machine["DefinitionSubstitutions"]) == placeholders
    substitutions = dict(machine["DefinitionSubstitutions"])
    # The export wait's token goes to the export bucket, in this stack's folder.
    assert substitutions.pop("ExportBucketName") == {"Fn::If": ["CreateExportBucket", {"Ref": "ExportBucket"}, {"Ref": "ExistingExportBucketName"}]}
    assert substitutions.pop("ExportWaitTokenPrefix") == {"Fn::Sub": "export-waits/${AWS::StackName}/"}
    assert substitutions.pop("Partition") == {"Ref": "AWS::Partition"}
    for key, value in substitutions.items():
        assert value == {"Fn::GetAtt": [key.removesuffix("Arn"), "Arn"]}


def test_outputs_name_everything_an_operator_needs(cfn: dict[str, Any]) -> None:
    assert {"StateMachineArn", "ExportBucketName", "ExportKeyArn", "NotificationTopicArn", "GlueDatabaseName",
            "AthenaWorkGroupName"} <= set(cfn["Outputs"])


# --- triggers -------------------------------------------------------------------------


def test_both_triggers_are_off_by_default(cfn: dict[str, Any], resolver: Resolver) -> None:
    for name in ("ExportSchedule", "ScheduleRole", "SnapshotCreatedRule", "RouteTriggerFunction", "RouteTriggerRole"):
        assert "Condition" in cfn["Resources"][name], name
        assert not resolver.resource_exists(name), name


def test_schedule_starts_the_state_machine_with_the_cluster(cfn: dict[str, Any]) -> None:
    on = Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED, "EnableSchedule": "true",
                        "ScheduleClusterIdentifier": "orders-prod", "ScheduleTimezone": "Europe/Paris"})
    assert on.resource_exists("ExportSchedule")
    schedule = on.resolve(cfn["Resources"]["ExportSchedule"]["Properties"])
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert schedule["Target"]["Arn"] == "<ExportStateMachine>"
    assert json.loads(schedule["Target"]["Input"]) == {"cluster_identifier": "orders-prod"}
    statements = _role_statements(on, cfn["Resources"]["ScheduleRole"])
    assert statements == [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": "<ExportStateMachine>"},
                          {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "<TriggerDeadLetterQueue.Arn>"}]
    # A start the state machine refuses past the retries goes to the dead-letter queue, never nowhere.
    assert schedule["Target"]["DeadLetterConfig"] == {"Arn": "<TriggerDeadLetterQueue.Arn>"}


@pytest.mark.parametrize("parameters", [{"EnableSchedule": "true"}, {"EnableSnapshotEventTrigger": "true"}, {"EnableAwsBackupTrigger": "true"}])
def test_trigger_dead_letters_are_encrypted_kept_and_alarmed(cfn: dict[str, Any], parameters: dict[str, str]) -> None:
    on = Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED, "ScheduleClusterIdentifier": "orders-prod", **parameters})
    assert on.resource_exists("TriggerDeadLetterQueue") and on.resource_exists("TriggerDeadLettersAlarm")
    queue = on.resolve(cfn["Resources"]["TriggerDeadLetterQueue"]["Properties"])
    assert queue["SqsManagedSseEnabled"] is True and queue["MessageRetentionPeriod"] == 1209600
    alarm = on.resolve(cfn["Resources"]["TriggerDeadLettersAlarm"]["Properties"])
    assert alarm["AlarmActions"] == ["<NotificationTopic>"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": "<TriggerDeadLetterQueue.QueueName>"}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["EvaluationPeriods"]) == ("GreaterThanOrEqualToThreshold", 1, 1)
    statements = on.resolve(cfn["Resources"]["TriggerDeadLetterQueuePolicy"]["Properties"])["PolicyDocument"]["Statement"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s.get("Condition") for s in statements if s["Effect"] == "Deny"]
    senders = [s for s in statements if s["Effect"] == "Allow"]
    rule = {"EnableSnapshotEventTrigger": "SnapshotCreatedRule", "EnableAwsBackupTrigger": "AwsBackupJobCompletedRule"}.get(next(iter(parameters)))
    if rule:
        [sender] = senders  # EventBridge, for this rule only
        assert sender["Principal"] == {"Service": "events.amazonaws.com"} and sender["Action"] == "sqs:SendMessage"
        assert sender["Condition"] == {"ArnEquals": {"aws:SourceArn": f"<{rule}.Arn>"}}
        [target] = on.resolve(cfn["Resources"][rule]["Properties"])["Targets"]
        assert target["DeadLetterConfig"] == {"Arn": "<TriggerDeadLetterQueue.Arn>"}
    else:
        assert senders == []  # the schedule sends with its own role


def test_every_queue_has_an_alarm_on_its_depth_deployed_with_it(cfn: dict[str, Any]) -> None:
    """Every queue here is a dead-letter queue: a message in it is something that did not happen."""
    resources = cfn["Resources"]
    queues = {name: r.get("Condition") for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    alarmed = {}
    for alarm in (r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"):
        properties = alarm["Properties"]
        if (properties.get("Namespace"), properties.get("MetricName")) != ("AWS/SQS", "ApproximateNumberOfMessagesVisible"):
            continue
        [dimension] = properties["Dimensions"]
        assert dimension["Name"] == "QueueName" and properties["Threshold"] == 1
        alarmed[dimension["Value"]["Fn::GetAtt"][0]] = alarm.get("Condition")
    assert len(queues) >= 2
    assert alarmed == queues


def test_no_trigger_no_dead_letter_queue(cfn: dict[str, Any]) -> None:
    off = Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED})
    assert not off.resource_exists("TriggerDeadLetterQueue") and not off.resource_exists("TriggerDeadLettersAlarm")


@pytest.mark.parametrize(
    ("types", "events"),
    [("manual", ["RDS-EVENT-0075"]), ("automated", ["RDS-EVENT-0169"]), ("both", ["RDS-EVENT-0075", "RDS-EVENT-0169"])],
)
def test_snapshot_rule_sends_the_event_as_it_is_to_the_trigger_router(
    cfn: dict[str, Any], types: str, events: list[str]
) -> None:
    on = Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED, "EnableSnapshotEventTrigger": "true", "SnapshotEventTypes": types})
    rule = on.resolve(cfn["Resources"]["SnapshotCreatedRule"]["Properties"])
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.rds"] and pattern["detail-type"] == ["RDS DB Cluster Snapshot Event"]
    assert pattern["detail"]["EventID"] == events
    (target,) = rule["Targets"]
    # The router builds the input itself: no transformer, no role (a Lambda target is allowed by
    # the function's resource policy), the rule's retries and dead-letter queue kept.
    assert target == {"Id": "RouteTrigger", "Arn": "<RouteTriggerFunction.Arn>",
                      "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3},
                      "DeadLetterConfig": {"Arn": "<TriggerDeadLetterQueue.Arn>"}}
    permission = on.resolve(cfn["Resources"]["SnapshotCreatedRulePermission"]["Properties"])
    assert permission == {"Action": "lambda:InvokeFunction", "FunctionName": "<RouteTriggerFunction.Arn>",
                          "Principal": "events.amazonaws.com", "SourceArn": "<SnapshotCreatedRule.Arn>"}


def test_the_trigger_router_may_start_only_the_export_and_keep_failed_events(cfn: dict[str, Any]) -> None:
    on = Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED, "EnableAwsBackupTrigger": "true"})
    function = on.resolve(cfn["Resources"]["RouteTriggerFunction"]["Properties"])
    # Invoked asynchronously: an event it keeps failing on lands in the trigger dead-letter queue.
    assert function["DeadLetterConfig"] == {"TargetArn": "<TriggerDeadLetterQueue.Arn>"}
    statements = {s["Sid"]: s for s in _role_statements(on, cfn["Resources"]["RouteTriggerRole"])}
    assert set(statements) == {"WriteOwnLogs", "WriteTraces", "StartExports", "KeepFailedStarts"}
    assert (statements["StartExports"]["Action"], statements["StartExports"]["Resource"]) == ("states:StartExecution", "<ExportStateMachine>")
    assert (statements["KeepFailedStarts"]["Action"], statements["KeepFailedStarts"]["Resource"]) == ("sqs:SendMessage", "<TriggerDeadLetterQueue.Arn>")
    # Every rule that targets it has its own permission, and the rules' roles are gone.
    assert not {"SnapshotEventRuleRole", "AwsBackupRuleRole"} & set(cfn["Resources"])
    for rule in ("SnapshotCreatedRule", "DBSnapshotCreatedRule", "AwsBackupJobCompletedRule", "SourceSnapshotCreatedRule",
                 "SourceAwsBackupJobCompletedRule"):
        targets = cfn["Resources"][rule]["Properties"]["Targets"]
        assert [t["Arn"] for t in targets] == [{"Fn::GetAtt": ["RouteTriggerFunction", "Arn"]}], rule
        assert cfn["Resources"][f"{rule}Permission"]["Properties"]["SourceArn"] == {"Fn::GetAtt": [rule, "Arn"]}, rule


# --- the fleet --------------------------------------------------------------------------


def test_the_fleet_state_machine_is_wired_to_its_functions_bucket_and_the_export(cfn: dict[str, Any], resolver: Resolver) -> None:
    machine = cfn["Resources"]["FleetStateMachine"]["Properties"]
    asl = (REPO_ROOT / "statemachine/export_fleet.asl.json").read_text()
    assert machine["Definition"] == json.loads(asl)
    assert set(machine["DefinitionSubstitutions"]) == set(re.findall(r"\$\{(\w+)\}", asl))
    assert resolver.resolve(machine["StateMachineName"]) == "aurora-lake-ExportFleet"
    states = json.loads(asl)["States"]
    accounts = states["ExportEachAccount"]
    # Items never travel in the state: read from S3, results written to S3, in this run's folder.
    assert accounts["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert accounts["ItemReader"]["Parameters"] == {"Bucket": "${ExportBucketName}", "Key.$": "$.fleet.accounts_key"}
    assert accounts["ResultWriter"]["Parameters"] == {"Bucket": "${ExportBucketName}",
                                                     "Prefix.$": "States.Format('fleet-runs/{}/results', $$.Execution.Name)"}
    assert accounts["MaxConcurrencyPath"] == "$.fleet.max_accounts" and accounts["ToleratedFailurePercentage"] == 100
    sources = accounts["ItemProcessor"]["States"]["ExportEachSource"]
    assert sources["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"} and sources["MaxConcurrencyPath"] == "$.max_concurrency"


def _statements_by_sid(resolver: Resolver, cfn: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in _role_statements(resolver, cfn["Resources"][role])}


def test_the_fleet_state_machine_role_runs_its_own_children_and_reads_and_writes_only_its_runs_folder(cfn: dict[str, Any], resolver: Resolver) -> None:
    statements = _statements_by_sid(resolver, cfn, "FleetStateMachineRole")
    own = "arn:aws:states:us-east-1:123456789012:stateMachine:aurora-lake-ExportFleet"
    assert statements["RunAccountChildWorkflows"]["Action"] == "states:StartExecution"
    assert statements["RunAccountChildWorkflows"]["Resource"] == own
    assert statements["FollowAndStopAccountChildWorkflows"]["Resource"] == own.replace(":stateMachine:", ":execution:") + "/*"
    assert statements["StartExportExecutions"]["Resource"] == "<ExportStateMachine>"
    assert statements["ReadItemsWriteResults"]["Resource"] == "arn:aws:s3:::<ExportBucket>/fleet-runs/*"
    assert set(statements["InvokeFleetFunctions"]["Resource"]) == {"<FleetFunction.Arn>", "<ListSourcesFunction.Arn>", "<NotifyFunction.Arn>"}
    # Nothing else of the bucket, and no other state machine.
    s3 = [r for s in statements.values() for r in _as_list(s["Resource"]) if str(r).startswith("arn:aws:s3")]
    assert s3 == ["arn:aws:s3:::<ExportBucket>/fleet-runs/*"]
    starts = [r for s in statements.values() if "states:StartExecution" in _as_list(s["Action"]) for r in _as_list(s["Resource"])]
    assert sorted(starts) == sorted([own, "<ExportStateMachine>"])


def test_the_fleet_function_reads_and_writes_only_the_fleet_s_folders(cfn: dict[str, Any], resolver: Resolver) -> None:
    statements = _statements_by_sid(resolver, cfn, "FleetRole")
    bucket = "arn:aws:s3:::<ExportBucket>"
    by_action: dict[str, set[str]] = {}
    for statement in statements.values():
        for action in _as_list(statement["Action"]):
            by_action.setdefault(action, set()).update(_as_list(statement["Resource"]))
    assert by_action["s3:PutObject"] == {f"{bucket}/fleet-runs/*", f"{bucket}/reports/fleets/*", f"{bucket}/reports/freshness/*",
                                         f"{bucket}/reports/sources/*"}
    assert by_action["s3:GetObject"] == {f"{bucket}/fleet-runs/*", f"{bucket}/state/last-success/*"}
    assert by_action["s3:ListBucket"] == {bucket}
    assert statements["ListLastSuccesses"]["Condition"] == {"StringLike": {"s3:prefix": "state/last-success/*"}}
    assert by_action["sns:Publish"] == {"<NotificationTopic>"}
    assert not [a for a in by_action if a.startswith(("states:", "rds:", "glue:", "athena:", "sts:", "iam:", "organizations:"))]
    # With an organization, discovery: its accounts (read-only) and the access roles of this lake in it.
    org = Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED, "OrganizationId": "o-a1b2c3d4e5"})
    found = {sid: statement for sid, statement in _statements_by_sid(org, cfn, "FleetRole").items()}
    assert set(_as_list(found["ListOrganizationAccounts"]["Action"])) == {
        "organizations:DescribeOrganization", "organizations:ListAccounts", "organizations:ListAccountsForParent",
        "organizations:ListOrganizationalUnitsForParent"}
    assert found["AssumeSourceAccessRoles"]["Resource"].endswith(":role/<AWS::StackName>-source-access-<AWS::Region>") or \
        found["AssumeSourceAccessRoles"]["Resource"].endswith("-source-access-us-east-1")
    assert found["AssumeSourceAccessRoles"]["Condition"]["StringEquals"] == {"aws:ResourceOrgID": "o-a1b2c3d4e5"}
    # The inventory calls no AWS API; Notify writes only the freshness markers.
    assert set(_statements_by_sid(resolver, cfn, "ListSourcesRole")) == {"WriteOwnLogs", "WriteTraces"}
    notify = _statements_by_sid(resolver, cfn, "NotifyRole")
    assert sorted(r for s in notify.values() if "s3:PutObject" in _as_list(s["Action"]) for r in _as_list(s["Resource"])) == [
        f"{bucket}/reports/runs/*", f"{bucket}/state/last-success/*"]


def test_the_schedule_starts_the_fleet_over_every_source_the_lake_knows(cfn: dict[str, Any]) -> None:
    for source, expected in (("new", {"scheduled": True}), ("latest-automated", {"scheduled": True, "use_latest_automated_snapshot": True})):
        on = Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED, "EnableSchedule": "true", "ScheduleTarget": "fleet",
                            "ScheduleSnapshotSource": source})
        schedule = on.resolve(cfn["Resources"]["ExportSchedule"]["Properties"])
        assert schedule["Target"]["Arn"] == "<FleetStateMachine>" and json.loads(schedule["Target"]["Input"]) == expected


# --- IAM --------------------------------------------------------------------------------


def _all_role_statements(cfn: dict[str, Any], resolver: Resolver) -> dict[str, list[dict[str, Any]]]:
    on = Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED, "EnableSchedule": "true", "ScheduleClusterIdentifier": "billing",
                        "EnableSnapshotEventTrigger": "true"})
    return {name: _role_statements(on, role) for name, role in _of_type(cfn, "AWS::IAM::Role").items()}


def test_star_resources_only_for_actions_without_resource_level_permissions(cfn: dict[str, Any], resolver: Resolver) -> None:
    for role, statements in _all_role_statements(cfn, resolver).items():
        for statement in statements:
            if "*" in _as_list(statement["Resource"]):
                unexpected = set(_as_list(statement["Action"])) - set(STAR_ACTIONS)
                assert not unexpected, f"{role} grants {sorted(unexpected)} on '*'"
            for action in _as_list(statement["Action"]):
                assert "*" not in action.split(":", 1)[1] or action in ("s3:PutObject*", "s3:GetObject*", "s3:DeleteObject*",
                                                                         "kms:ReEncrypt*", "kms:GenerateDataKey*"), (role, action)


def test_pass_role_only_for_the_export_role(cfn: dict[str, Any], resolver: Resolver) -> None:
    passers = []
    for role, statements in _all_role_statements(cfn, resolver).items():
        for statement in statements:
            if any(action in ("iam:PassRole", "iam:*", "*") for action in _as_list(statement["Action"])):
                assert _as_list(statement["Resource"]) == ["<ExportRole.Arn>"], role
                passers.append(role)
    assert passers == ["StartExportRole"]


FUNCTION_VPC_POLICY = {"Fn::If": ["HasFunctionVpc", [{"Ref": "FunctionVpcAccessPolicy"}], {"Ref": "AWS::NoValue"}]}


def test_no_broad_managed_policies(cfn: dict[str, Any]) -> None:
    for name, role in _of_type(cfn, "AWS::IAM::Role").items():
        managed = role["Properties"].get("ManagedPolicyArns", [])
        if managed == FUNCTION_VPC_POLICY:  # the stack's own network-interface policy (tests/template/test_cfn_guard.py)
            continue
        # SAM attaches X-Ray write access to a traced state machine's role: writes only.
        allowed = [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess"},
                   "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"] if name == "ExportStateMachineRole" else []
        assert all(arn in allowed for arn in managed), (name, managed)


def test_export_role_is_trusted_by_rds_export_and_scoped_to_the_bucket(cfn: dict[str, Any], resolver: Resolver) -> None:
    role = resolver.resolve(cfn["Resources"]["ExportRole"]["Properties"])
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "export.rds.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    resources = {r for s in _role_statements(resolver, cfn["Resources"]["ExportRole"]) for r in _as_list(s["Resource"])}
    # It writes only in the exports area (ExportPrefix, "exports/" by default): never the stack's own folders.
    assert resources == {"arn:aws:s3:::<ExportBucket>", "arn:aws:s3:::<ExportBucket>/exports/*", "<ExportKey.Arn>"}


def _rds_resources(resolver: Resolver, cfn: dict[str, Any], role: str, action: str) -> set[str]:
    return {
        resource
        for statement in _role_statements(resolver, cfn["Resources"][role])
        if action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }


# Fn::Join takes only a literal delimiter, so the join-and-split ARNs name any partition, Region
# and account; each such statement pins the Region with aws:RequestedRegion (RDS has no
# resource-based policies, so another account's resources stay out of reach).
ANY_RDS = "arn:*:rds:*:*"
BACKUP_POINTS = f"{ARN_PREFIX}:cluster-snapshot:awsbackup:job-*"


def test_rds_permissions_name_exactly_the_allowed_clusters_and_their_snapshots(cfn: dict[str, Any], resolver: Resolver) -> None:
    clusters = {f"{ANY_RDS}:cluster:{c}" for c in ALLOWED.split(",")}
    own = {f"{ANY_RDS}:cluster-snapshot:{c}-lake-*" for c in ALLOWED.split(",")}
    manual = {f"{ANY_RDS}:cluster-snapshot:{c}-*" for c in ALLOWED.split(",")}
    automated = {f"{ANY_RDS}:cluster-snapshot:rds:{c}-*" for c in ALLOWED.split(",")}

    assert _rds_resources(resolver, cfn, "CreateSnapshotRole", "rds:CreateDBClusterSnapshot") == clusters | own
    assert _rds_resources(resolver, cfn, "CreateSnapshotRole", "rds:AddTagsToResource") == own
    assert _rds_resources(resolver, cfn, "CheckSnapshotRole", "rds:DescribeDBClusterSnapshots") == clusters | manual | automated | {BACKUP_POINTS}
    assert _rds_resources(resolver, cfn, "StartExportRole", "rds:StartExportTask") == clusters | manual | automated | {BACKUP_POINTS}
    assert _rds_resources(resolver, cfn, "DeleteSnapshotRole", "rds:DeleteDBClusterSnapshot") == own
    for role in ("CreateSnapshotRole", "CheckSnapshotRole", "StartExportRole", "DeleteSnapshotRole"):
        for statement in _role_statements(resolver, cfn["Resources"][role]):
            if any(r.startswith(ANY_RDS) for r in _as_list(statement["Resource"])):
                assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, (role, statement["Sid"])


@pytest.mark.parametrize("allowed", ["one", "a,b,c,d,e", ",".join(f"cluster-{n}" for n in range(20))])
def test_cluster_arns_name_only_allowed_clusters_for_one_to_twenty(cfn: dict[str, Any], allowed: str) -> None:
    resolver = Resolver(cfn, {"AllowedClusterIdentifiers": allowed})
    resources = _rds_resources(resolver, cfn, "DeleteSnapshotRole", "rds:DeleteDBClusterSnapshot")
    assert resources == {f"{ANY_RDS}:cluster-snapshot:{c}-lake-*" for c in allowed.split(",")}
    exported = _rds_resources(resolver, cfn, "StartExportRole", "rds:StartExportTask")
    assert {r for r in exported if ":cluster:" in r} == {f"{ANY_RDS}:cluster:{c}" for c in allowed.split(",")}


def test_each_function_role_writes_only_its_own_log_group(cfn: dict[str, Any], resolver: Resolver) -> None:
    for name in FUNCTIONS:
        role = cfn["Resources"][name]["Properties"]["Role"]["Fn::GetAtt"][0]
        group = cfn["Resources"][name]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        log_resources = {
            r for s in _role_statements(resolver, cfn["Resources"][role])
            if any(a.startswith("logs:") for a in _as_list(s["Action"])) for r in _as_list(s["Resource"])
        }
        assert log_resources == {f"<{group}.Arn>"}, name


# --- parameters -------------------------------------------------------------------------


def test_every_parameter_is_described_constrained_and_grouped(sam: dict[str, Any]) -> None:
    parameters = sam["Parameters"]
    for name, spec in parameters.items():
        assert spec.get("Description"), name
        assert {"AllowedPattern", "AllowedValues"} & set(spec) or {"MinValue", "MaxValue"} <= set(spec), name
        if "Default" in spec and "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], str(spec["Default"])), name
        if "Default" in spec and "AllowedValues" in spec:
            assert spec["Default"] in spec["AllowedValues"], name
    grouped = [p for group in sam["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"] for p in group["Parameters"]]
    assert sorted(grouped) == sorted(parameters)


@pytest.mark.parametrize(
    ("value", "valid"),
    [("demo-aurora-cluster", True), ("a,b,c,d,e", True), (",".join("c" + str(n) for n in range(20)), True),
     (",".join("c" + str(n) for n in range(21)), False), ("a--b", False), ("a-", False),
     ("1abc", False), ("a, b", False), ("", False)],
)
def test_allowed_clusters_pattern(sam: dict[str, Any], value: str, valid: bool) -> None:
    assert bool(re.fullmatch(sam["Parameters"]["AllowedClusterIdentifiers"]["AllowedPattern"], value)) is valid


def test_every_arn_is_built_with_the_partition() -> None:
    """No literal "arn:aws:" in the template or the state machines: aws-cn and aws-us-gov deploy them too."""
    for path in [REPO_ROOT / "template.yaml", *sorted((REPO_ROOT / "statemachine").glob("*.asl.json"))]:
        literal = [line.strip() for line in path.read_text().splitlines() if "arn:aws:" in line]
        assert literal == [], (path.name, literal)
