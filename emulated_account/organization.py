"""The organization in the emulated account: an AWS Organization with OUs, the lake and its source accounts.

moto keeps a backend per account, and a request signed with credentials that STS AssumeRole
issued acts in the assumed role's account. So the lake's functions, once they assume a source
account's access role, reach that account's RDS; the emulated account reaches each account the
same way (``account_client``), to set it up and to look inside it.

Set up when the lake deploys with ``OrganizationId`` (or the account's ``organization`` option):
a single-account deployment builds none of this.

- The organization is moto's organizations backend, with fixed IDs (``data``): a management
  account, OUs (Workloads > Production, Sandbox, Data), the lake account in Data, source accounts
  in Workloads and Production, a sandbox account outside the stack set's OUs, and a stranger
  outside the organization.
- ``source-account.yaml`` is deployed like a service-managed StackSet with automatic deployment
  (``StackSet``): one parameter set for every account; an account placed in a targeted OU (at any
  depth) gets the stack, an account that leaves them loses it (RetainStacksOnAccountRemoval false);
  the management account never gets it.
- Each source account has its clusters and DB instances (``data``), their owners' opt-in tags, and
  an RDS simulator of its own.

Across accounts, IAM decides as AWS would, with the policies the templates deploy
(``iam_policy``): the caller's identity policy and the resource's policy, with the organization's
condition keys read from moto's organizations backend and the resources' tags from moto's RDS:

- every RDS call the lake makes into a source account (``judged_calls``), against the access
  role's policy, AccessDenied with AWS's message when it does not allow it;
- StartExportTask's KMS checks with the caller's credentials (DescribeKey, CreateGrant for RDS);
- every action RDS performs on the lake's bucket and key when it writes an export (list, locate,
  put, get, delete, encrypt, generate data key, decrypt), with the export role
  (``export_write_refusal``): an export the policies would refuse ends FAILED and writes nothing;
- a KMS call by another account's principal on the lake's key (a grant to a third party);
- AssumeRole of a role of another account (``assume_role_judged``) and PutEvents onto the lake's
  bus (``bus_accepts``).
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
# What a service-managed stack set names its stack instances (StackSet-<stack set name>-<id>).
SOURCE_STACK_NAME = "StackSet-aurora-lake-source-0f1e2d3c"
# The role the emulated account assumes to act inside an account (as an organization's
# management account would, through the role AWS Organizations creates in each member).
SETUP_ROLE_NAME = "OrganizationAccountAccessRole"
# Resource types of the source template the emulated account knows how to deploy.
_SOURCE_RESOURCE_TYPES = {
    "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::Events::Rule", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy",
    "AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription", "AWS::CloudWatch::Alarm",
}
# RDS's wire code when IAM refuses a call (public code quoting the real messages, FIDELITY.md).
ACCESS_DENIED = "AccessDenied"


class OrganizationError(ValueError):
    """The organization's parameters or templates do not make a deployment the emulated account can build."""


def account_client(service: str, account_id: str, region: str) -> Any:
    """A client acting in ``account_id`` (never faulted, never recorded, never judged), through STS AssumeRole."""
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


# ---------------------------------------------------------------------------------------- the organization


def _organizations(account: str = data.MANAGEMENT_ACCOUNT_ID) -> Any:
    from moto.organizations.models import organizations_backends

    return organizations_backends[account]["aws"]


@contextlib.contextmanager
def _fixed_ids(**ids: Any) -> Iterator[None]:
    """moto's organizations IDs are random: the emulated organization's are the fixed ones of ``data``."""
    from unittest import mock

    from moto.organizations import utils

    with contextlib.ExitStack() as stack:
        for name, value in ids.items():
            stack.enter_context(mock.patch.object(utils, name, (lambda v: (lambda *args: v))(value)))
        yield


@dataclass(frozen=True)
class OrganizationLayout:
    """What the emulated organization holds: its OUs, member accounts, and each account's databases and tags.

    ``DEMO_LAYOUT`` is the demo's (``data``); ``scale_layout`` builds one of an organization's real
    size. ``joining`` accounts exist (their RDS and databases) but are not members yet: onboarding
    adds one (``Organization.add_account``).
    """

    units: tuple[tuple[str, str, str], ...]  # (OU, name, parent), parents first
    placement: Mapping[str, str]  # member account -> its OU
    clusters: Mapping[str, tuple[data.Cluster, ...]]
    db_instances: Mapping[str, tuple[data.DbInstance, ...]]
    # ACCOUNT:source -> the tags its owner set (aurora-lake:export, aurora-lake:schedule)
    tags: Mapping[str, tuple[tuple[str, str], ...]]
    copy_tags_to_snapshot: frozenset[str]
    target_ous: tuple[str, ...]  # the OUs the stack set of source-account.yaml targets
    joining: Mapping[str, str] = field(default_factory=dict)  # account not yet a member -> the OU it will join

    def accounts_with_databases(self) -> list[str]:
        return sorted(set(self.clusters) | set(self.db_instances))

    def source_tags(self, account_id: str, identifier: str) -> list[dict[str, str]]:
        return [{"Key": key, "Value": value} for key, value in self.tags.get(f"{account_id}:{identifier}", ())]

    def tag(self, account_id: str, identifier: str, key: str = "aurora-lake:export") -> str | None:
        return dict(self.tags.get(f"{account_id}:{identifier}", ())).get(key)


