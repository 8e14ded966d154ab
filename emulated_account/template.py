"""Reads the SAM template the way the deployment would see it.

Intrinsic functions, parameters, conditions and pseudo parameters are
evaluated by ``tools.cfn_resolve`` (the same evaluator the template tests use);
this module adds what only the emulated account knows: the physical names and
ARNs of its resources, and what it deploys from ``template.yaml`` itself: each
function's code, handler, environment, timeout and memory, and the state
machine's real definition file with its ``DefinitionSubstitutions`` applied.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.cfn_resolve import ResolveError, Resolver
from tools.sam_translate import load_template


class TemplateError(Exception):
    """The template cannot be evaluated as the emulated account needs it."""


def load(path: str | Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template into plain data (short-form tags expanded)."""
    document = load_template(path)
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
    return document


def _suffix(logical_id: str, stack: str) -> str:
    return hashlib.sha256(f"{stack}/{logical_id}".encode()).hexdigest()[:12].upper()


@dataclass
class FunctionDefinition:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: dict[str, str]
    role_arn: str


@dataclass
class StateMachineDefinition:
    logical_id: str
    name: str
    arn: str
    definition: str
    role_arn: str
    type: str = "STANDARD"


@dataclass
class Template:
    path: Path
    parameters: Mapping[str, str] = field(default_factory=dict)
    stack_name: str = "aurora-lake"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    document: dict[str, Any] = field(default_factory=dict)
    # Physical values the account learns when it creates a resource (a KMS key's generated id).
    physical: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.document:
            self.document = load(self.path)
        declared = self.document.get("Parameters") or {}
        unknown = set(self.parameters) - set(declared)
        if unknown:
            raise TemplateError(f"parameters not declared by {self.path.name}: {sorted(unknown)}")
        try:
            self._resolver = Resolver(
                self.document,
                {name: str(value) for name, value in self.parameters.items()},
                physical=self._physical,
                region=self.region,
                account=self.account_id,
                stack_name=self.stack_name,
            )
        except ResolveError as error:
            raise TemplateError(str(error)) from error

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.document["Resources"]

    def resources_of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.resources.items()
            if resource.get("Type") in types and self.is_created(logical_id)
        }

    def is_created(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return True if condition is None else self.condition(condition)

    # -- parameters, conditions and intrinsic functions (tools.cfn_resolve) ----------------------
    def parameter(self, name: str) -> Any:
        try:
            return self._resolver.ref(name)
        except ResolveError as error:
            raise TemplateError(str(error)) from error

    def condition(self, name: str) -> bool:
        try:
            return self._resolver.condition(name)
        except ResolveError as error:
            raise TemplateError(str(error)) from error

    def resolve(self, value: Any) -> Any:
        """Evaluate every intrinsic function in ``value``."""
        try:
            return self._resolver.resolve(value)
        except ResolveError as error:
            raise TemplateError(str(error)) from error

    def _physical(self, logical_id: str, attribute: str | None) -> Any:
        return self.ref(logical_id) if attribute is None else self.get_att(logical_id, attribute)

    # -- physical names -----------------------------------------------------------------------
    def _named(self, logical_id: str, prop: str | tuple[str, ...]) -> str | None:
        properties = self.resources[logical_id].get("Properties") or {}
        value: Any = properties
        for key in (prop,) if isinstance(prop, str) else prop:
            value = value.get(key) if isinstance(value, dict) else None
        return None if value is None else str(self.resolve(value))

    def physical_name(self, logical_id: str) -> str:
        """The resource's name: from its properties, else generated as CloudFormation would."""
        if logical_id in self.physical and "name" in self.physical[logical_id]:
            return str(self.physical[logical_id]["name"])
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"resource {logical_id} does not exist")
        kind = resource.get("Type", "")
        name_property = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::IAM::Role": "RoleName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::Serverless::Function": "FunctionName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::Serverless::StateMachine": "Name",
            "AWS::StepFunctions::StateMachine": "StateMachineName",
            "AWS::Logs::LogGroup": "LogGroupName",
            "AWS::Athena::WorkGroup": "Name",
            "AWS::Glue::Database": ("DatabaseInput", "Name"),
            "AWS::KMS::Alias": "AliasName",
            "AWS::Scheduler::Schedule": "Name",
            "AWS::Events::Rule": "Name",
            "AWS::SQS::Queue": "QueueName",
        }.get(kind)
        if name_property:
            named = self._named(logical_id, name_property)
            if named:
                return named
        generated = f"{self.stack_name}-{logical_id}-{_suffix(logical_id, self.stack_name)}"
        if kind == "AWS::S3::Bucket":
            return generated.lower()[:63]
        return generated[:64]

    def ref(self, logical_id: str) -> Any:
        if logical_id not in self.resources:
            return self.parameter(logical_id)
        if logical_id in self.physical and "ref" in self.physical[logical_id]:
            return self.physical[logical_id]["ref"]
        kind = self.resources[logical_id].get("Type", "")
        if kind in ("AWS::SNS::Topic", "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return self.get_att(logical_id, "Arn")
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{self.physical_name(logical_id)}"
        return self.physical_name(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        known = self.physical.get(logical_id, {})
        if attribute in known:
            return known[attribute]
        kind = self.resources.get(logical_id, {}).get("Type", "")
        name = self.physical_name(logical_id)
        region, account = self.region, self.account_id
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{name}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::Serverless::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
            "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{name}",
            "AWS::Events::Rule": f"arn:aws:events:{region}:{account}:rule/{name}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute in ("TopicArn",) and kind == "AWS::SNS::Topic":
            return arns[kind]
        if attribute in ("TopicName", "Name", "RoleId", "QueueName"):
            return name
        if attribute == "DomainName" and kind == "AWS::S3::Bucket":
            return f"{name}.s3.amazonaws.com"
        raise TemplateError(f"{logical_id}.{attribute} ({kind}) is not known to the emulated account")

    def _role_arn(self, logical_id: str, properties: Mapping[str, Any]) -> str:
        """The resource's Role, or the one SAM generates for it when the template names none."""
        if "Role" in properties:
            return str(self.resolve(properties["Role"]))
        return f"arn:aws:iam::{self.account_id}:role/{self.stack_name}-{logical_id}Role-{_suffix(logical_id + 'Role', self.stack_name)}"

    # -- what the emulated account deploys -----------------------------------------------------
    def functions(self) -> list[FunctionDefinition]:
        globals_ = ((self.document.get("Globals") or {}).get("Function")) or {}
        result = []
        for logical_id, resource in self.resources_of_type("AWS::Serverless::Function").items():
            properties = {**globals_, **(resource.get("Properties") or {})}
            env = dict(((globals_.get("Environment") or {}).get("Variables")) or {})
            env.update((((resource.get("Properties") or {}).get("Environment") or {}).get("Variables")) or {})
            environment = {k: _env_string(v) for k, v in self.resolve(env).items()}
            code_uri = self.resolve(properties.get("CodeUri"))
            if not isinstance(code_uri, str):
                raise TemplateError(f"{logical_id}: CodeUri must be a local path")
            handler = self.resolve(properties.get("Handler"))
            if not handler:
                raise TemplateError(f"{logical_id}: no Handler")
            role = self._role_arn(logical_id, properties)
            result.append(
                FunctionDefinition(
                    logical_id=logical_id,
                    name=self.physical_name(logical_id),
                    arn=self.get_att(logical_id, "Arn"),
                    code_dir=(self.base_dir / code_uri).resolve(),
                    handler=str(handler),
                    runtime=str(self.resolve(properties.get("Runtime", "python3.13"))),
                    timeout=int(self.resolve(properties.get("Timeout", 3))),
                    memory_size=int(self.resolve(properties.get("MemorySize", 128))),
                    environment=environment,
                    role_arn=str(role),
                )
            )
        return result

    def state_machines(self) -> list[StateMachineDefinition]:
        result = []
        kinds = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
        for logical_id, resource in self.resources_of_type(*kinds).items():
            properties = resource.get("Properties") or {}
            if "DefinitionUri" in properties:
                uri = self.resolve(properties["DefinitionUri"])
                if not isinstance(uri, str):
                    raise TemplateError(f"{logical_id}: DefinitionUri must be a local path")
                text = (self.base_dir / uri).read_text(encoding="utf-8")
            elif "Definition" in properties:
                text = json.dumps(properties["Definition"])
            elif "DefinitionString" in properties:
                text = str(self.resolve(properties["DefinitionString"]))
            else:
                raise TemplateError(f"{logical_id}: no definition")
            substitutions = self.resolve(properties.get("DefinitionSubstitutions") or {})
            for key, value in substitutions.items():
                text = text.replace("${" + key + "}", str(value))
            left = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)))
            if left:
                raise TemplateError(f"{logical_id}: the definition uses {left} but DefinitionSubstitutions does not define them")
            json.loads(text)  # a broken definition fails here, not inside the interpreter
            role = self._role_arn(logical_id, properties)
            result.append(
                StateMachineDefinition(
                    logical_id=logical_id,
                    name=self.physical_name(logical_id),
                    arn=self.get_att(logical_id, "Arn"),
                    definition=text,
                    role_arn=str(role),
                    type=str(self.resolve(properties.get("Type", "STANDARD"))),
                )
            )
        return result


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        raise TemplateError(f"environment variable value {value!r} is not a string")
    return str(value)
