"""Runs the functions' real handlers in process, as Lambda would.

moto's Docker-less Lambda backend echoes the payload back. Here an Invoke runs
the handler module named by the template (imported once per account, like a
warm container), with the function's environment, a Lambda context whose
remaining time follows the virtual clock, and exceptions turned into function
errors (``errorType`` is the exception's class name), so the state machine's
Retry and Catch see what they would see on AWS.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO
from unittest import mock

from emulated_account import faults
from emulated_account.clock import VirtualClock


@dataclass
class FunctionSpec:
    """One function as the template deploys it."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str] = field(default_factory=dict)
    timeout: int = 3
    memory_size: int = 128
    runtime: str = "python3.13"
    role_arn: str = ""


class LambdaContext:
    """The context object a Python handler receives."""

    def __init__(self, spec: FunctionSpec, clock: VirtualClock, request_id: str) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory_size
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = f"2026/11/02/[$LATEST]{request_id.replace('-', '')}"
        self.identity = None
        self.client_context = None
        self._deadline = clock.now() + spec.timeout
        self._clock = clock

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.now()) * 1000))


@dataclass
class Invocation:
    function: str
    request_id: str
    started_at: float
    ended_at: float
    error_type: str | None
    payload_bytes: int
    result_bytes: int


class _StdoutRouter(io.TextIOBase):
    """Where handler output goes: loggers created at import keep this object, not a fixed stream."""

    def __init__(self) -> None:
        self.target: TextIO | None = None

    def write(self, text: str) -> int:
        target = self.target or sys.__stderr__
        if target is not None:
            target.write(text)
        return len(text)

    def flush(self) -> None:
        if self.target is not None:
            self.target.flush()

    def writable(self) -> bool:
        return True


_ROUTER = _StdoutRouter()


class LambdaRuntime:
    def __init__(
        self,
        clock: VirtualClock,
        functions: Sequence[FunctionSpec],
        library_paths: Sequence[Path] = (),
        region: str = "us-east-1",
        output: TextIO | None = None,
        extra_environment: dict[str, str] | None = None,
    ) -> None:
        self.clock = clock
        self.functions = {spec.logical_id: spec for spec in functions}
        self.library_paths = [str(p) for p in library_paths]
        self.region = region
        self.output = output
        self.extra_environment = dict(extra_environment or {})
        self.invocations: list[Invocation] = []
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.RLock()
        self._by_name = {}
        for spec in functions:
            self._by_name[spec.name] = spec
            self._by_name[spec.arn] = spec

    def resolve(self, function_name: str) -> FunctionSpec | None:
        if function_name in self._by_name:
            return self._by_name[function_name]
        # An ARN with a qualifier (":$LATEST", ":alias"), or a partial ARN.
        base = function_name.split(":function:")[-1].split(":")[0]
        return self._by_name.get(base)

    # -- the patched moto operation --------------------------------------------------------------
    def invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        spec = self.resolve(function_name)
        assert spec is not None
        if isinstance(body, (bytes, bytearray)):
            body = body.decode("utf-8")
        event = json.loads(body) if body else {}
        error, payload = self.run(spec, event)
        if error is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    def run(self, spec: FunctionSpec, event: Any) -> tuple[str | None, bytes]:
        """Run the handler once; returns (errorType or None, response payload)."""
        request_id = str(uuid.uuid4())
        started = self.clock.now()
        error_type: str | None = None
        body = b"null"
        payload: dict[str, Any] = {}
        # The gate first: a wait of the state machine holds it when an event it delivers runs a handler.
        with self.clock.gate, self._lock, self._environment(spec), self._stdout(), faults.calls_made_by(spec.logical_id):
            started = self.clock.now()  # once the gate is held: time spent waiting for it is not the handler's
            context = LambdaContext(spec, self.clock, request_id)
            try:
                result = self._handler(spec)(event, context)
            except Exception as exc:  # noqa: BLE001 - every handler error becomes a function error, as in Lambda
                import traceback

                error_type = type(exc).__name__
                payload = {
                    "errorMessage": str(exc),
                    "errorType": error_type,
                    "requestId": request_id,
                    "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)[-5:]),
                }
            else:
                if self.clock.now() - started > spec.timeout:
                    error_type = "Sandbox.Timedout"
                    payload = {"errorType": error_type, "errorMessage": f"{request_id} Task timed out after {spec.timeout:.2f} seconds"}
                else:
                    try:
                        body = json.dumps(result).encode()
                    except (TypeError, ValueError) as exc:
                        error_type = "Runtime.MarshalError"
                        payload = {"errorType": error_type, "errorMessage": f"Unable to marshal response: {exc}"}
        if error_type:
            body = json.dumps(payload).encode()
        self.invocations.append(Invocation(spec.logical_id, request_id, started, self.clock.now(), error_type, len(json.dumps(event)), len(body)))
        return error_type, body

    # -- helpers --------------------------------------------------------------------------------
    def _handler(self, spec: FunctionSpec) -> Any:
        module_path, _, attribute = spec.handler.rpartition(".")
        module = self._modules.get(spec.logical_id)
        if module is None:
            module = self._import(spec, module_path)
            self._modules[spec.logical_id] = module
        return getattr(module, attribute)

    def _import(self, spec: FunctionSpec, module_path: str) -> ModuleType:
        path = spec.code_dir / (module_path.replace(".", "/") + ".py")
        if not path.is_file():
            raise FileNotFoundError(f"{spec.logical_id}: handler module {path} does not exist")
        # Every handler is app.py: give each its own module name so they never share one.
        name = f"_emulated_{spec.logical_id}_{id(self):x}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        added = [p for p in [str(spec.code_dir), *self.library_paths] if p not in sys.path]
        sys.path[:0] = added
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            for p in added:
                with contextlib.suppress(ValueError):
                    sys.path.remove(p)
        return module

    @contextlib.contextmanager
    def _environment(self, spec: FunctionSpec) -> Iterator[None]:
        values = {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            # No X-Ray daemon listens here: tracing stays off as it does under `sam local`.
            "POWERTOOLS_TRACE_DISABLED": "true",
            **self.extra_environment,
            **spec.environment,
        }
        with mock.patch.dict(os.environ, values):
            yield

    @contextlib.contextmanager
    def _stdout(self) -> Iterator[None]:
        previous = sys.stdout
        _ROUTER.target = self.output if self.output is not None else (previous if previous is not _ROUTER else None)
        sys.stdout = _ROUTER
        try:
            yield
        finally:
            sys.stdout = previous


@contextlib.contextmanager
def installed(runtime: LambdaRuntime) -> Iterator[LambdaRuntime]:
    """Send moto's Invoke of the template's functions to ``runtime``."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke

    def invoke(backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any) -> Any:
        if runtime.resolve(function_name) is None:
            return original(backend, function_name, qualifier, body, headers, response_headers)
        return runtime.invoke(function_name, body, response_headers)

    with mock.patch.object(LambdaSimpleBackend, "invoke", invoke):
        yield runtime