DEMO_LAYOUT = OrganizationLayout(
    units=data.ORGANIZATIONAL_UNITS,
    placement=data.ACCOUNT_PLACEMENT,
    clusters=data.SOURCE_ACCOUNT_CLUSTERS,
    db_instances=data.SOURCE_ACCOUNT_DB_INSTANCES,
    tags={source: (("aurora-lake:export", value),) for source, value in data.OPT_IN_TAGS.items()},
    copy_tags_to_snapshot=data.COPY_TAGS_TO_SNAPSHOT,
    target_ous=data.STACK_SET_TARGET_OUS,
)

# The organization at scale: OUs under the root (Workloads and Analytics, with child OUs, are the
# stack set's targets; Sandbox is not), names in the styles of several Regions.
SCALE_UNITS: tuple[tuple[str, str, str], ...] = (
    (data.WORKLOADS_OU, "Workloads", data.ORGANIZATION_ROOT_ID),
    (data.PRODUCTION_OU, "Production", data.WORKLOADS_OU),
    ("ou-ab12-55555555", "Staging", data.WORKLOADS_OU),
    ("ou-ab12-66666666", "Analytics", data.ORGANIZATION_ROOT_ID),
    ("ou-ab12-77777777", "Europe", "ou-ab12-66666666"),
    ("ou-ab12-88888888", "Asia Pacific", "ou-ab12-66666666"),
    (data.SANDBOX_OU, "Sandbox", data.ORGANIZATION_ROOT_ID),
    (data.DATA_OU, "Data", data.ORGANIZATION_ROOT_ID),
)
SCALE_TARGET_OUS = (data.WORKLOADS_OU, "ou-ab12-66666666")
_SCALE_MEMBER_OUS = (data.PRODUCTION_OU, "ou-ab12-55555555", data.WORKLOADS_OU, "ou-ab12-77777777", "ou-ab12-88888888")
# Region codes in the styles teams name their databases after.
_REGION_STYLES = ("use1", "us-west-2", "euw1", "eu-central-1", "apne1", "ap-southeast-2", "sae1", "ca-central-1")
_ENGINES = (
    ("cluster", "aurora-postgresql", "16.4"), ("instance", "postgres", "16.4"),
    ("cluster", "aurora-mysql", "8.0.mysql_aurora.3.08.0"), ("instance", "mysql", "8.0.39"), ("cluster", "aurora-postgresql", "15.8"),
)
# Opted-in sources per reached account, in turn: 5 on average, some above FleetMaxConcurrency.
_SOURCES_PER_ACCOUNT = (2, 3, 5, 8, 7)
SCALE_FIRST_ACCOUNT = 500_000_000_000
SCALE_UNREACHED_ACCOUNTS = 4


def scale_account_id(index: int) -> str:
    return f"{SCALE_FIRST_ACCOUNT + index:012d}"


def _scale_source(account_index: int, n: int, lake: str, schedule: str | None) -> tuple[data.Cluster, tuple[tuple[str, str], ...]]:
    kind, engine, version = _ENGINES[(account_index + n) % len(_ENGINES)]
    region = _REGION_STYLES[(account_index * 3 + n) % len(_REGION_STYLES)]
    postgres = "postgres" in engine
    identifier = f"team{account_index:03d}-{region}-{engine.replace('aurora-', 'au')}-{n:02d}"
    tables = data.synthetic_tables(1, "app", "public" if postgres else "app")
    spec: data.Cluster = (data.Cluster if kind == "cluster" else data.DbInstance)(identifier, engine, version, ("app",), tables)
    tags: tuple[tuple[str, str], ...] = (("aurora-lake:export", lake),) if lake else ()
    if schedule:
        tags += (("aurora-lake:schedule", schedule),)
    return spec, tags


def scale_layout(accounts: int = 200, sources: int = 1000, lake: str = data.LAKE_STACK_NAME) -> OrganizationLayout:
    """An organization of ``accounts`` reached member accounts (plus a few the stack set never reaches, and
    one that will join) holding ``sources`` opted-in sources due on a first scheduled run.

    Clusters and DB instances alternate over five engines; every 10th due source is weekly (due: it
    never succeeded); every 10th account also has a manual source and an untagged one; the last
    accounts hold what is left over so that the count of due sources is exact. Names carry a Region
    code in several styles (``use1``, ``eu-central-1``).
    """
    if accounts < 1 or sources < accounts:
        raise ValueError(f"an organization of {accounts} accounts needs at least as many sources, not {sources}")
    counts = [_SOURCES_PER_ACCOUNT[i % len(_SOURCES_PER_ACCOUNT)] for i in range(accounts)]
    scale = sources / sum(counts)
    counts = [max(1, round(c * scale)) for c in counts]
    i = 0
    while sum(counts) != sources:  # exact total, never below 1 in an account
        step = 1 if sum(counts) < sources else -1
        if counts[i % accounts] + step >= 1:
            counts[i % accounts] += step
        i += 1
    placement: dict[str, str] = {data.ACCOUNT_ID: data.DATA_OU}
    clusters: dict[str, tuple[data.Cluster, ...]] = {}
    instances: dict[str, tuple[data.DbInstance, ...]] = {}
    tags: dict[str, tuple[tuple[str, str], ...]] = {}
    copy = set()
    due = 0

    def add(account: str, spec: data.Cluster, source_tags: tuple[tuple[str, str], ...]) -> None:
        target = instances if isinstance(spec, data.DbInstance) else clusters
        target[account] = (*target.get(account, ()), spec)  # type: ignore[assignment]
        if source_tags:
            tags[f"{account}:{spec.identifier}"] = source_tags
        copy.add(f"{account}:{spec.identifier}")

    for index, count in enumerate(counts):
        account = scale_account_id(index)
        placement[account] = _SCALE_MEMBER_OUS[index % len(_SCALE_MEMBER_OUS)]
        for n in range(count):
            due += 1
            add(account, *_scale_source(index, n, lake, "weekly" if due % 10 == 0 else None))
        if index % 10 == 0:
            add(account, *_scale_source(index, count, lake, "manual"))
            add(account, *_scale_source(index, count + 1, "", None))
    for extra in range(SCALE_UNREACHED_ACCOUNTS):  # members the stack set never reaches (Sandbox)
        index = accounts + extra
        placement[scale_account_id(index)] = data.SANDBOX_OU
        add(scale_account_id(index), *_scale_source(index, 0, lake, None))
    joining = scale_account_id(accounts + SCALE_UNREACHED_ACCOUNTS)
    add(joining, *_scale_source(accounts + SCALE_UNREACHED_ACCOUNTS, 0, lake, None))
    return OrganizationLayout(units=SCALE_UNITS, placement=placement, clusters=clusters, db_instances=instances, tags=tags,
                              copy_tags_to_snapshot=frozenset(copy), target_ous=SCALE_TARGET_OUS, joining={joining: data.PRODUCTION_OU})


