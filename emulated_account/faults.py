"""Fault injection and call recording for every AWS client in the emulated account.

Both hook ``botocore.client.BaseClient._make_api_call``: one SDK call (with
whatever retries the SDK does inside it) is one call here. The account's own
clients (starting executions, reading history) and the simulators' direct
writes to moto's backends are neither faulted nor recorded.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from unittest import mock

from emulated_account import fidelity

STATE_MACHINE = "StateMachine"
INTERNAL_ATTRIBUTE = "_emulated_account_internal"
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
_HTTP_STATUS_BY_CODE = {
    # Query and REST-XML services (RDS, S3, STS, SNS) answer a refusal with 403 (IAM User Guide,
    # "Troubleshoot access denied error messages"; RDS errors quoted with "Status Code: 403", FIDELITY.md).
    "AccessDenied": 403,
    "AuthorizationError": 403,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
    "SlowDown": 503,
    "InternalFailure": 500,
    "InternalError": 500,
    "InternalServerError": 500,
    "InternalServerException": 500,
    "ServiceException": 500,
}


# A context variable, not a thread-local: a handler that fans calls out to worker threads with
# contextvars.copy_context() (as the Glue upserts do) still has those calls recorded as its own.
# A new thread without a copied context (the state machine's) starts with no caller.
_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("emulated_account_caller", default=None)


_interpreter = threading.local()


def interpreter_caller() -> str | None:
    """The state machine whose Task state the interpreter is running in this thread, if any."""
    return getattr(_interpreter, "caller", None)


@contextlib.contextmanager
def calls_made_by_state_machine(caller: str) -> Iterator[None]:
    """Attribute the interpreter's own calls (Lambda Invoke, states:*) in this thread to ``caller``."""
    previous, _interpreter.caller = interpreter_caller(), caller
    try:
        yield
    finally:
        _interpreter.caller = previous


def current_caller() -> str | None:
    """The logical id of the function whose handler is running in this context, if any."""
    return _caller.get()


@contextlib.contextmanager
def calls_made_by(caller: str) -> Iterator[None]:
    token = _caller.set(caller)
    try:
        yield
    finally:
        _caller.reset(token)


@cache
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@cache
def _available_services() -> frozenset[str]:
    import botocore.session

    return frozenset(botocore.session.get_session().get_available_services())


@cache
def error_details(service: str, code: str) -> tuple[str, int]:
    """The wire error code and HTTP status for ``code``, which may be a modelled exception name.

    ``KMSKeyNotAccessibleFault`` and ``ExportTaskAlreadyExistsFault`` are the boto3
    exception names; the codes on the wire can differ (``ExportTaskAlreadyExists``).
    """
    model = _service_model(service)
    for shape_name in model.shape_names:
        shape = model.shape_for(shape_name)
        error = shape.metadata.get("error") if shape.metadata.get("exception") else None
        if not error and not shape.metadata.get("exception"):
            continue
        wire = (error or {}).get("code", shape_name)
        if code in (shape_name, wire):
            return wire, int((error or {}).get("httpStatusCode", _HTTP_STATUS_BY_CODE.get(wire, 400)))
    return code, _HTTP_STATUS_BY_CODE.get(code, 400)


@dataclass
class Fault:
    """The first ``count`` calls of ``service:operation`` fail with ``code``."""

    service: str
    operation: str
    code: str
    count: int
    used: int = 0

    @property
    def remaining(self) -> int:
        return self.count - self.used

    @property
    def spec(self) -> str:
        return f"{self.service}:{self.operation}:{self.code}:{self.count}"

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse ``SERVICE:Operation:ErrorCode:COUNT``; ValueError says what is wrong."""
        parts = spec.split(":")
        if len(parts) != 4:
            raise ValueError(f"fault {spec!r} must be SERVICE:Operation:ErrorCode:COUNT")
        service, operation, code, count_text = (p.strip() for p in parts)
        if service not in _available_services():
            raise ValueError(f"fault {spec!r}: {service!r} is not a boto3 client name (for example rds, s3, athena, sns, lambda)")
        operations = _service_model(service).operation_names
        if service == "lambda" and operation == "InvokeFunction":
            operation = "Invoke"  # the IAM action's name for the Invoke operation
        if operation not in operations:
            raise ValueError(f"fault {spec!r}: {service} has no operation {operation!r}")
        if not _CODE.match(code):
            raise ValueError(f"fault {spec!r}: {code!r} is not an error code")
        try:
            fidelity.check_code(service, operation, error_details(service, code)[0])
        except fidelity.InventedErrorCode as exc:
            raise ValueError(f"fault {spec!r}: {exc}") from None
        try:
            count = int(count_text)
        except ValueError:
            raise ValueError(f"fault {spec!r}: COUNT must be a whole number") from None
        if count < 0:
            raise ValueError(f"fault {spec!r}: COUNT must not be negative")
        return cls(service, operation, code, count)


@dataclass
class FaultPlan:
    faults: list[Fault] = field(default_factory=list)
    injected: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # service, op, code, caller
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, faults: Iterable[Fault | str]) -> FaultPlan:
        return cls([f if isinstance(f, Fault) else Fault.parse(f) for f in faults])

    def take(self, service: str, operation: str, caller: str | None = None) -> Fault | None:
        """Use up one failure of ``service:operation``, if any is left."""
        with self._lock:
            for fault in self.faults:
                if fault.service == service and fault.operation == operation and fault.remaining > 0:
                    fault.used += 1
                    self.injected.append((service, operation, fault.code, caller))
                    return fault
        return None


@dataclass
class CallRecord:
    """One AWS API call made by the workflow."""

    service: str
    operation: str
    caller: str  # the function's logical id, or "StateMachine" for the state machine's role
    params: dict[str, Any]
    at: float  # simulated time
    error: str | None = None
    # The access key that signed the call: names the account and role it acted as
    # (organization.principal_of), for calls into source accounts through an assumed role.
    access_key: str = ""

    @property
    def action(self) -> str:
        """The IAM action the call needs, as ``service:Operation`` (lambda:Invoke -> lambda:InvokeFunction)."""
        prefix = {"stepfunctions": "states"}.get(self.service, self.service)
        operation = "InvokeFunction" if (self.service, self.operation) == ("lambda", "Invoke") else self.operation
        return f"{prefix}:{operation}"


def _summarise(value: Any, depth: int = 0) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        return value if len(value) <= 2000 else value[:2000] + "..."
    if isinstance(value, dict):
        return {k: _summarise(v, depth + 1) for k, v in value.items()} if depth < 4 else "{...}"
    if isinstance(value, (list, tuple)):
        return [_summarise(v, depth + 1) for v in value[:50]] if depth < 4 else "[...]"
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return f"<{type(value).__name__}>"


@dataclass
class CallRecorder:
    calls: list[CallRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self.calls.append(record)


ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError"})
# The resource an RDS call is authorized on, by the parameter that names it (the ARN's resource type).
_RDS_RESOURCE_PARAMETERS = (
    ("DBClusterSnapshotIdentifier", "cluster-snapshot"),
    ("DBSnapshotIdentifier", "snapshot"),
    ("DBClusterIdentifier", "cluster"),
    ("DBInstanceIdentifier", "db"),
)


def access_denied_message(service: str, operation: str, principal: str, params: dict[str, Any], region: str, account: str) -> str:
    """AWS's refusal as IAM words it when a service control policy denies the call (FIDELITY.md, AccessDenied)."""
    prefix = {"stepfunctions": "states"}.get(service, service)
    action = f"{prefix}:{'InvokeFunction' if (service, operation) == ('lambda', 'Invoke') else operation}"
    resource = str(params.get("SourceArn") or "")
    if service == "rds" and not resource:
        for parameter, kind in _RDS_RESOURCE_PARAMETERS:
            if isinstance(params.get(parameter), str):
                resource = f"arn:aws:rds:{region}:{account}:{kind}:{params[parameter]}"
                break
    where = f" on resource: {resource}" if resource else ""
    return f"User: {principal} is not authorized to perform: {action}{where} with an explicit deny in a service control policy"


