"""Distributed Map as AWS runs it, where moto 5.2.5's interpreter stops short.

moto (like the LocalStack code it derives from) runs a Distributed Map's child workflows in
process and reads its ItemReader from S3, but:

* its ResultWriter writes only an empty ``manifest.json`` ("TODO: generate result files"):
  here every child execution is recorded and written as AWS documents it (ResultWriter page of
  the Step Functions developer guide): one ``SUCCEEDED_<n>.json`` / ``FAILED_<n>.json`` /
  ``ABORTED...`` file per status under ``<Prefix>/<map run id>/``, each a JSON array of the
  children's execution records (``ExecutionArn``, ``Input`` and ``Output`` as JSON text,
  ``Status``, and ``Error`` / ``Cause`` for a failed child), listed in the manifest's
  ``ResultFiles`` with their ``Key`` and ``Size``;
* it never fails a map run for failed children ("TODO: add support for failure toleration
  fields"): here the run fails with ``States.ExceedToleratedFailureThreshold`` when more
  children failed than ``ToleratedFailureCount`` / ``ToleratedFailurePercentage`` allow (both 0
  by default), as the Step Functions error-handling page says.

Forms no recording or page describes are refused (``UnknownParameterForm``): a ResultWriter
``WriterConfig`` (result transformations), and result files past one per status (AWS splits
them at 5 GB; a run here never comes near).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from emulated_account.sfn_integrations import UnknownParameterForm

EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
# Result file status names, in the manifest's order (ResultWriter page).
RESULT_STATUSES = ("FAILED", "PENDING", "SUCCEEDED")


@dataclass
class ChildExecution:
    """One child workflow execution of a map run, as a result file records it."""

    name: str
    execution_arn: str
    state_machine_arn: str
    input: Any
    started_at: dt.datetime
    stopped_at: dt.datetime | None = None
    status: str = "RUNNING"
    output: Any = None
    error: str | None = None
    cause: str | None = None

    def record(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "ExecutionArn": self.execution_arn,
            "Input": json.dumps(self.input, separators=(",", ":")),
            "InputDetails": {"Included": True},
            "Name": self.name,
            "RedriveCount": 0,
            "RedriveStatus": "REDRIVABLE" if self.status == "FAILED" else "NOT_REDRIVABLE",
            "StartDate": _iso(self.started_at),
            "StateMachineArn": self.state_machine_arn,
            "Status": self.status,
            "StopDate": _iso(self.stopped_at or self.started_at),
        }
        if self.status == "SUCCEEDED":
            entry["Output"] = json.dumps(self.output, separators=(",", ":"))
            entry["OutputDetails"] = {"Included": True}
        if self.status == "FAILED":
            entry["Error"], entry["Cause"] = self.error or "", self.cause or ""
        return entry


@dataclass
class MapRuns:
    """The children of every map run of the account, by map run ARN."""

    now: Callable[[], dt.datetime]
    children: dict[str, list[ChildExecution]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, map_run_arn: str, child: ChildExecution) -> None:
        with self._lock:
            self.children.setdefault(map_run_arn, []).append(child)

    def of(self, map_run_arn: str) -> list[ChildExecution]:
        with self._lock:
            return list(self.children.get(map_run_arn, []))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_current = threading.local()


def threshold_exceeded(failed: int, total: int, count: int, percentage: float) -> bool:
    """Whether ``failed`` of ``total`` children exceed what the map tolerates (AWS: either limit, when set)."""
    if failed == 0:
        return False
    if count and failed <= count:
        return False
    if percentage and total and failed * 100.0 / total <= percentage:
        return False
    return True


@contextlib.contextmanager
def installed(now: Callable[[], dt.datetime], on_unknown_form: Callable[[UnknownParameterForm], None]) -> Iterator[MapRuns]:
    """Patch moto's interpreter: record each child, enforce the tolerated failures, write the results."""
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent, FailureEventException
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (
        DistributedItemProcessorWorker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3 import (
        ResourceEvalS3,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramError, ProgramStopped, ProgramTimedOut
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    runs = MapRuns(now)
    original_eval_input = DistributedItemProcessorWorker._eval_input
    original_eval_job = DistributedItemProcessorWorker._eval_job
    original_map_run = DistributedIterationComponent._map_run

    def eval_input(worker: Any, env_frame: Any) -> None:
        original_eval_input(worker, env_frame)
        _current.child_input = env_frame.states.get_input()  # the child's input: the item, after ItemSelector

    def eval_job(worker: Any, env: Any, job: Any) -> None:
        record = worker._map_run_record
        name = str(uuid.uuid4())
        child = ChildExecution(
            name=name,
            execution_arn=record.map_state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name,
            state_machine_arn=record.map_state_machine_arn,
            input=job.job_input,
            started_at=now(),
        )
        _current.child_input = job.job_input
        try:
            original_eval_job(worker, env, job)
        finally:
            child.input = getattr(_current, "child_input", job.job_input)
            child.stopped_at = now()
            state = env.program_state()
            if isinstance(state, ProgramError):
                details = state.error or {}
                child.status, child.error, child.cause = "FAILED", details.get("error"), details.get("cause")
            elif isinstance(state, ProgramStopped):
                child.status = "ABORTED"
            elif isinstance(state, ProgramTimedOut):
                child.status = "TIMED_OUT"
            elif isinstance(state, ProgramEnded):
                child.status, child.output = "SUCCEEDED", job.job_output
            else:
                # Not a state AWS leaves a child in: fail loudly rather than guess its record.
                child.status, child.error = "FAILED", "States.Runtime"
                child.cause = f"the emulated child execution ended in {type(state).__name__}"
            runs.add(record.map_run_arn, child)

    def map_run(component: Any, env: Any, eval_input: Any) -> None:
        original_map_run(component, env, eval_input)
        record = eval_input.map_run_record
        children = runs.of(record.map_run_arn)
        failed = sum(1 for child in children if child.status != "SUCCEEDED")
        if threshold_exceeded(failed, len(children), int(record.tolerated_failure_count or 0), float(record.tolerated_failure_percentage or 0)):
            error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
            cause = f"The specified tolerated failure threshold was exceeded: {failed} of {len(children)} child executions failed."
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=error,
                    event_type=HistoryEventType.MapRunFailed,
                    event_details=EventDetails(mapRunFailedEventDetails=MapRunFailedEventDetails(error=error.error_name, cause=cause)),
                )
            )

    def put_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        parameters = env.stack.pop()
        env.stack.pop()  # the children's outputs: the result files carry them
        unknown = set(parameters) - {"Bucket", "Prefix"}
        if unknown:
            error = UnknownParameterForm(f"ResultWriter Parameters {sorted(unknown)}: no recording shows what AWS does with them")
            on_unknown_form(error)
            raise error
        record = env.map_run_record_pool_manager.get_all()[-1]
        map_run_id = record.map_run_arn.split(":")[-1]
        prefix = str(parameters.get("Prefix") or "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        s3 = boto_client_for(region=resource_runtime_part.region, service="s3", state_credentials=state_credentials)
        children = runs.of(record.map_run_arn)
        files: dict[str, list[dict[str, Any]]] = {status: [] for status in RESULT_STATUSES}
        by_status: dict[str, list[dict[str, Any]]] = {}
        for child in children:
            by_status.setdefault(child.status, []).append(child.record())
        for status, entries in sorted(by_status.items()):
            key = f"{prefix}{map_run_id}/{status}_0.json"
            body = json.dumps(entries).encode("utf-8")
            s3.put_object(Bucket=parameters["Bucket"], Key=key, Body=body)
            files.setdefault(status, []).append({"Key": key, "Size": len(body)})
        manifest = {"DestinationBucket": parameters["Bucket"], "MapRunArn": record.map_run_arn, "ResultFiles": files}
        key = f"{prefix}{map_run_id}/manifest.json"
        s3.put_object(Bucket=parameters["Bucket"], Key=key, Body=json.dumps(manifest, indent=2).encode("utf-8"))
        env.stack.append({"MapRunArn": record.map_run_arn, "ResultWriterDetails": {"Bucket": parameters["Bucket"], "Key": key}})

    with contextlib.ExitStack() as stack:
        patch = stack.enter_context
        patch(mock.patch.object(DistributedItemProcessorWorker, "_eval_input", eval_input))
        patch(mock.patch.object(DistributedItemProcessorWorker, "_eval_job", eval_job))
        patch(mock.patch.object(DistributedIterationComponent, "_map_run", map_run))
        patch(mock.patch.object(ResourceEvalS3, "_handle_put_object", staticmethod(put_object)))
        yield runs
