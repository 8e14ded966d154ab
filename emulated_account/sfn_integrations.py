"""Step Functions' service integrations as AWS runs them, where moto 5.2.5's interpreter differs.

Every rule follows a response recorded from AWS (LocalStack's AWS-validated snapshots, cited in
FIDELITY.md, "Step Functions"):

* ``aws-sdk:*`` and ``states:*`` tasks: the state's Parameters become the API request through the
  operation's model. A blob (S3 PutObject ``Body``) of any JSON value is sent as its compact JSON
  text, so a string is stored with its quotes; a string member given a JSON object gets its compact
  JSON text; PutObject without ContentType stores ``text/plain; charset=UTF-8``.
  moto passes a string Body through raw and refuses an object Body.
* A parameter, or a form of value, that no recording shows is refused: the task fails with
  ``States.Runtime`` and the account raises :class:`UnknownParameterForm` when the run ends, so
  a guess never passes silently (the state machine may catch the task's error).
* ``aws-sdk`` errors are ``<ServiceId>.<Code>Exception`` (``S3.NoSuchKeyException``), or
  ``<ServiceId>.<ServiceId>Exception`` for a code the model does not declare (``S3.S3Exception``).
* Lambda tasks (a function ARN as Resource): a function error's Cause is the payload text the
  function returned; an Invoke that the Lambda API refuses is ``Lambda.<Code>`` with the
  plain-text Cause ``<message> (Service: AWSLambda; Status Code: ...; Error Code: ...; ...)``.
* ``States.ALL`` never catches ``States.DataLimitExceeded`` (a Catch or Retry naming it does):
  a state past 256 KiB ends the run uncaught, as on AWS.
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any
from unittest import mock

# Compact JSON text, as recorded: {"Dict":"Value"} is stored as 16 bytes, ["List","Data"] as 15.
_COMPACT = {"separators": (",", ":"), "ensure_ascii": False}
# Members AWS sets when the state leaves them out, per operation (recorded, see the module doc).
RECORDED_DEFAULTS: dict[tuple[str, str], dict[str, str]] = {
    ("s3", "PutObject"): {"ContentType": "text/plain; charset=UTF-8"},
}
LAMBDA_SERVICE = "AWSLambda"  # how Step Functions names Lambda in a service error's Cause


class UnknownParameterForm(ValueError):
    """A task parameter (or a form of its value) for which no recording says what AWS sends."""


@cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


def operation_model(service: str, action: str) -> Any:
    """The botocore operation of ``service`` whose snake_case name is ``action`` (``put_object``)."""
    from botocore import xform_name

    model = _session().get_service_model(service)
    names = [name for name in model.operation_names if xform_name(name) == xform_name(action)]
    if not names:
        raise UnknownParameterForm(f"{service} has no operation {action!r}")
    return model.operation_model(names[0])


def _api_name(member: str) -> str:
    # Step Functions names request members as the API reference does: first letter upper case
    # (StateMachineArn for the model's stateMachineArn).
    return member[:1].upper() + member[1:]


def _refuse(path: str, value: Any, shape: Any, why: str) -> UnknownParameterForm:
    shown = json.dumps(value, default=str)
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    return UnknownParameterForm(f"{path}: {why} ({shape.type_name} member given {type(value).__name__} {shown})")


def _value(path: str, value: Any, shape: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise _refuse(path, value, shape, "a structure takes a JSON object")
        return _structure(path, value, shape)
    if kind == "list":
        if not isinstance(value, list):
            raise _refuse(path, value, shape, "a list takes a JSON array")
        return [_value(f"{path}[{i}]", item, shape.member) for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _refuse(path, value, shape, "a map takes a JSON object")
        return {key: _value(f"{path}.{key}", item, shape.value) for key, item in value.items()}
    if kind == "blob":
        # Recorded: a string, an object, an array, false and 0 are each stored as their JSON text.
        if isinstance(value, (str, dict, list, bool, int)):
            return json.dumps(value, **_COMPACT).encode("utf-8")
        raise _refuse(path, value, shape, "no recording shows how AWS serialises this value as a blob")
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            return json.dumps(value, **_COMPACT)  # recorded for startExecution's Input (an object only)
        raise _refuse(path, value, shape, "no recording shows how AWS sends this value as a string")
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind in ("float", "double") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise _refuse(path, value, shape, "no recording shows this form")


def _structure(path: str, parameters: dict[str, Any], shape: Any) -> dict[str, Any]:
    members = {_api_name(name): name for name in shape.members}
    request = {}
    for key, value in parameters.items():
        if key not in members:
            raise UnknownParameterForm(f"{path}.{key}: not a member of {shape.name} (members: {', '.join(sorted(members))})")
        request[members[key]] = _value(f"{path}.{key}", value, shape.members[members[key]])
    return request


def serialise(service: str, action: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The API request (botocore member names) AWS makes from a task's evaluated Parameters."""
    operation = operation_model(service, action)
    if operation.input_shape is None:
        if parameters:
            raise UnknownParameterForm(f"{service}:{operation.name} takes no parameters, given {sorted(parameters)}")
        return {}
    request = _structure(f"{service}:{operation.name}", parameters, operation.input_shape)
    for member, value in RECORDED_DEFAULTS.get((service, operation.name), {}).items():
        request.setdefault(member, value)
    return request


def lambda_service_error(code: str, message: str, status: int, request_id: str | None = None) -> tuple[str, str]:
    """The (Error, Cause) of a Lambda task whose Invoke the Lambda API refused, as recorded."""
    code = code.removeprefix("Lambda.")
    cause = (
        f"{message} (Service: {LAMBDA_SERVICE}; Status Code: {status}; Error Code: {code}; "
        f"Request ID: {request_id or uuid.uuid4()}; Proxy: null)"
    )
    return f"Lambda.{code}", cause


