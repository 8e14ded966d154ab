"""The organization in the emulated account: the lake account and its source accounts in one moto.

moto keeps a backend per account, and a request signed with credentials that STS AssumeRole
issued acts in the assumed role's account. So the lake's functions, once they assume a source
account's access role, reach that account's RDS; the emulated account reaches each source
account the same way (``account_client``), to set it up and to look inside it.

Set up only when the lake deploys with source accounts (``SourceAccountIds``, or the account's
``source_accounts`` option): a single-account deployment builds none of this.

Each source account gets:

- its clusters (``data.SOURCE_ACCOUNT_CLUSTERS``) and an RDS simulator of its own;
- ``source-account.yaml`` deployed from the file, with the parameters the lake's deployment gives
  it: its roles with their policies, and its EventBridge rules (kept for ``eventbridge_sim``).

Across accounts, what AWS decides with resource policies is decided here with the policies the
templates deploy (``iam_policy.decide``): an export of a source account is written into the lake
bucket only when both the export role's policy and the lake's bucket and key policies allow it,
and an event reaches the lake's bus only when the lake's bus policy allows its sender.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulated_account import data, iam_policy
from emulated_account.template import Template, TemplateError

SOURCE_TEMPLATE_NAME = "source-account.yaml"
SOURCE_STACK_NAME = "aurora-lake-source"
# The role the emulated account assumes to act inside an account (as an organization's
# management account would, through the role AWS Organizations creates in each member).
SETUP_ROLE_NAME = "OrganizationAccountAccessRole"
# Resource types of the source template the emulated account knows how to deploy.
_SOURCE_RESOURCE_TYPES = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::Events::Rule", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy"}


class OrganizationError(ValueError):
    """The organization's parameters or templates do not make a deployment the emulated account can build."""


def parse_source_clusters(text: str, account_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``SourceAccountClusters`` (``ACCOUNT:cluster,...``) as the allowed clusters of each account."""
    allowed: dict[str, list[str]] = {account: [] for account in account_ids}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        account, separator, cluster = entry.partition(":")
        if not separator or account not in allowed or not cluster:
            raise OrganizationError(f"SourceAccountClusters entry {entry!r} is not ACCOUNT:cluster of an account in SourceAccountIds {list(account_ids)}")
        allowed[account].append(cluster)
    return {account: tuple(clusters) for account, clusters in allowed.items()}


def account_client(service: str, account_id: str, region: str) -> Any:
    """A client acting in ``account_id`` (never faulted, never recorded), through STS AssumeRole."""
    import boto3

    from emulated_account.faults import INTERNAL_ATTRIBUTE

    sts = boto3.client("sts", region_name=region)
    setattr(sts, INTERNAL_ATTRIBUTE, True)
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{SETUP_ROLE_NAME}", RoleSessionName="emulated-account-setup")["Credentials"]
    client = boto3.client(
        service,
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    setattr(client, INTERNAL_ATTRIBUTE, True)
    return client


@dataclass
class SourceAccount:
    """One source account as deployed: its template and the EventBridge rules it created."""

    account_id: str
    allowed_clusters: tuple[str, ...]
    template: Template
    # (logical id, resolved properties) of each enabled rule of the source template.
    rules: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Organization:
    """The lake's source accounts and the resource policies that decide what crosses accounts."""

    lake_account_id: str
    region: str
    sources: dict[str, SourceAccount]
    bucket_policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # bucket name -> policy
    key_policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # key ARN -> policy
    bus_policy: dict[str, Any] = field(default_factory=dict)  # the lake's default bus

    @property
    def lake_bus_arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.lake_account_id}:event-bus/default"

    # -- what crosses accounts -------------------------------------------------------------------
    def role_policy(self, role_arn: str) -> iam_policy.Policy:
        """The identity policies of a role as IAM holds them in the role's account."""
        from moto.iam.models import iam_backends

        account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
        role = next((r for r in iam_backends[account]["global"].roles.values() if r.name == name), None)
        if role is None:
            raise OrganizationError(f"role {role_arn} does not exist in account {account}")
        documents = [_as_document(policy) for policy in role.policies.values()]
        return iam_policy.Policy.of(documents)

    def export_write_refusal(self, role_arn: str, bucket: str, key: str, kms_key_arn: str) -> str | None:
        """Why RDS, writing with ``role_arn``, may not put ``key`` into the lake's ``bucket``; None when it may."""
        who = iam_policy.Principal(arn=role_arn)
        identity = self.role_policy(role_arn)
        context = {"aws:SecureTransport": "true"}
        put = iam_policy.Request("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", context, "RDS writes the export")
        bucket_policy = iam_policy.ResourcePolicy.of(self.bucket_policies.get(bucket))
        if not iam_policy.decide(who, put, identity, bucket_policy, self.lake_account_id):
            return f"S3 refused s3:PutObject of s3://{bucket}/{key} to {role_arn}: the lake bucket's policy and the role's policy must both allow it."
        generate = iam_policy.Request("kms:GenerateDataKey", kms_key_arn, {}, "S3 encrypts the export with the lake key")
        key_policy = iam_policy.ResourcePolicy.of(self.key_policies.get(kms_key_arn))
        if not iam_policy.decide(who, generate, identity, key_policy, self.lake_account_id):
            return f"KMS refused kms:GenerateDataKey on {kms_key_arn} to {role_arn}: the lake key's policy and the role's policy must both allow it."
        return None

    def bus_accepts(self, sender_account: str, role_arn: str | None) -> bool:
        """Whether the lake's default bus takes an event put by ``sender_account`` (with ``role_arn``)."""
        if sender_account == self.lake_account_id:
            return True
        who = iam_policy.Principal(arn=role_arn or f"arn:aws:iam::{sender_account}:root")
        request = iam_policy.Request("events:PutEvents", self.lake_bus_arn, {}, "a rule of another account forwards an event")
        identity = self.role_policy(role_arn) if role_arn else None
        policy = iam_policy.ResourcePolicy.of(self.bus_policy)
        if identity is None:
            return policy.verdict(who, request) == "allow"
        return iam_policy.decide(who, request, identity, policy, self.lake_account_id)