def make_client_error(client: Any, service: str, operation: str, code: str, message: str | None = None) -> Exception:
    if service == "lambda":
        code = code.removeprefix("Lambda.")  # Step Functions' name of a Lambda API error code
    wire, status = error_details(service, code)
    response = {
        "Error": {"Code": wire, "Message": message or f"Injected fault: {wire} on {service}:{operation}"},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "emulated-fault"},
    }
    return client.exceptions.from_code(wire)(response, operation)


@contextlib.contextmanager
def installed(
    plan: FaultPlan, recorder: CallRecorder, now: Any, api_call_seconds: float = 0.0, advance: Any = None, principal: Any = None
) -> Iterator[None]:
    """Wrap every botocore API call made while the account is active.

    ``principal(caller, access_key)`` names who made a call (an assumed-role session ARN): an
    injected access denial names it, as AWS's refusals do.
    """
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if getattr(self, INTERNAL_ATTRIBUTE, False):
            return original(self, operation_name, api_params)
        service = self.meta.service_model.service_name
        caller = current_caller()
        if caller is None:
            caller = interpreter_caller() or (STATE_MACHINE if (service, operation_name) == ("lambda", "Invoke") else None)
        record = None
        if caller is not None:
            credentials = getattr(self._request_signer, "_credentials", None)
            record = CallRecord(service, operation_name, caller, _summarise(api_params), now(), access_key=str(getattr(credentials, "access_key", "") or ""))
            recorder.add(record)
        if api_call_seconds and advance is not None:
            advance(api_call_seconds)
        # The state machine's Invoke faults too: the Lambda API refuses the call, and Step
        # Functions names it Lambda.<Code> with a plain-text Cause (sfn_integrations).
        fault = plan.take(service, operation_name, caller)
        if fault is not None:
            message = None
            if fault.code in ACCESS_DENIED_CODES and principal is not None:
                access_key = str(getattr(getattr(self._request_signer, "_credentials", None), "access_key", "") or "")
                who, account = principal(caller, access_key)
                message = access_denied_message(service, operation_name, who, api_params, self.meta.region_name, account)
            error = make_client_error(self, service, operation_name, fault.code, message)
            if record is not None:
                record.error = error.response["Error"]["Code"]  # type: ignore[attr-defined]
            raise error
        try:
            return original(self, operation_name, api_params)
        except Exception as exc:
            if record is not None:
                record.error = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            raise

    with mock.patch.object(BaseClient, "_make_api_call", make_api_call):
        yield


_internal_clients: dict[tuple[str, ...], Any] = {}
_internal_clients_lock = threading.Lock()


def internal_client(service: str, region: str) -> Any:
    """A boto3 client for the account's own bookkeeping: never faulted, never recorded.

    One per service, Region and credentials for the whole process (creating one costs 5 to
    12 ms of CPU, nine of them for every account): a client keeps no state of an account, as
    moto answers each request from the backends of the account active when it is sent. Callers
    must not change a client (no event handlers): it is shared.
    """
    import os

    import boto3

    credentials = tuple(os.environ.get(name, "") for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"))
    key = (service, region, *credentials)
    with _internal_clients_lock:
        client = _internal_clients.get(key)
        if client is None:
            client = _internal_clients[key] = boto3.client(service, region_name=region)
            setattr(client, INTERNAL_ATTRIBUTE, True)
        return client
