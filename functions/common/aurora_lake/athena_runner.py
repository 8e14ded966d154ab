"""Running many Athena DDL statements with bounded concurrency and a deadline.

Work is a list of *units*; a unit is a short sequence of statements that must
run in order (DROP then CREATE of one table). Units run concurrently, at most
``concurrency`` queries in flight (Athena allows 20 concurrent DDL queries per
account by default). Units carry a phase: no unit starts before every unit of
an earlier phase has succeeded, so, for example, no table is re-pointed before
every table of the new export exists.

* A throttled StartQueryExecution (or GetQueryExecution) is retried after an
  exponential back-off; nothing is dropped.
* A query that fails because Athena or Glue throttled it (or that Athena marks
  retryable) is started again, a bounded number of times.
* Any other failure raises ``AthenaQueryFailed`` with the reason and statement.
* Once ``deadline`` is near, no new query starts; the run returns a cursor
  (the first unit not known to be complete) for the next invocation. Units
  after the cursor that did complete run again next time, which is safe
  because every statement is idempotent.

Time is read and waited on through ``aurora_lake.clock`` only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aurora_lake import clock
from aurora_lake.errors import AthenaQueryFailed, aws_error
from aurora_lake.observability import logger

THROTTLE_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded", "SlowDown"})
# Texts in a FAILED query's reason that mean "too busy", not "wrong statement".
THROTTLE_REASONS = ("rate exceeded", "throttl", "toomanyrequests", "too many requests", "slow down")
MAX_QUERY_ATTEMPTS = 5
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
FIRST_POLL_SECONDS = 0.25
MAX_POLL_SECONDS = 2.0
# Stop starting queries this long before the deadline, so running ones can finish.
DRAIN_SECONDS = 20.0
_STATEMENT_IN_ERROR = 2000


@dataclass(frozen=True)
class Unit:
    statements: tuple[str, ...]
    phase: int = 0


@dataclass
class RunResult:
    cursor: int
    done: bool
    statements_succeeded: int = 0
    throttled: int = 0  # throttled API calls and throttled queries, all retried
    max_in_flight: int = 0
    stopped_with_running: int = 0  # queries still running when the deadline came


@dataclass
class _Task:
    unit: int
    statement: int
    attempt: int = 1
    not_before: float = 0.0


@dataclass
class _Runner:
    athena: Any
    units: Sequence[Unit]
    database: str
    workgroup: str
    concurrency: int
    deadline: float
    result: RunResult
    in_flight: dict[str, _Task] = field(default_factory=dict)
    ready: deque[_Task] = field(default_factory=deque)
    next_unit: int = 0
    complete: set[int] = field(default_factory=set)
    launch_not_before: float = 0.0
    backoff: float = FIRST_BACKOFF_SECONDS

    def phase_open(self, index: int) -> bool:
        """Every unit of an earlier phase is complete (units are sorted by phase)."""
        cursor = self.result.cursor
        return cursor >= len(self.units) or self.units[cursor].phase >= self.units[index].phase

    def take_task(self, now: float) -> _Task | None:
        for _ in range(len(self.ready)):
            task = self.ready.popleft()
            if task.not_before <= now:
                return task
            self.ready.append(task)
        if self.next_unit < len(self.units) and self.phase_open(self.next_unit):
            task = _Task(self.next_unit, 0)
            self.next_unit += 1
            return task
        return None

    def throttled(self, now: float) -> None:
        self.result.throttled += 1
        self.launch_not_before = now + self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF_SECONDS)

    def launch(self, now: float) -> None:
        while len(self.in_flight) < self.concurrency and now >= self.launch_not_before:
            task = self.take_task(now)
            if task is None:
                return
            sql = self.units[task.unit].statements[task.statement]
            try:
                response = self.athena.start_query_execution(
                    QueryString=sql,
                    QueryExecutionContext={"Database": self.database},
                    WorkGroup=self.workgroup,
                )
            except Exception as exc:
                if _error_code(exc) in THROTTLE_CODES:
                    self.ready.appendleft(task)
                    self.throttled(now)
                    logger.info("StartQueryExecution throttled, backing off", extra={"backoff_seconds": self.backoff})
                    return
                if hasattr(exc, "response"):
                    raise aws_error(exc) from exc
                raise
            self.backoff = FIRST_BACKOFF_SECONDS
            self.in_flight[response["QueryExecutionId"]] = task
            self.result.max_in_flight = max(self.result.max_in_flight, len(self.in_flight))

    def poll(self, now: float) -> int:
        """Check every running query; returns how many finished."""
        finished = 0
        for query_id, task in list(self.in_flight.items()):
            try:
                execution = self.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            except Exception as exc:
                if _error_code(exc) in THROTTLE_CODES:
                    self.result.throttled += 1
                    return finished
                if hasattr(exc, "response"):
                    raise aws_error(exc) from exc
                raise
            status = execution.get("Status", {})
            state = status.get("State")
            if state in ("QUEUED", "RUNNING", None):
                continue
            finished += 1
            del self.in_flight[query_id]
            if state == "SUCCEEDED":
                self.succeeded(task)
            else:
                self.failed(task, query_id, state, status, now)
        return finished

    def succeeded(self, task: _Task) -> None:
        self.result.statements_succeeded += 1
        if task.statement + 1 < len(self.units[task.unit].statements):
            self.ready.append(_Task(task.unit, task.statement + 1))
            return
        self.complete.add(task.unit)
        while self.result.cursor in self.complete:
            self.complete.discard(self.result.cursor)
            self.result.cursor += 1

    def failed(self, task: _Task, query_id: str, state: str, status: dict[str, Any], now: float) -> None:
        reason = str(status.get("StateChangeReason") or (status.get("AthenaError") or {}).get("ErrorMessage") or "no reason given")
        retryable = bool((status.get("AthenaError") or {}).get("Retryable")) or any(
            text in reason.lower() for text in THROTTLE_REASONS
        )
        sql = self.units[task.unit].statements[task.statement]
        if state == "FAILED" and retryable and task.attempt < MAX_QUERY_ATTEMPTS:
            self.result.throttled += 1
            delay = min(FIRST_BACKOFF_SECONDS * 2 ** (task.attempt - 1), MAX_BACKOFF_SECONDS)
            self.ready.append(_Task(task.unit, task.statement, task.attempt + 1, now + delay))
            logger.info("Athena query failed transiently, will run it again", extra={"query_execution_id": query_id, "reason": reason})
            return
        raise AthenaQueryFailed(
            f"Athena query {query_id} ended {state} (attempt {task.attempt}): {reason}\n"
            f"Statement: {sql[:_STATEMENT_IN_ERROR]}"
        )


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def run_units(
    athena: Any,
    units: Sequence[Unit],
    start: int,
    *,
    database: str,
    workgroup: str,
    concurrency: int,
    deadline: float,
    drain_seconds: float = DRAIN_SECONDS,
) -> RunResult:
    """Run ``units[start:]`` until all succeed or ``deadline`` (clock seconds) is near."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    # A short budget keeps most of itself for starting queries.
    drain_seconds = min(drain_seconds, max(deadline - clock.now(), 0.0) * 0.25)
    runner = _Runner(athena, units, database, workgroup, concurrency, deadline, RunResult(cursor=start, done=False), next_unit=start)
    poll_seconds = FIRST_POLL_SECONDS
    while True:
        now = clock.now()
        draining = now >= deadline - drain_seconds
        if not draining:
            runner.launch(now)
        if runner.result.cursor >= len(units):
            runner.result.done = True
            return runner.result
        if not runner.in_flight:
            if draining:
                return runner.result
            # Nothing running: wait only for a back-off to pass.
            wake = runner.launch_not_before
            if runner.ready:
                wake = max(wake, min(task.not_before for task in runner.ready))
            clock.sleep(max(wake - now, 0.0) or FIRST_POLL_SECONDS)
            continue
        if now >= deadline:
            runner.result.stopped_with_running = len(runner.in_flight)
            logger.warning("Deadline reached with queries running; they are idempotent and run again next time",
                           extra={"running": len(runner.in_flight)})
            return runner.result
        if runner.poll(now):
            poll_seconds = FIRST_POLL_SECONDS
            continue
        clock.sleep(min(poll_seconds, max(deadline - now, 0.0)) or FIRST_POLL_SECONDS)
        poll_seconds = min(poll_seconds * 1.5, MAX_POLL_SECONDS)