def create_organization(region: str, accounts: Mapping[str, str] | None = None, layout: OrganizationLayout = DEMO_LAYOUT) -> None:
    """The emulated organization in moto: its OUs (``layout.units``) and member accounts, placed."""
    backend = _organizations()
    with _fixed_ids(make_random_org_id=data.ORGANIZATION_ID, make_random_root_id=data.ORGANIZATION_ROOT_ID):
        backend.create_organization(region, FeatureSet="ALL")
    for ou_id, name, parent in layout.units:
        with _fixed_ids(make_random_ou_id=ou_id):
            backend.create_organizational_unit(ParentId=parent, Name=name)
    for account_id, ou_id in (accounts if accounts is not None else layout.placement).items():
        add_account(account_id, ou_id)


def add_account(account_id: str, ou_id: str) -> None:
    """A new member account (fixed ID) in ``ou_id``."""
    backend = _organizations()
    with _fixed_ids(make_random_account_id=account_id):
        backend.create_account(AccountName=f"account-{account_id}", Email=f"aws+{account_id}@example.com")
    backend.move_account(AccountId=account_id, SourceParentId=data.ORGANIZATION_ROOT_ID, DestinationParentId=ou_id)


def parent_of(account_id: str) -> str | None:
    backend = _organizations()
    account = next((a for a in backend.accounts if a.id == account_id), None)
    return None if account is None else str(account.parent_id)


def org_paths(account_id: str) -> tuple[str, ...]:
    """``aws:PrincipalOrgPaths`` (``aws:ResourceOrgPaths``) of an account: ``o-id/r-id/ou-.../``, or () outside."""
    backend = _organizations()
    parent = parent_of(account_id)
    if backend.org is None or parent is None:
        return ()
    chain: list[str] = []
    while parent is not None and not parent.startswith("r-"):
        chain.append(parent)
        ou = next((o for o in backend.ou if o.id == parent), None)
        parent = getattr(ou, "parent_id", None)
    if parent is None:
        raise OrganizationError(f"account {account_id}'s parents do not reach the organization's root")
    return ("/".join([backend.org.id, parent, *reversed(chain)]) + "/",)


def org_id(account_id: str) -> str:
    backend = _organizations()
    return str(backend.org.id) if backend.org is not None and parent_of(account_id) is not None else ""


def accounts_in(ou_ids: Sequence[str]) -> list[str]:
    """Member accounts in any of ``ou_ids`` at any depth (the management account never: StackSets skip it)."""
    found = []
    for account in _organizations().accounts:
        if account.id == data.MANAGEMENT_ACCOUNT_ID:
            continue
        paths = org_paths(account.id)
        if any(f"/{ou}/" in path for path in paths for ou in ou_ids):
            found.append(str(account.id))
    return sorted(found)


# ---------------------------------------------------------------------------------------- deployed sources


@dataclass
class SourceAccount:
    """One source account's stack instance: its template and the EventBridge rules it created."""

    account_id: str
    template: Template
    # (logical id, resolved properties) of each enabled rule of the source template.
    rules: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # What was created, to delete it when the account leaves the stack set's OUs.
    roles: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)


def source_template_parameters(lake: Template, bucket: str, kms_key_arn: str, declared: Mapping[str, Any]) -> dict[str, str]:
    """The one parameter set of the stack set: the lake's names, nothing about any account or database."""
    values = {
        "LakeAccountId": lake.account_id,
        "LakeStackName": lake.stack_name,
        "LakeBucketName": bucket,
        "LakeKmsKeyArn": kms_key_arn,
    }
    if "ExportPrefix" in (lake.document.get("Parameters") or {}):
        values["LakeExportPrefix"] = str(lake.parameter("ExportPrefix"))
    missing = {"LakeAccountId", "LakeStackName", "LakeBucketName", "LakeKmsKeyArn"} - set(declared)
    if missing:
        raise OrganizationError(f"{SOURCE_TEMPLATE_NAME} does not declare the parameters {sorted(missing)} the lake gives it")
    return {name: value for name, value in values.items() if name in declared}


