"""EventBridge of the emulated account: RDS's export events, delivered to the template's rules.

When a simulated export task ends, RDS's event announcing it (``rds_sim.export_finished_event``)
is published on the default bus. Every ``AWS::Events::Rule`` the template creates is matched
against it with moto's EventBridge pattern matcher, on the pattern exactly as the template
declares it (resolved for this deployment), and each matching rule's target receives the
event: a Lambda function runs its real handler in the account's Lambda runtime.

Deliveries happen on the virtual clock, at the export's end plus ``EventDelivery.delay_seconds``
(RDS documents no delivery latency; events are best effort), while the state machine waits
(Wait states, Retry back-offs and callback tasks). ``EventDelivery`` can also drop every event
(the polling safety net alone) or deliver each one several times (duplicates).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulated_account.clock import VirtualClock
    from emulated_account.rds_sim import RdsSimulator
    from emulated_account.runtime import LambdaRuntime
    from emulated_account.template import Template


@dataclass(frozen=True)
class EventDelivery:
    """How EventBridge delivers the RDS export events of the account."""

    delay_seconds: float = 5.0
    drop: bool = False
    copies: int = 1
    # Each further copy arrives this long after the one before.
    copy_interval_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.delay_seconds < 0 or self.copy_interval_seconds < 0:
            raise ValueError("event delays must not be negative")
        if self.copies < 1:
            raise ValueError(f"copies must be at least 1, not {self.copies}")


@dataclass
class Delivery:
    """One event handed to one rule's target."""

    rule: str
    target: str
    event: dict[str, Any]
    due: float
    delivered_at: float | None = None
    error_type: str | None = None
    result: Any = None


@dataclass(order=True)
class _Pending:
    due: float
    sequence: int
    event: dict[str, Any] = field(compare=False)


class EventBus:
    """The default event bus, with the template's rules and their targets."""

    def __init__(
        self,
        template: Template,
        clock: VirtualClock,
        rds: RdsSimulator,
        runtime: LambdaRuntime,
        delivery: EventDelivery | None = None,
    ) -> None:
        self.template = template
        self.clock = clock
        self.rds = rds
        self.runtime = runtime
        self.delivery = delivery or EventDelivery()
        self.published: list[dict[str, Any]] = []
        self.deliveries: list[Delivery] = []
        self._pending: list[_Pending] = []
        self._announced: set[tuple[str, float]] = set()
        self._sequence = itertools.count()
        self._lock = threading.RLock()
        self.rules = self._rules()

    def _rules(self) -> list[tuple[str, Any, list[dict[str, Any]]]]:
        from moto.events.models import EventPattern

        rules = []
        for logical_id, resource in self.template.resources_of_type("AWS::Events::Rule").items():
            properties = self.template.resolve(resource.get("Properties") or {})
            if properties.get("State", "ENABLED") != "ENABLED" or "EventPattern" not in properties:
                continue
            rules.append((logical_id, EventPattern(None, properties["EventPattern"]), list(properties.get("Targets") or [])))
        return rules

    # -- publishing -------------------------------------------------------------------------------
    def _announce_ended_exports(self) -> None:
        """Publish the event of every export that has ended by now, once."""
        from emulated_account.rds_sim import export_finished_event

        now = self.clock.now()
        for task, ended_at in self.rds.export_endings():
            key = (task.export_task_identifier, ended_at)
            if ended_at > now or key in self._announced:
                continue
            self._announced.add(key)
            event = export_finished_event(task, ended_at, self.rds.region, self.rds.account_id)
            self.published.append(event)
            if self.delivery.drop:
                continue
            for copy in range(self.delivery.copies):
                due = ended_at + self.delivery.delay_seconds + copy * self.delivery.copy_interval_seconds
                heapq.heappush(self._pending, _Pending(due, next(self._sequence), event))

    def put_event(self, event: dict[str, Any], at: float) -> None:
        """Deliver ``event`` at simulated time ``at``, whatever RDS does (a forged, early or stray event)."""
        with self._lock:
            self.published.append(event)
            heapq.heappush(self._pending, _Pending(float(at), next(self._sequence), event))

    def next_due(self) -> float | None:
        """The next instant something is delivered (an export's end plus the delay counts)."""
        with self._lock:
            self._announce_ended_exports()
            times = [self._pending[0].due] if self._pending else []
            # An export's end is when RDS publishes its event (delivered, or lost, later).
            times += [
                ended_at
                for task, ended_at in self.rds.export_endings()
                if (task.export_task_identifier, ended_at) not in self._announced
            ]
            return min(times, default=None)

    def deliver_due(self) -> None:
        """Deliver every event due by now, in order."""
        while True:
            with self._lock:
                self._announce_ended_exports()
                if not self._pending or self._pending[0].due > self.clock.now():
                    return
                pending = heapq.heappop(self._pending)
            self._deliver(pending)

    def _deliver(self, pending: _Pending) -> None:
        for logical_id, pattern, targets in self.rules:
            if not pattern.matches_event(pending.event):
                continue
            for target in targets:
                self.deliveries.append(self._invoke(logical_id, target, pending))

    def _invoke(self, rule: str, target: dict[str, Any], pending: _Pending) -> Delivery:
        import json

        delivery = Delivery(rule, str(target.get("Id")), pending.event, pending.due, delivered_at=self.clock.now())
        unsupported = {"Input", "InputPath", "InputTransformer"} & set(target)
        if unsupported:
            raise NotImplementedError(f"rule {rule}: target {target.get('Id')} uses {sorted(unsupported)}, which the emulated EventBridge does not apply")
        spec = self.runtime.resolve(str(target.get("Arn", "")))
        if spec is None:
            raise NotImplementedError(f"rule {rule}: target {target.get('Arn')} is not one of the template's functions")
        delivery.error_type, body = self.runtime.run(spec, pending.event)
        delivery.result = json.loads(body) if body else None
        return delivery

    # -- waiting ----------------------------------------------------------------------------------
    def wait(self, seconds: float, done: Callable[[], bool] | None = None) -> bool:
        """Let ``seconds`` of simulated time pass, delivering events as they fall due.

        Returns True as soon as ``done()`` holds after a delivery (the wait ends early there),
        False when the whole time passed.
        """
        deadline = self.clock.now() + max(0.0, float(seconds))
        while True:
            due = self.next_due()
            if due is None or due > deadline:
                self.clock.advance_to(deadline)
                return False
            self.clock.advance_to(due)
            self.deliver_due()
            if done is not None and done():
                return True
