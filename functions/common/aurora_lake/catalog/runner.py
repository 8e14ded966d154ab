"""Running the catalog work of an export: Athena queries, and work items in parallel.

Athena queries (``run_units``)
------------------------------
Work is a list of *units*; a unit is a short sequence of statements that must
run in order. Units run concurrently, at most ``concurrency`` queries in flight
(Athena allows 20 concurrent DDL queries per account by default). Units carry a
phase: no unit starts before every unit of an earlier phase has succeeded.

* Running queries are polled with BatchGetQueryExecution, up to 50 ids per
  call, so polling costs one call per round instead of one per query.
* A throttled StartQueryExecution (or status call) is retried after an
  exponential back-off; nothing is dropped.
* A query that fails because Athena or Glue throttled it (or that Athena marks
  retryable) is started again, a bounded number of times.
* Any other failure raises ``AthenaQueryFailed`` with the reason and statement.
* Once ``deadline`` is near, no new query starts; the run returns a cursor
  (the first unit not known to be complete) for the next invocation. Units
  after the cursor that did complete run again next time, which is safe
  because every statement is idempotent.

Work items (``run_parallel``)
-----------------------------
Each item (one table's Iceberg commit, or one table's expiry) runs in a thread pool of bounded
size; near the deadline no new item starts and the run returns a cursor (the first item not known
to be done). Every item is safe to do again: items after the cursor that did finish run again,
as no-ops, in the next invocation.

Time is read and waited on through ``aurora_lake.clock`` only.
"""

from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aurora_lake import clock
from aurora_lake.errors import AthenaQueryFailed, aws_error, error_code
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
# BatchGetQueryExecution takes at most 50 ids.
BATCH_GET_LIMIT = 50
# Polls in a row for which BatchGetQueryExecution may leave a query unreported.
MAX_UNPROCESSED_POLLS = 10



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
    start_calls: int = 0  # StartQueryExecution calls, throttled ones included
    status_calls: int = 0  # BatchGetQueryExecution (or GetQueryExecution) calls
    query_ids: dict[int, str] = field(default_factory=dict)  # unit -> the query that ran its last statement


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
    unprocessed: dict[str, int] = field(default_factory=dict)

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
            self.result.start_calls += 1
            try:
                response = self.athena.start_query_execution(
                    QueryString=sql,
                    QueryExecutionContext={"Database": self.database},
                    WorkGroup=self.workgroup,
                )
            except Exception as exc:
                if error_code(exc) in THROTTLE_CODES:
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

    def statuses(self, query_ids: list[str]) -> list[dict[str, Any]]:
        """The QueryExecution of each id Athena reports on (at most BATCH_GET_LIMIT ids)."""
        self.result.status_calls += 1
        response = self.athena.batch_get_query_execution(QueryExecutionIds=query_ids)
        self.unreported(response.get("UnprocessedQueryExecutionIds") or [])
        return list(response.get("QueryExecutions") or [])

    def unreported(self, unprocessed: list[dict[str, Any]]) -> None:
        """Queries the batch call did not report on stay running; again and again, and the run fails."""
        for item in unprocessed:
            query_id = str(item.get("QueryExecutionId"))
            self.unprocessed[query_id] = self.unprocessed.get(query_id, 0) + 1
            if self.unprocessed[query_id] >= MAX_UNPROCESSED_POLLS and query_id in self.in_flight:
                task = self.in_flight[query_id]
                raise AthenaQueryFailed(
                    f"Athena did not report on query {query_id} in {MAX_UNPROCESSED_POLLS} BatchGetQueryExecution calls: "
                    f"{item.get('ErrorCode')}: {item.get('ErrorMessage')}\n"
                    f"Statement: {self.units[task.unit].statements[task.statement][:_STATEMENT_IN_ERROR]}"
                )

    def poll(self, now: float) -> int:
        """Check every running query, 50 per call; returns how many finished."""
        finished = 0
        query_ids = list(self.in_flight)
        for first in range(0, len(query_ids), BATCH_GET_LIMIT):
            try:
                executions = self.statuses(query_ids[first:first + BATCH_GET_LIMIT])
            except Exception as exc:
                if error_code(exc) in THROTTLE_CODES:
                    self.result.throttled += 1
                    return finished
                if hasattr(exc, "response"):
                    raise aws_error(exc) from exc
                raise
            for execution in executions:
                query_id = execution.get("QueryExecutionId")
                task = self.in_flight.get(query_id) if isinstance(query_id, str) else None
                if task is None:
                    continue
                status = execution.get("Status") or {}
                state = status.get("State")
                if state in ("QUEUED", "RUNNING", None):
                    continue
                finished += 1
                del self.in_flight[query_id]
                self.unprocessed.pop(query_id, None)
                if state == "SUCCEEDED":
                    self.result.query_ids[task.unit] = query_id
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


# -- work items in parallel -----------------------------------------------------------------------

T = TypeVar("T")
R = TypeVar("R")
DEFAULT_WORKERS = 8
PARALLEL_DRAIN_SECONDS = 5.0


@dataclass
class ParallelResult(Generic[R]):
    cursor: int  # index of the first item not known to be done
    done: bool
    results: dict[int, R] = field(default_factory=dict)  # every item that finished, the cursor's and later ones
    max_in_flight: int = 0


class _Inline:
    """A one-worker executor that runs each task in the calling thread."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to the caller through the future, as a pool does
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def run_parallel(
    items: Sequence[T],
    start: int,
    work: Callable[[T], R],
    *,
    deadline: float,
    workers: int = DEFAULT_WORKERS,
    drain_seconds: float = PARALLEL_DRAIN_SECONDS,
) -> ParallelResult[R]:
    """``work(item)`` for ``items[start:]``, up to ``workers`` at once, until all are done or the deadline is near.

    No item starts within ``drain_seconds`` of the deadline; the ones running finish. The first
    exception is raised once the running items have ended (every item's work must be safe to do
    again: the next invocation starts again at the cursor).
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    result: ParallelResult[R] = ParallelResult(cursor=start, done=start >= len(items))
    if result.done:
        return result
    drain_seconds = min(drain_seconds, max(deadline - clock.now(), 0.0) * 0.25)
    executor: Any = _Inline() if workers == 1 else ThreadPoolExecutor(max_workers=workers, thread_name_prefix="catalog")
    pending: dict[Future[Any], int] = {}
    next_index, stop = start, False
    error: BaseException | None = None
    try:
        while True:
            while not stop and error is None and len(pending) < workers and next_index < len(items):
                if clock.now() >= deadline - drain_seconds:
                    stop = True
                    break
                # Each item runs in a copy of this context (logging and tracing keys follow it).
                future = executor.submit(contextvars.copy_context().run, work, items[next_index])
                pending[future] = next_index
                next_index += 1
                result.max_in_flight = max(result.max_in_flight, len(pending))
            if not pending:
                break
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in finished:
                index = pending.pop(future)
                try:
                    result.results[index] = future.result()
                except BaseException as exc:
                    error = error or exc
                    continue
                while result.cursor in result.results:
                    result.cursor += 1
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    if error is not None:
        raise error
    result.done = result.cursor >= len(items)
    return result