def deploy_source_account(path: Path, account_id: str, parameters: dict[str, str], region: str) -> SourceAccount:
    """Deploy ``source-account.yaml`` in ``account_id``: its roles (with their tags and policies), queues, topics, rules."""
    from emulated_account.template import load

    document = load(path)
    template = Template(path, document=document, parameters=parameters, stack_name=SOURCE_STACK_NAME, region=region, account_id=account_id)
    unknown = {r.get("Type") for lid, r in template.resources.items() if template.is_created(lid)} - _SOURCE_RESOURCE_TYPES
    if unknown:
        raise TemplateError(f"{path.name} creates {sorted(map(str, unknown))}, which the emulated account does not deploy")
    deployed = SourceAccount(account_id, template)
    iam = account_client("iam", account_id, region)
    for logical_id, resource in template.resources_of_type("AWS::IAM::Role").items():
        properties = resource.get("Properties") or {}
        name = template.physical_name(logical_id)
        tags = template.resolve(properties.get("Tags") or [])
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(template.resolve(properties.get("AssumeRolePolicyDocument", {}))), Tags=tags)
        deployed.roles.append(name)
        for policy in template.resolve(properties.get("Policies") or []):
            iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"]))
    for logical_id, resource in template.resources_of_type("AWS::IAM::Policy").items():
        properties = template.resolve(resource.get("Properties") or {})
        for role in properties.get("Roles") or []:
            iam.put_role_policy(RoleName=str(role).rsplit("/", 1)[-1], PolicyName=properties["PolicyName"], PolicyDocument=json.dumps(properties["PolicyDocument"]))
    sqs = account_client("sqs", account_id, region)
    for logical_id in template.resources_of_type("AWS::SQS::Queue"):
        deployed.queues.append(sqs.create_queue(QueueName=template.physical_name(logical_id))["QueueUrl"])
    for logical_id, resource in template.resources_of_type("AWS::SQS::QueuePolicy").items():
        properties = template.resolve(resource.get("Properties") or {})
        for queue_url in properties.get("Queues") or []:
            sqs.set_queue_attributes(QueueUrl=str(queue_url), Attributes={"Policy": json.dumps(properties["PolicyDocument"])})
    sns = account_client("sns", account_id, region)
    for logical_id in template.resources_of_type("AWS::SNS::Topic"):
        deployed.topics.append(sns.create_topic(Name=template.physical_name(logical_id))["TopicArn"])
    for logical_id, resource in template.resources_of_type("AWS::SNS::Subscription").items():
        properties = template.resolve(resource.get("Properties") or {})
        sns.subscribe(TopicArn=str(properties["TopicArn"]), Protocol=str(properties["Protocol"]), Endpoint=str(properties["Endpoint"]))
    for logical_id, resource in template.resources_of_type("AWS::CloudWatch::Alarm").items():
        deployed.alarms.append({"logical_id": logical_id, **template.resolve(resource.get("Properties") or {})})
    for logical_id, resource in template.resources_of_type("AWS::Events::Rule").items():
        properties = template.resolve(resource.get("Properties") or {})
        if properties.get("State", "ENABLED") == "ENABLED" and "EventPattern" in properties:
            deployed.rules.append((logical_id, properties))
    return deployed


def delete_source_account(deployed: SourceAccount, region: str) -> None:
    """What CloudFormation does when a stack instance is deleted: every resource of the stack goes."""
    iam = account_client("iam", deployed.account_id, region)
    for name in deployed.roles:
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        iam.delete_role(RoleName=name)
    sqs = account_client("sqs", deployed.account_id, region)
    for url in deployed.queues:
        sqs.delete_queue(QueueUrl=url)
    sns = account_client("sns", deployed.account_id, region)
    for arn in deployed.topics:
        sns.delete_topic(TopicArn=arn)
    deployed.rules.clear()


@dataclass
class StackSet:
    """``source-account.yaml`` as a service-managed stack set with automatic deployment to OUs.

    One parameter set for every account (auto-deployment gives new accounts the stack set's own
    values, and ignores account filters: StackSets user guide); stack instances follow the
    accounts' OUs: ``sync`` deploys to every account now in a target OU and deletes the stack of
    every account that left them (RetainStacksOnAccountRemoval false). Never the management account.
    """

    template_path: Path
    parameters: dict[str, str]
    target_ous: tuple[str, ...]
    region: str
    instances: dict[str, SourceAccount] = field(default_factory=dict)
    # Called with (account, deployed or None) after each change: the emulated account wires RDS.
    on_change: Callable[[str, SourceAccount | None], None] | None = None

    def sync(self) -> None:
        wanted = set(accounts_in(self.target_ous))
        for account in sorted(set(self.instances) - wanted):
            delete_source_account(self.instances.pop(account), self.region)
            if self.on_change:
                self.on_change(account, None)
        for account in sorted(wanted - set(self.instances)):
            self.instances[account] = deploy_source_account(self.template_path, account, self.parameters, self.region)
            if self.on_change:
                self.on_change(account, self.instances[account])


