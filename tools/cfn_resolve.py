"""Evaluate CloudFormation intrinsic functions for given parameter values, offline.

Reads a template the way CloudFormation would for one set of parameters: parameter defaults
and overrides, pseudo parameters, Conditions, ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``,
``Fn::Join``, ``Fn::Split``, ``Fn::Select``, ``Fn::If``, ``Fn::Equals``, ``Fn::Not``,
``Fn::And``, ``Fn::Or`` and ``AWS::NoValue``. Physical names of resources (what ``Ref`` and
``Fn::GetAtt`` return) come from the caller, because only the caller knows them (a test
account, an emulated account).

    resolver = Resolver(template, {"AllowedClusterIdentifiers": "a,b"}, physical=my_lookup)
    resolver.resolve(template["Resources"]["StartExportFunction"]["Properties"]["Environment"])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# Returned by Ref AWS::NoValue; removed from the lists and maps that contain it.
NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")

PhysicalLookup = Callable[[str, str | None], Any]
"""(logical id, attribute or None for Ref) -> value."""


def default_physical(logical_id: str, attribute: str | None) -> str:
    """Readable stand-ins: ``<ExportBucket>`` for Ref, ``<ExportRole.Arn>`` for GetAtt."""
    return f"<{logical_id}>" if attribute is None else f"<{logical_id}.{attribute}>"


class ResolveError(ValueError):
    """The template uses something this resolver cannot evaluate, or refers to nothing."""


class Resolver:
    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
        physical: PhysicalLookup = default_physical,
        region: str = "us-east-1",
        account: str = "123456789012",
        partition: str = "aws",
        stack_name: str = "aurora-lake",
    ) -> None:
        self.template = template
        self.physical = physical
        self.parameters: dict[str, Any] = {}
        given = dict(parameters or {})
        for name, spec in (template.get("Parameters") or {}).items():
            if name in given:
                value = given[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise ResolveError(f"parameter {name} has no default and no value was given")
            if spec.get("Type") in ("CommaDelimitedList", "List<String>") and isinstance(value, str):
                value = value.split(",")
            elif not isinstance(value, list):
                value = str(value)  # Ref of a Number parameter is a string, as in CloudFormation
            self.parameters[name] = value
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": partition,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack_name}/00000000-0000-0000-0000-000000000000",
            "AWS::URLSuffix": "amazonaws.com",
        }
        self._conditions: dict[str, bool] = {}

    # --- conditions -----------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            definitions = self.template.get("Conditions") or {}
            if name not in definitions:
                raise ResolveError(f"condition {name} is not defined")
            self._conditions[name] = bool(self.resolve(definitions[name]))
        return self._conditions[name]

    def resource_exists(self, logical_id: str) -> bool:
        resource = (self.template.get("Resources") or {}).get(logical_id)
        if resource is None:
            return False
        return "Condition" not in resource or self.condition(resource["Condition"])

    # --- values ----------------------------------------------------------------------

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in (self.template.get("Resources") or {}):
            return self.physical(name, None)
        raise ResolveError(f"Ref {name} names no parameter or resource")

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function evaluated."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
            if key.startswith("Fn::"):
                # Left unevaluated it would pass for a plain value: say so instead.
                raise ResolveError(f"{key} is not supported by this resolver")
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in (self.template.get("Resources") or {}):
                logical_id, attribute = name.split(".", 1)
                return str(self.physical(logical_id, attribute))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def _get_att(self, arg: Any) -> Any:
        logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        if logical_id not in (self.template.get("Resources") or {}):
            raise ResolveError(f"Fn::GetAtt {logical_id}.{attribute} names no resource")
        return self.physical(logical_id, self.resolve(attribute))

    def _if(self, arg: list[Any]) -> Any:
        name, if_true, if_false = arg
        return self.resolve(if_true if self.condition(name) else if_false)


def _join(resolver: Resolver, arg: list[Any]) -> str:
    delimiter, items = arg
    return delimiter.join(str(item) for item in resolver.resolve(items))


def _split(resolver: Resolver, arg: list[Any]) -> list[str]:
    delimiter, text = arg
    return str(resolver.resolve(text)).split(delimiter)


def _select(resolver: Resolver, arg: list[Any]) -> Any:
    index, items = resolver.resolve(arg[0]), resolver.resolve(arg[1])
    try:
        return items[int(index)]
    except IndexError as error:
        raise ResolveError(f"Fn::Select index {index} is out of range for {items!r}") from error


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, arg: r.ref(arg),
    "Fn::GetAtt": lambda r, arg: r._get_att(arg),
    "Fn::Sub": lambda r, arg: r._sub(arg),
    "Fn::Join": _join,
    "Fn::Split": _split,
    "Fn::Select": _select,
    "Fn::If": lambda r, arg: r._if(arg),
    "Fn::Equals": lambda r, arg: str(r.resolve(arg[0])) == str(r.resolve(arg[1])),
    "Fn::Not": lambda r, arg: not r.resolve(arg[0]),
    "Fn::And": lambda r, arg: all(r.resolve(item) for item in arg),
    "Fn::Or": lambda r, arg: any(r.resolve(item) for item in arg),
    "Condition": lambda r, arg: r.condition(arg),
}
