"""Simulated time for the emulated account.

The clock only moves when something waits: a Wait state, a Retry back-off, or
code that sleeps through ``aurora_lake.clock``. A day-long export therefore
runs in the real time it takes to execute the states, not the day.

Sleeps from several threads that start at the same instant end at the same
instant (each sleeper moves the clock to *its* wake-up time at most), so a
handler that waits on parallel work does not add the waits up.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

# A fixed, ordinary instant: runs are reproducible and never straddle a DST change.
DEFAULT_START = _dt.datetime(2026, 11, 2, 3, 0, 0, tzinfo=_dt.timezone.utc).timestamp()


class VirtualClock:
    """Seconds since the epoch, advanced only by simulated waiting."""

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._start = float(start)
        self._now = float(start)
        self._lock = threading.RLock()
        self._listeners: list[Callable[[float], None]] = []
        # Held while a handler runs: the interpreter's Waits and Retry back-offs of other
        # executions then move time between invocations, never during one (which would
        # look like a handler running past its timeout).
        self.gate = threading.RLock()
        # How the state machine's waits pass (set by the account: events fall due during them).
        self.waiter: Callable[[float, Callable[[], bool] | None], bool] | None = None

    @property
    def start(self) -> float:
        return self._start

    def now(self) -> float:
        with self._lock:
            return self._now

    def elapsed(self) -> float:
        """Simulated seconds since the clock started."""
        return self.now() - self._start

    def utcnow(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.now(), tz=_dt.timezone.utc)

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` from now; returns the new time."""
        if seconds < 0:
            raise ValueError(f"cannot move the clock backwards ({seconds} s)")
        with self._lock:
            return self.advance_to(self._now + seconds)

    def advance_to(self, instant: float) -> float:
        with self._lock:
            if instant > self._now:
                self._now = instant
            now = self._now
            listeners = list(self._listeners)
        for listener in listeners:
            listener(now)
        return now

    def sleep(self, seconds: float) -> None:
        """What ``time.sleep`` becomes for code running in the account."""
        if seconds and seconds > 0:
            self.advance(float(seconds))

    def interpreter_wait(self, seconds: float, done: Callable[[], bool] | None = None) -> bool:
        """A wait of the state machine: time passes (events fall due) until ``done()`` or the end.

        True when ``done()`` ended it early. The caller holds ``gate``.
        """
        if done is not None and done():
            return True
        if self.waiter is not None:
            return self.waiter(seconds, done)
        self.sleep(seconds)
        return False

    def on_advance(self, listener: Callable[[float], None]) -> None:
        """Call ``listener(now)`` after every move (simulations settle their state here)."""
        with self._lock:
            self._listeners.append(listener)


def _datetime_module_for(clock: VirtualClock) -> types.ModuleType:
    """A stand-in for the ``datetime`` module whose ``datetime.now()`` reads the clock.

    ``now()`` returns plain ``datetime.datetime`` objects, so values compare and
    serialise exactly as real ones do.
    """

    class _VirtualDatetime(_dt.datetime):
        @classmethod
        def now(cls, tz: _dt.tzinfo | None = None) -> _dt.datetime:  # type: ignore[override]
            return _dt.datetime.fromtimestamp(clock.now(), tz)

        @classmethod
        def utcnow(cls) -> _dt.datetime:  # type: ignore[override]
            return _dt.datetime.fromtimestamp(clock.now(), _dt.timezone.utc).replace(tzinfo=None)

    shim = types.ModuleType("datetime")
    shim.__dict__.update({k: v for k, v in vars(_dt).items() if not k.startswith("__")})
    shim.datetime = _VirtualDatetime  # type: ignore[attr-defined]
    return shim


# moto modules that stamp execution start/stop, history events and $$.State.EnteredTime.
_MOTO_DATETIME_MODULES = (
    "moto.stepfunctions.parser.models",
    "moto.stepfunctions.parser.backend.execution",
    "moto.stepfunctions.parser.asl.component.state.state",
    "moto.stepfunctions.parser.asl.eval.event.event_manager",
    "moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp",
)


@contextlib.contextmanager
def installed(clock: VirtualClock) -> Iterator[VirtualClock]:
    """Make the workflow code and moto's interpreter run on ``clock``; undo on exit."""
    import importlib

    from aurora_lake import clock as lake_clock
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackConsumerLeft,
        CallbackConsumerTimeout,
        CallbackPoolManager,
    )

    original_notify = CallbackPoolManager.notify

    def notify(self: Any, callback_id: str, outcome: Any) -> bool:
        # A task already completed cannot be completed again (moto would overwrite the outcome).
        endpoint = self.get(callback_id)
        if endpoint is not None and endpoint.consumer_error is None and endpoint.get_outcome() is not None:
            endpoint.report(CallbackConsumerLeft())
        return original_notify(self, callback_id, outcome)

    def wait_interval(self: Any, env: Any, wait_seconds: float) -> None:
        # A stopped execution must not move time on; otherwise the Wait is instantaneous.
        if wait_seconds and wait_seconds > 0 and env.is_running():
            with clock.gate:
                clock.interpreter_wait(float(wait_seconds))

    def interpreter_sleep(seconds: float) -> None:
        if seconds and seconds > 0:
            with clock.gate:
                clock.interpreter_wait(float(seconds))

    original_wait_for_task_token = StateTaskServiceCallback._wait_for_task_token_timeout

    def wait_for_task_token(self: Any, timeout_seconds: int, callback_endpoint: Any) -> Any:
        # A .sync task also listens for a token, in a thread beside its job's polling: that
        # listener keeps moto's real-time wait, which the job's end interrupts.
        if self.resource.condition != ResourceCondition.WaitForTaskToken:
            return original_wait_for_task_token(self, timeout_seconds, callback_endpoint)
        # moto waits in real time; here the timeout passes on the clock, and a SendTaskSuccess
        # made while it passes (by a handler an event ran) ends it at that instant.
        with clock.gate:
            clock.interpreter_wait(float(timeout_seconds), done=lambda: callback_endpoint.get_outcome() is not None)
            outcome = callback_endpoint.get_outcome()
            # As on AWS, a token is spent once its wait is over: a later SendTaskSuccess is refused
            # (TaskTimedOut after a timeout, TaskDoesNotExist after a success) instead of ignored.
            callback_endpoint.report(CallbackConsumerTimeout() if outcome is None else CallbackConsumerLeft())
        return outcome

    # retrier_decl does `import time; time.sleep(...)`: give it a time module whose sleep is virtual.
    virtual_time = types.ModuleType("time")
    import time as _time

    virtual_time.__dict__.update({k: v for k, v in vars(_time).items() if not k.startswith("__")})
    virtual_time.sleep = interpreter_sleep  # type: ignore[attr-defined]
    virtual_time.time = clock.now  # type: ignore[attr-defined]

    shim = _datetime_module_for(clock)
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", wait_interval))
        stack.enter_context(mock.patch.object(StateTaskServiceCallback, "_wait_for_task_token_timeout", wait_for_task_token))
        stack.enter_context(mock.patch.object(CallbackPoolManager, "notify", notify))
        stack.enter_context(mock.patch.object(retrier_decl, "time", virtual_time))
        for name in _MOTO_DATETIME_MODULES:
            module = importlib.import_module(name)
            if hasattr(module, "datetime") and isinstance(module.datetime, types.ModuleType):
                stack.enter_context(mock.patch.object(module, "datetime", shim))
        previous = (lake_clock._now, lake_clock._sleep)
        lake_clock.use_time_source(clock.now, clock.sleep)
        stack.callback(lake_clock.use_time_source, *previous)
        yield clock