def dead_letter(queue_arn: str, event: dict[str, Any], rule_arn: str, target_arn: str, message: str) -> None:
    """EventBridge keeps an event it could not deliver in the target's dead-letter queue.

    The body is the event; the attributes name the rule, the target and the error (EventBridge
    User Guide, "Using dead-letter queues"). UNCONFIRMED which ERROR_CODE a bus policy refusal
    gets: CROSS_ACCOUNT_INGESTION_FAILED, the documented code that names the case.
    """
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = queue_arn.split(":", 5)
    attributes = {
        key: {"DataType": "String", "StringValue": value}
        for key, value in (("RULE_ARN", rule_arn), ("TARGET_ARN", target_arn), ("ERROR_CODE", "CROSS_ACCOUNT_INGESTION_FAILED"), ("ERROR_MESSAGE", message))
    }
    sqs_backends[account][region].send_message(name, json.dumps(event), message_attributes=attributes)


def _as_document(policy: Any) -> dict[str, Any]:
    document = getattr(policy, "policy_document", policy)
    return json.loads(document) if isinstance(document, str) else dict(document)


def source_template_parameters(lake: Template, bucket: str, kms_key_arn: str, allowed: Sequence[str], declared: Mapping[str, Any]) -> dict[str, str]:
    """The parameters the lake's deployment gives ``source-account.yaml`` (only those it declares)."""
    values = {
        "LakeAccountId": lake.account_id,
        "LakeStackName": lake.stack_name,
        "LakeBucketName": bucket,
        "LakeKmsKeyArn": kms_key_arn,
        "AllowedClusterIdentifiers": ",".join(allowed),
    }
    for name in ("ExportPrefix", "SourceAccessRoleName", "SourceExportRoleName"):
        if name in (lake.document.get("Parameters") or {}):
            values["LakeExportPrefix" if name == "ExportPrefix" else name] = str(lake.parameter(name))
    missing = {"LakeAccountId", "LakeStackName", "LakeBucketName", "LakeKmsKeyArn", "AllowedClusterIdentifiers"} - set(declared)
    if missing:
        raise OrganizationError(f"{SOURCE_TEMPLATE_NAME} does not declare the parameters {sorted(missing)} the lake gives it")
    return {name: value for name, value in values.items() if name in declared}