@dataclass
class Organization:
    """The lake's organization and the resource policies that decide what crosses accounts."""

    lake_account_id: str
    region: str
    organization_id: str = data.ORGANIZATION_ID
    bucket_policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # bucket name -> policy
    key_policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # key ARN -> policy
    bus_policy: dict[str, Any] = field(default_factory=dict)  # the lake's default bus
    stack_set: StackSet | None = None
    # Member accounts the organization's delegation policy lets read its accounts and OUs
    # (docs/organization.md: the lake account, as the documented command sets it up).
    delegated_readers: set[str] = field(default_factory=set)

    @property
    def sources(self) -> dict[str, SourceAccount]:
        """The accounts where the stack set deployed the source template, now."""
        return self.stack_set.instances if self.stack_set is not None else {}

    @property
    def lake_bus_arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.lake_account_id}:event-bus/default"

    # -- the organization's moves (auto-deployment follows) ------------------------------------
    def move_account(self, account_id: str, ou_id: str) -> None:
        _organizations().move_account(AccountId=account_id, SourceParentId=parent_of(account_id), DestinationParentId=ou_id)
        self._sync()

    def add_account(self, account_id: str, ou_id: str) -> None:
        add_account(account_id, ou_id)
        self._sync()

    def remove_account(self, account_id: str) -> None:
        _organizations().remove_account_from_organization(AccountId=account_id)
        self._sync()

    def _sync(self) -> None:
        if self.stack_set is not None:
            self.stack_set.sync()

    # -- who is who ----------------------------------------------------------------------------
    def principal(self, arn: str) -> iam_policy.Principal:
        """A role (or its session) as IAM sees it: its organization, OU paths and tags."""
        account = arn.split(":")[4] if arn.count(":") >= 5 else ""
        return iam_policy.Principal(arn=arn, org_id=org_id(account), org_paths=org_paths(account), tags=_role_tags(arn))

    def role_policy(self, role_arn: str) -> iam_policy.Policy:
        """The identity policies of a role as IAM holds them in the role's account."""
        role = _role(role_arn)
        if role is None:
            raise OrganizationError(f"role {role_arn} does not exist in account {role_arn.split(':')[4]}")
        documents = [_as_document(policy) for policy in role.policies.values()]
        return iam_policy.Policy.of(documents)

    def decide(self, caller_arn: str, request: iam_policy.Request, resource_policy: iam_policy.ResourcePolicy, resource_account: str) -> bool:
        return iam_policy.decide(self.principal(caller_arn), request, self.role_policy(caller_arn), resource_policy, resource_account)

    # -- an export of a source account into the lake -------------------------------------------
    def export_caller_refusal(self, caller_arn: str, kms_key_arn: str) -> str | None:
        """What RDS checks with StartExportTask's caller's credentials on the lake's key (None: allowed)."""
        key_policy = iam_policy.ResourcePolicy.of(self.key_policies.get(kms_key_arn))
        owner = kms_key_arn.split(":")[4]
        for action, context in (("kms:DescribeKey", {}), ("kms:CreateGrant", {"kms:GrantIsForAWSResource": "true"})):
            request = iam_policy.Request(action, kms_key_arn, context, "RDS checks the export key with the caller's credentials")
            if not self.decide(caller_arn, request, key_policy, owner):
                return f"{caller_arn} may not {action} on {kms_key_arn} (the key's policy and the caller's policy must both allow it)"
        return None

    def export_write_refusal(self, role_arn: str, bucket: str, prefix: str, export_id: str, kms_key_arn: str) -> str | None:
        """Why RDS, writing with ``role_arn``, may not write the export into the lake's ``bucket``; None when it may.

        Every action RDS performs on the bucket and the key when it writes an export, with the export
        role (AWS's export documentation names them): listing and locating the bucket, writing,
        reading back and deleting the export's objects, and encrypting, generating data keys and
        decrypting with the key (S3 SSE-KMS uses the requester's permissions). Which prefix RDS lists
        is not documented (FIDELITY.md): the bucket is listed both with the export's S3Prefix as
        sent (no trailing slash) and with none, so a grant narrower than either fails here.
        """
        identity_account = role_arn.split(":")[4]
        bucket_policy = iam_policy.ResourcePolicy.of(self.bucket_policies.get(bucket))
        key_policy = iam_policy.ResourcePolicy.of(self.key_policies.get(kms_key_arn))
        lake = self.lake_account_id
        base = {"aws:SecureTransport": "true"}
        key_name = f"{prefix.strip('/')}/{export_id}/export_info_{export_id}.json" if prefix.strip("/") else f"{export_id}/export_info_{export_id}.json"
        checks: list[tuple[iam_policy.Request, iam_policy.ResourcePolicy, str]] = [
            (iam_policy.Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", {**base, "s3:prefix": prefix.rstrip("/")}, "RDS lists the bucket at the export's prefix"), bucket_policy, "S3"),
            (iam_policy.Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", base, "RDS lists the bucket"), bucket_policy, "S3"),
            (iam_policy.Request("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}", base, "RDS checks the bucket's Region"), bucket_policy, "S3"),
        ]
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            checks.append((iam_policy.Request(action, f"arn:aws:s3:::{bucket}/{key_name}", base, "RDS writes, reads back and deletes the export's files"), bucket_policy, "S3"))
        for action in ("kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"):
            checks.append((iam_policy.Request(action, kms_key_arn, {}, "S3 encrypts and decrypts the export with the lake key"), key_policy, "KMS"))
        for request, policy, service in checks:
            if not self.decide(role_arn, request, policy, lake if request.resource != kms_key_arn else kms_key_arn.split(":")[4]):
                what = f"s3://{bucket}" + (f"/{key_name}" if ":s3:::" in request.resource and "/" in request.resource.split(":::", 1)[1] else "")
                prefix_note = f" (s3:prefix {request.context['s3:prefix']!r})" if "s3:prefix" in request.context else ""
                return (
                    f"{service} refused {request.action} on {what if service == 'S3' else kms_key_arn}{prefix_note} to {role_arn} "
                    f"of account {identity_account}: the lake's {'bucket' if service == 'S3' else 'key'} policy and the role's policy must both allow it."
                )
        return None

    def bus_accepts(self, sender_account: str, role_arn: str | None) -> bool:
        """Whether the lake's default bus takes an event put by ``sender_account`` (with ``role_arn``)."""
        if sender_account == self.lake_account_id:
            return True
        who = self.principal(role_arn or f"arn:aws:iam::{sender_account}:root")
        request = iam_policy.Request("events:PutEvents", self.lake_bus_arn, {}, "a rule of another account forwards an event")
        policy = iam_policy.ResourcePolicy.of(self.bus_policy)
        if role_arn is None or _role(role_arn) is None:
            return policy.verdict(who, request) == "allow"
        return iam_policy.decide(who, request, self.role_policy(role_arn), policy, self.lake_account_id)


def _role(role_arn: str) -> Any | None:
    from moto.iam.models import iam_backends

    account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
    return next((r for r in iam_backends[account]["global"].roles.values() if r.name == name), None)


def _role_tags(arn: str) -> tuple[tuple[str, str], ...]:
    role = _role(arn) if ":role/" in arn else None
    tags = getattr(role, "tags", None) or []
    # moto's IAM keeps a role's tags as [{"Key", "Value"}] (some versions: {key: {"Key", "Value"}}).
    entries = list(tags.values()) if isinstance(tags, dict) else list(tags)
    return tuple((str(tag["Key"]), str(tag.get("Value", ""))) for tag in entries if isinstance(tag, dict) and "Key" in tag)


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


def clusters_of(account_id: str, layout: OrganizationLayout = DEMO_LAYOUT) -> tuple[data.Cluster, ...]:
    """The clusters that exist in an account of the organization."""
    return tuple(layout.clusters.get(account_id, ()))


def db_instances_of(account_id: str, layout: OrganizationLayout = DEMO_LAYOUT) -> tuple[data.DbInstance, ...]:
    """The RDS DB instances that exist in an account of the organization."""
    return tuple(layout.db_instances.get(account_id, ()))


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


# ---------------------------------------------------------------------------------------- IAM at call time


def _rds_arn(region: str, account: str, kind: str, name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:rds:{region}:{account}:{kind}:{name}"


def _resource_tags(backend: Any, arn: str) -> dict[str, str]:
    """The tags RDS holds on the resource an ARN names (none when it does not exist)."""
    kind, _, name = arn.split(":", 5)[5].partition(":")
    collection = {"cluster": "clusters", "db": "databases", "cluster-snapshot": "cluster_snapshots", "snapshot": "database_snapshots"}.get(kind)
    found = getattr(backend, collection, {}).get(name.lower()) if collection else None
    if found is None and collection:
        found = getattr(backend, collection, {}).get(name)
    return {str(tag["Key"]): str(tag.get("Value", "")) for tag in (getattr(found, "tags", None) or [])}


# The tag condition key RDS sets for each resource type (Service Authorization Reference).
_RDS_TAG_KEYS = {"cluster": "rds:cluster-tag", "db": "rds:db-tag", "cluster-snapshot": "rds:cluster-snapshot-tag", "snapshot": "rds:snapshot-tag"}


def _with_resource_tags(backend: Any, arn: str, context: dict[str, Any]) -> dict[str, Any]:
    kind = arn.split(":", 5)[5].partition(":")[0] if arn.count(":") >= 6 else ""
    tags = _resource_tags(backend, arn) if kind in _RDS_TAG_KEYS else {}
    result = dict(context)
    for key, value in tags.items():
        result[f"{_RDS_TAG_KEYS[kind]}/{key}"] = value
        result[f"aws:ResourceTag/{key}"] = value
    return result


def rds_requests(operation: str, params: Mapping[str, Any], account: str, region: str, backend: Any) -> list[iam_policy.Request]:
    """The IAM authorizations an RDS call needs (Service Authorization Reference), with their context.

    An operation the emulated account has no mapping for raises: it is never judged by guess.
    """
    base: dict[str, Any] = {"aws:RequestedRegion": region}

    def req(action: str, arn: str, extra: Mapping[str, Any] | None = None, why: str = "") -> iam_policy.Request:
        return iam_policy.Request(action, arn, _with_resource_tags(backend, arn, {**base, **(extra or {})}), why or f"rds:{operation}")

    def request_tags() -> dict[str, Any]:
        tags = [t for t in params.get("Tags") or [] if isinstance(t, Mapping)]
        context: dict[str, Any] = {f"aws:RequestTag/{t['Key']}": str(t.get("Value", "")) for t in tags}
        if tags:
            context["aws:TagKeys"] = tuple(str(t["Key"]) for t in tags)
        return context

    arn = lambda kind, name: _rds_arn(region, account, kind, str(name))  # noqa: E731
    if operation == "DescribeDBClusters":
        # Without an identifier RDS authorizes the listing on the wildcard ARN (FIDELITY.md).
        return [req("rds:DescribeDBClusters", arn("cluster", params.get("DBClusterIdentifier", "*")))]
    if operation == "DescribeDBInstances":
        return [req("rds:DescribeDBInstances", arn("db", params.get("DBInstanceIdentifier", "*")))]
    if operation == "DescribeDBClusterSnapshots":
        if "DBClusterSnapshotIdentifier" in params:
            return [req("rds:DescribeDBClusterSnapshots", arn("cluster-snapshot", params["DBClusterSnapshotIdentifier"]))]
        return [req("rds:DescribeDBClusterSnapshots", arn("cluster", params.get("DBClusterIdentifier", "*")) if "DBClusterIdentifier" in params else arn("cluster-snapshot", "*"))]
    if operation == "DescribeDBSnapshots":
        if "DBSnapshotIdentifier" in params:
            return [req("rds:DescribeDBSnapshots", arn("snapshot", params["DBSnapshotIdentifier"]))]
        return [req("rds:DescribeDBSnapshots", arn("db", params["DBInstanceIdentifier"]) if "DBInstanceIdentifier" in params else arn("snapshot", "*"))]
    if operation in ("CreateDBClusterSnapshot", "CreateDBSnapshot"):
        source, snapshot = ("cluster", "cluster-snapshot") if operation == "CreateDBClusterSnapshot" else ("db", "snapshot")
        source_name = params["DBClusterIdentifier"] if source == "cluster" else params["DBInstanceIdentifier"]
        snapshot_name = params["DBClusterSnapshotIdentifier"] if source == "cluster" else params["DBSnapshotIdentifier"]
        tags = request_tags()
        found = [req(f"rds:{operation}", arn(source, source_name), tags), req(f"rds:{operation}", arn(snapshot, snapshot_name), tags)]
        if tags:
            # Tags given on create: RDS authorizes rds:AddTagsToResource as well (RDS User Guide).
            found.append(req("rds:AddTagsToResource", arn(snapshot, snapshot_name), tags, "tags given on create"))
        return found
    if operation == "DeleteDBClusterSnapshot":
        return [req("rds:DeleteDBClusterSnapshot", arn("cluster-snapshot", params["DBClusterSnapshotIdentifier"]))]
    if operation == "DeleteDBSnapshot":
        return [req("rds:DeleteDBSnapshot", arn("snapshot", params["DBSnapshotIdentifier"]))]
    if operation in ("DescribeExportTasks", "CancelExportTask"):
        return [req(f"rds:{operation}", "*")]
    if operation == "StartExportTask":
        return [
            req("rds:StartExportTask", str(params["SourceArn"])),
            iam_policy.Request("iam:PassRole", str(params["IamRoleArn"]), {"iam:PassedToService": "rds.amazonaws.com"}, "StartExportTask passes the export role"),
        ]
    raise NotImplementedError(f"rds:{operation} into account {account}: the emulated account has no IAM mapping for it; add one before calling it")


def _session_name(access_key: str) -> str:
    """The RoleSessionName an assumed role's access key was issued with (moto's STS keeps it)."""
    from moto.sts.models import sts_backends

    for backend in (b for regions in sts_backends.values() for b in regions.values()):
        for assumed in getattr(backend, "assumed_roles", []):
            if assumed.access_key_id == access_key:
                return str(assumed.session_name)
    return "session"


def _access_denied(operation: str, principal_arn: str, session: str, request: iam_policy.Request) -> Exception:
    """AccessDenied as RDS answers it (its message names the assumed-role session, action and resource)."""
    from botocore.exceptions import ClientError

    account, role = principal_arn.split(":")[4], principal_arn.rsplit("/", 1)[-1]
    message = (
        f"User: arn:aws:sts::{account}:assumed-role/{role}/{session} is not authorized to perform: {request.action} "
        f"on resource: {request.resource} because no identity-based policy allows the {request.action} action"
    )
    return ClientError({"Error": {"Code": ACCESS_DENIED, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}}, operation)


@contextlib.contextmanager
def judged_calls(organization: Callable[[], Organization | None]) -> Iterator[list[tuple[str, str, str]]]:
    """Judge, at call time, every RDS call into a source account and every KMS call on the lake's key by
    another account's principal, as IAM would: AccessDenied when the policies do not allow it.

    Yields the list of (principal, action, resource) judged and allowed, for tests to see what ran.
    """
    from unittest import mock

    from botocore.client import BaseClient
    from moto.rds.models import rds_backends

    from emulated_account.faults import INTERNAL_ATTRIBUTE

    original = BaseClient._make_api_call
    allowed: list[tuple[str, str, str]] = []

    def make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        org = organization()
        service = client.meta.service_model.service_name
        if org is None or getattr(client, INTERNAL_ATTRIBUTE, False) or service not in ("rds", "kms"):
            return original(client, operation_name, api_params)
        credentials = getattr(client._request_signer, "_credentials", None)
        key = str(getattr(credentials, "access_key", "") or "")
        account, role_arn = principal_of(key) if key else (org.lake_account_id, None)
        if account == org.lake_account_id or role_arn is None:
            return original(client, operation_name, api_params)
        region = client.meta.region_name
        session = _session_name(key)
        if _role(role_arn) is None:
            # The role was deleted (its stack instance went with the account leaving the OUs): its
            # sessions act as nothing. UNCONFIRMED which code AWS answers (FIDELITY.md): AccessDenied.
            raise _access_denied(operation_name, role_arn, session, iam_policy.Request(f"{service}:{operation_name}", "*"))
        if service == "rds":
            backend = rds_backends[account][region]
            identity = org.role_policy(role_arn)
            who = org.principal(role_arn)
            for request in rds_requests(operation_name, api_params, account, region, backend):
                if not iam_policy.decide(who, request, identity, iam_policy.ResourcePolicy([]), account):
                    raise _access_denied(operation_name, role_arn, session, request)
                allowed.append((role_arn, request.action, request.resource))
            if operation_name == "StartExportTask":
                refusal = org.export_caller_refusal(role_arn, str(api_params.get("KmsKeyId") or ""))
                if refusal:
                    from botocore.exceptions import ClientError

                    # UNCONFIRMED which code RDS gives (FIDELITY.md): the documented key error.
                    raise ClientError({"Error": {"Code": "KMSKeyNotAccessibleFault", "Message": f"The specified KMS key is not accessible: {refusal}"},
                                       "ResponseMetadata": {"HTTPStatusCode": 400}}, operation_name)
        else:
            key_arn = str(api_params.get("KeyId") or "")
            if key_arn in org.key_policies:
                context = {"kms:GrantIsForAWSResource": "false"} if operation_name == "CreateGrant" else {}
                request = iam_policy.Request(f"kms:{operation_name}", key_arn, context, f"kms:{operation_name} called directly")
                if not org.decide(role_arn, request, iam_policy.ResourcePolicy.of(org.key_policies[key_arn]), org.lake_account_id):
                    raise _access_denied(operation_name, role_arn, session, request)
        return original(client, operation_name, api_params)

    with mock.patch.object(BaseClient, "_make_api_call", make_api_call):
        yield allowed


# --------------------------------------------------------------------------------- AWS Organizations reads

# What the lake's discovery calls (botocore's organizations model): moto answers them in the
# management account only; a member's calls are answered here as AWS Organizations does.
ORGANIZATIONS_READS = ("describe_organization", "list_accounts", "list_accounts_for_parent", "list_organizational_units_for_parent")


def _organizations_access_denied() -> Exception:
    from moto.organizations.exceptions import OrganizationsClientError

    # The wire code of the model's AccessDeniedException shape, with AWS Organizations' message.
    return OrganizationsClientError("AccessDeniedException", "You don't have permissions to access this resource.")


@contextlib.contextmanager
def delegated_reads(organization: Callable[[], Organization | None]) -> Iterator[None]:
    """A member account's reads of the organization, as AWS Organizations answers them.

    The management account reads its own (moto). A member account reads the organization's
    accounts and OUs only when the organization's delegation policy allows it
    (``Organization.delegated_readers``): AccessDeniedException otherwise; DescribeOrganization
    is open to every member (moto answers it). An account outside: AWSOrganizationsNotInUseException.
    """
    from unittest import mock

    from moto.organizations.exceptions import AWSOrganizationsNotInUseException
    from moto.organizations.models import OrganizationsBackend

    originals = {name: getattr(OrganizationsBackend, name) for name in ORGANIZATIONS_READS}

    def judged(name: str) -> Callable[..., Any]:
        original = originals[name]

        def call(backend: Any, *args: Any, **kwargs: Any) -> Any:
            org = organization()
            if org is None or backend.org is not None or name == "describe_organization":
                return original(backend, *args, **kwargs)
            management = _organizations()
            if management.org is None or parent_of(backend.account_id) is None:
                raise AWSOrganizationsNotInUseException()
            if backend.account_id not in org.delegated_readers:
                raise _organizations_access_denied()
            return original(management, *args, **kwargs)

        return call

    with mock.patch.multiple(OrganizationsBackend, **{name: judged(name) for name in ORGANIZATIONS_READS}):
        yield


@contextlib.contextmanager
def assume_role_judged(organization: Callable[[], Organization | None], caller_role: Callable[[], str | None]) -> Iterator[None]:
    """STS AssumeRole into another account as IAM decides it, for the workflow's own calls.

    moto's STS issues credentials for any role, existing or not. Here, when a function of the
    lake (``caller_role``: its role ARN, None outside the workflow) assumes a role of another
    account, the caller's identity policy (with aws:ResourceOrgID/Paths of the role's account) and
    the role's trust policy (with the caller's aws:PrincipalOrgID/Paths and tags) must both allow
    it, and the role must exist; otherwise AccessDenied, with the message AWS gives.
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
                context: dict[str, Any] = {"aws:ResourceAccount": target_account}
                if org_id(target_account):
                    context["aws:ResourceOrgID"] = org_id(target_account)
                    context["aws:ResourceOrgPaths"] = org_paths(target_account)
                request = iam_policy.Request("sts:AssumeRole", role_arn, context)
                allowed = iam_policy.decide(org.principal(caller), request, org.role_policy(caller), trust, target_account)
            if not allowed:
                session = f"arn:aws:sts::{org.lake_account_id}:assumed-role/{caller.rsplit('/', 1)[-1]}/{role_session_name}"
                code = fidelity.check_code("sts", "AssumeRole", "AccessDenied")
                error = STSClientError(code, f"User: {session} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
                error.code = code
                raise error
        return original(backend, region_name, role_session_name, role_arn, *args, **kwargs)

    with mock.patch.object(STSBackend, "assume_role", assume_role):
        yield