def sdk_service_id(service: str) -> str:
    """How an aws-sdk error names its service: the model's service id without spaces (``S3``, ``DynamoDb``: recorded)."""
    return {"stepfunctions": "Sfn", "dynamodb": "DynamoDb"}.get(service) or _session().get_service_model(service).service_id.replace(" ", "")


def sdk_error_name(service: str, error_class: str) -> str:
    """``S3.NoSuchKeyException`` (a declared error), ``S3.S3Exception`` (a code the model does not declare)."""
    service_id = sdk_service_id(service)
    name = f"{service_id}.{service_id if error_class == 'ClientError' else error_class}"
    return name if name.endswith("Exception") else name + "Exception"


@contextlib.contextmanager
def installed(on_unknown_form: Callable[[UnknownParameterForm], None]) -> Iterator[None]:
    """Patch moto's interpreter: aws-sdk and states:* requests, aws-sdk error names, Lambda task errors."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, InvocationResponse, LambdaFunctionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.utilities.collections import select_from_typed_dict

    def request_of(task: Any, parameters: dict, boto_service_name: str | None, service_action_name: str | None) -> None:
        service = task._get_boto_service_name(boto_service_name)
        action = task._get_boto_service_action(service_action_name)
        try:
            request = serialise(service, action, parameters)
        except UnknownParameterForm as error:
            on_unknown_form(error)
            raise
        parameters.clear()
        parameters.update(request)

    def aws_sdk_parameters(task: Any, parameters: dict, boto_service_name: str | None = None, service_action_name: str | None = None) -> None:
        request_of(task, parameters, boto_service_name, service_action_name)

    original_sfn_parameters = StateTaskServiceSfn._normalise_parameters

    def sfn_parameters(task: Any, parameters: dict, boto_service_name: str | None = None, service_action_name: str | None = None) -> None:
        original_sfn_parameters(task, parameters, boto_service_name, service_action_name)  # Input as JSON text
        request_of(task, parameters, boto_service_name, service_action_name)

    def sfn_response(task: Any, response: Any, boto_service_name: str | None = None, service_action_name: str | None = None) -> None:
        # The optimized states:* integration answers in the API's PascalCase (ExecutionArn, Output).
        shape = operation_model(task._get_boto_service_name(boto_service_name), task._get_boto_service_action(service_action_name)).output_shape
        if shape is not None:
            task._from_boto_response(response, shape)

    def service_error_name(api_name: str) -> str:
        # moto keeps the resource's lower-case name (``s3``) where AWS writes the service id (``S3``).
        return sdk_service_id(StateTaskServiceAwsSdk._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES.get(api_name, api_name))

    def execute_lambda(env: Any, parameters: dict, region: str, state_credentials: Any) -> None:
        if env.is_mocked_mode():
            return original_execute_lambda(env=env, parameters=parameters, region=region, state_credentials=state_credentials)
        client = lambda_eval_utils.boto_client_for(service="lambda", region=region, state_credentials=state_credentials)
        response = client.invoke(**parameters)
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            # Recorded: the Cause is the function's error payload as it returned it (the Python
            # runtime's JSON, with its spaces), not a re-serialisation.
            raise lambda_eval_utils.LambdaFunctionErrorException(response["FunctionError"], payload.decode("utf-8"))
        response["Payload"] = lambda_eval_utils._from_payload(io.BytesIO(payload))
        env.stack.append(select_from_typed_dict(typed_dict=InvocationResponse, obj=response))
        return None

    original_execute_lambda = lambda_eval_utils.execute_lambda_function_integration
    original_lambda_error = StateTaskLambda._from_error

    def lambda_task_error(task: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original_lambda_error(task, env, ex)
        metadata = ex.response.get("ResponseMetadata", {})
        error, cause = lambda_service_error(
            ex.response["Error"]["Code"], ex.response["Error"].get("Message", ""), metadata.get("HTTPStatusCode", 400), metadata.get("RequestId")
        )
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(error=error, cause=cause)),
        )

    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType

    original_error_equals = ErrorEqualsDecl._eval_body
    data_limit = StatesErrorName(typ=StatesErrorNameType.StatesStatesDataLimitExceeded)
    states_all = StatesErrorName(typ=StatesErrorNameType.StatesALL)

    def error_equals(decl: Any, env: Any) -> None:
        # States.ALL does not catch States.DataLimitExceeded (Step Functions Developer Guide, "Handling
        # errors"): the run ends there, with no Catch, clean-up or notification. moto lets it match.
        error_name = env.stack[-1]
        if error_name == data_limit and states_all in decl.error_names and data_limit not in decl.error_names:
            env.stack.pop()
            env.stack.append(False)
            return
        original_error_equals(decl, env)

    with contextlib.ExitStack() as stack:
        patch = stack.enter_context
        patch(mock.patch.object(ErrorEqualsDecl, "_eval_body", error_equals))
        patch(mock.patch.object(StateTaskServiceAwsSdk, "_normalise_parameters", aws_sdk_parameters))
        patch(mock.patch.object(StateTaskServiceSfn, "_normalise_parameters", sfn_parameters))
        patch(mock.patch.object(StateTaskServiceSfn, "_normalise_response", sfn_response))
        patch(mock.patch.object(StateTaskServiceAwsSdk, "_normalise_service_error_name", staticmethod(service_error_name)))
        patch(mock.patch.object(lambda_eval_utils, "execute_lambda_function_integration", execute_lambda))
        patch(mock.patch.object(StateTaskLambda, "_from_error", lambda_task_error))
        yield