def deploy_source_account(path: Path, account_id: str, parameters: dict[str, str], region: str) -> SourceAccount:
    """Deploy ``source-account.yaml`` in ``account_id``: its roles and policies in IAM, its rules kept."""
    from emulated_account.template import load

    document = load(path)
    template = Template(path, document=document, parameters=parameters, stack_name=SOURCE_STACK_NAME, region=region, account_id=account_id)
    unknown = {r.get("Type") for lid, r in template.resources.items() if template.is_created(lid)} - _SOURCE_RESOURCE_TYPES
    if unknown:
        raise TemplateError(f"{path.name} creates {sorted(map(str, unknown))}, which the emulated account does not deploy")
    iam = account_client("iam", account_id, region)
    for logical_id, resource in template.resources_of_type("AWS::IAM::Role").items():
        properties = resource.get("Properties") or {}
        name = template.physical_name(logical_id)
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(template.resolve(properties.get("AssumeRolePolicyDocument", {}))))
        for policy in template.resolve(properties.get("Policies") or []):
            iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"]))
    for logical_id, resource in template.resources_of_type("AWS::IAM::Policy").items():
        properties = template.resolve(resource.get("Properties") or {})
        for role in properties.get("Roles") or []:
            iam.put_role_policy(RoleName=str(role).rsplit("/", 1)[-1], PolicyName=properties["PolicyName"], PolicyDocument=json.dumps(properties["PolicyDocument"]))
    sqs = account_client("sqs", account_id, region)
    for logical_id, resource in template.resources_of_type("AWS::SQS::Queue").items():
        sqs.create_queue(QueueName=template.physical_name(logical_id))
    for logical_id, resource in template.resources_of_type("AWS::SQS::QueuePolicy").items():
        properties = template.resolve(resource.get("Properties") or {})
        for queue_url in properties.get("Queues") or []:
            sqs.set_queue_attributes(QueueUrl=str(queue_url), Attributes={"Policy": json.dumps(properties["PolicyDocument"])})
    rules = []
    for logical_id, resource in template.resources_of_type("AWS::Events::Rule").items():
        properties = template.resolve(resource.get("Properties") or {})
        if properties.get("State", "ENABLED") == "ENABLED" and "EventPattern" in properties:
            rules.append((logical_id, properties))
    allowed = tuple(c for c in parameters.get("AllowedClusterIdentifiers", "").split(",") if c)
    return SourceAccount(account_id, allowed, template, rules)


def clusters_of(account_id: str) -> tuple[data.Cluster, ...]:
    """The clusters that exist in a source account."""
    if account_id not in data.SOURCE_ACCOUNT_CLUSTERS:
        raise OrganizationError(f"the emulated organization has no source account {account_id}; it has {sorted(data.SOURCE_ACCOUNT_CLUSTERS)}")
    return data.SOURCE_ACCOUNT_CLUSTERS[account_id]


def load_parameters(path: Path) -> dict[str, Any]:
    """The parameters ``path`` declares."""
    from emulated_account.template import load

    return dict(load(path).get("Parameters") or {})


def principal_of(access_key: str) -> tuple[str, str | None]:
    """The account an access key acts in, and the role it was issued for (None: not an assumed role)."""
    from moto.iam.models import get_account_id_from, iam_backends

    account = get_account_id_from(access_key)
    key = iam_backends[account]["aws"].access_keys.get(access_key)
    return account, getattr(key, "role_arn", None) or None


@contextlib.contextmanager
def assume_role_judged(organization: Callable[[], Organization | None], caller_role: Callable[[], str | None]) -> Iterator[None]:
    """STS AssumeRole into another account as IAM decides it, for the workflow's own calls.

    moto's STS issues credentials for any role, existing or not. Here, when a function of the
    lake (``caller_role``: its role ARN, None outside the workflow) assumes a role of another
    account, the caller's identity policy and the role's trust policy must both allow it, and the
    role must exist; otherwise AccessDenied, with the message AWS gives.
    """
    from unittest import mock

    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend

    from emulated_account import fidelity

    original = STSBackend.assume_role
    # moto warns that AccessDenied is not in the STS model; the ledger has it (common IAM error).
    # A process-wide filter, as rds_sim's for its quota code, for the same reason.
    import warnings

    warnings.filterwarnings("ignore", message=r".*STSClientError.*AccessDenied.*")

    def assume_role(backend: Any, region_name: str, role_session_name: str, role_arn: str, *args: Any, **kwargs: Any) -> Any:
        org, caller = organization(), caller_role()
        target_account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
        if org is not None and caller is not None and target_account != org.lake_account_id:
            role = next((r for r in iam_backends[target_account]["aws"].roles.values() if r.arn == role_arn), None) if target_account else None
            allowed = False
            if role is not None:
                trust = iam_policy.ResourcePolicy.of(_as_document(role.assume_role_policy_document), trust=True)
                request = iam_policy.Request("sts:AssumeRole", role_arn, {"aws:ResourceAccount": target_account})
                allowed = iam_policy.decide(iam_policy.Principal(arn=caller), request, org.role_policy(caller), trust, target_account)
            if not allowed:
                session = f"arn:aws:sts::{org.lake_account_id}:assumed-role/{caller.rsplit('/', 1)[-1]}/{role_session_name}"
                code = fidelity.check_code("sts", "AssumeRole", "AccessDenied")
                error = STSClientError(code, f"User: {session} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
                error.code = code
                raise error
        return original(backend, region_name, role_session_name, role_arn, *args, **kwargs)

    with mock.patch.object(STSBackend, "assume_role", assume_role):
        yield
