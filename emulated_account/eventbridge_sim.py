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

With an organization (``organization.Organization``), each source account has a bus of its own
with the rules ``source-account.yaml`` created there: its RDS's export events (and the events a
test puts on it) are matched against them, and a rule whose target is the lake's bus forwards the
event unchanged (its ``account`` stays the sender's) when the lake's bus policy and the rule's role
allow it; a refused forwarding is counted in ``refused``. A lake rule that targets a state
machine starts it with its InputTransformer applied (``apply_input_transformer``).
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulated_account.clock import VirtualClock
    from emulated_account.organization import Organization
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
    # The account whose default bus the event is on: "" for the lake's.
    bus: str = field(default="", compare=False)


@dataclass
class Refusal:
    """An event that did not reach the lake's bus: who sent it, and why."""

    sender: str
    rule: str
    event: dict[str, Any]
    reason: str


class EventBus:
    """The default event bus, with the template's rules and their targets."""

    def __init__(
        self,
        template: Template,
        clock: VirtualClock,
        rds: RdsSimulator,
        runtime: LambdaRuntime,
        delivery: EventDelivery | None = None,
        organization: Organization | None = None,
        source_rds: dict[str, RdsSimulator] | None = None,
        start_execution: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.template = template
        self.organization = organization
        # The account's own dict: accounts the organization gains later are seen too.
        self.source_rds = source_rds if source_rds is not None else {}
        # Starts a state machine (ARN, input text), for lake rules that target one.
        self.start_execution = start_execution
        self.refused: list[Refusal] = []
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
        for bus, task, ended_at in self._export_endings():
            key = (f"{bus}:{task.export_task_identifier}", ended_at)
            if ended_at > now or key in self._announced:
                continue
            self._announced.add(key)
            rds = self.source_rds.get(bus, self.rds)
            event = export_finished_event(task, ended_at, rds.region, rds.account_id)
            self.published.append(event)
            if self.delivery.drop:
                continue
            for copy in range(self.delivery.copies):
                due = ended_at + self.delivery.delay_seconds + copy * self.delivery.copy_interval_seconds
                heapq.heappush(self._pending, _Pending(due, next(self._sequence), event, bus))

    def _export_endings(self) -> list[tuple[str, Any, float]]:
        """(bus, task, end) of every export of the lake ("") and of each source account."""
        endings = [("", task, ended_at) for task, ended_at in self.rds.export_endings()]
        for account, rds in self.source_rds.items():
            endings += [(account, task, ended_at) for task, ended_at in rds.export_endings()]
        return endings

    def put_event(self, event: dict[str, Any], at: float) -> None:
        """Deliver ``event`` at simulated time ``at``, whatever RDS does (a forged, early or stray event)."""
        with self._lock:
            self.published.append(event)
            heapq.heappush(self._pending, _Pending(float(at), next(self._sequence), event))

    def put_source_event(self, account_id: str, event: dict[str, Any], at: float) -> None:
        """``event`` on the default bus of source account ``account_id`` (as its RDS publishes it) at ``at``.

        EventBridge stamps the bus's account into ``account``; the source's rules decide where it goes.
        """
        if account_id not in self.source_rds:
            raise ValueError(f"{account_id} is not a source account of this organization ({sorted(self.source_rds)})")
        stamped = {**event, "account": account_id}
        with self._lock:
            self.published.append(stamped)
            heapq.heappush(self._pending, _Pending(float(at), next(self._sequence), stamped, account_id))

    def put_event_from(self, account_id: str, event: dict[str, Any], at: float) -> bool:
        """PutEvents by ``account_id`` straight onto the lake's bus: True when the bus policy takes it.

        EventBridge sets ``account`` to the sender's: no sender can claim another account.
        """
        stamped = {**event, "account": account_id}
        if self.organization is None or not self.organization.bus_accepts(account_id, None):
            self.refused.append(Refusal(account_id, "PutEvents", stamped, "the lake's bus policy does not allow this account events:PutEvents"))
            return False
        self.put_event(stamped, at)
        return True
    def next_due(self) -> float | None:
        """The next instant something is delivered (an export's end plus the delay counts)."""
        with self._lock:
            self._announce_ended_exports()
            times = [self._pending[0].due] if self._pending else []
            # An export's end is when RDS publishes its event (delivered, or lost, later).
            times += [
                ended_at
                for bus, task, ended_at in self._export_endings()
                if (f"{bus}:{task.export_task_identifier}", ended_at) not in self._announced
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
        if pending.bus:
            self._forward(pending)
            return
        for logical_id, pattern, targets in self.rules:
            if not pattern.matches_event(pending.event):
                continue
            for target in targets:
                self.deliveries.append(self._invoke(logical_id, target, pending))

    def _forward(self, pending: _Pending) -> None:
        """An event on a source account's bus: its rules forward it to the lake's bus, or not."""
        from moto.events.models import EventPattern

        assert self.organization is not None
        source = self.organization.sources.get(pending.bus)
        if source is None:
            return  # the stack set has not reached the account (or it left): nothing forwards its events
        for logical_id, properties in source.rules:
            if not EventPattern(None, properties["EventPattern"]).matches_event(pending.event):
                continue
            for target in properties.get("Targets") or []:
                name = f"{pending.bus}:{logical_id}"
                if set(target) & {"Input", "InputPath", "InputTransformer"}:
                    # PutTargets refuses these on a cross-account bus target (FIDELITY.md, organization).
                    raise NotImplementedError(f"rule {name}: target {target.get('Id')} transforms the event, which a bus target of another account cannot")
                if target.get("Arn") != self.organization.lake_bus_arn:
                    raise NotImplementedError(f"rule {name}: target {target.get('Arn')} is not the lake's bus ({self.organization.lake_bus_arn})")
                role = target.get("RoleArn")
                if not role or not self.organization.bus_accepts(pending.bus, str(role)):
                    reason = f"PutEvents on the lake's bus refused to {role or 'a target without RoleArn'}"
                    self.refused.append(Refusal(pending.bus, name, pending.event, reason))
                    # A permission error is not retried: the event goes to the target's dead-letter queue, if any.
                    dead_letter_queue = (target.get("DeadLetterConfig") or {}).get("Arn")
                    if dead_letter_queue:
                        from emulated_account.organization import dead_letter

                        rule_arn = source.template.get_att(logical_id, "Arn")
                        dead_letter(str(dead_letter_queue), pending.event, str(rule_arn), str(target.get("Arn")), reason)
                    continue
                self.deliveries.append(Delivery(name, str(target.get("Id")), pending.event, pending.due, delivered_at=self.clock.now()))
                self._deliver(_Pending(pending.due, pending.sequence, pending.event))

    def _invoke(self, rule: str, target: dict[str, Any], pending: _Pending) -> Delivery:
        delivery = Delivery(rule, str(target.get("Id")), pending.event, pending.due, delivered_at=self.clock.now())
        arn = str(target.get("Arn", ""))
        if ":states:" in arn and ":stateMachine:" in arn and self.start_execution is not None and set(target) <= {"Id", "Arn", "RoleArn", "InputTransformer", "RetryPolicy", "DeadLetterConfig"}:
            text = apply_input_transformer(target["InputTransformer"], pending.event) if "InputTransformer" in target else json.dumps(pending.event)
            delivery.result = self.start_execution(arn, text)
            return delivery
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


def _json_path(document: Any, path: str) -> Any:
    """The subset of JSONPath InputPathsMap uses here: ``$.a.b``."""
    if not re.fullmatch(r"\$(\.[A-Za-z0-9_-]+)+", path):
        raise ValueError(f"unsupported InputPathsMap path {path!r}")
    for key in path[2:].split("."):
        document = document[key]
    return document


def apply_input_transformer(transformer: dict[str, Any], event: dict[str, Any]) -> str:
    """EventBridge's InputTransformer: each <name> of InputTemplate becomes the value at its path.

    Outside a JSON string a placeholder takes the JSON value (a string gets its quotes);
    inside one, the text is inserted escaped, without quotes.
    """
    values = {name: _json_path(event, path) for name, path in transformer.get("InputPathsMap", {}).items()}
    template: str = transformer["InputTemplate"]
    out, in_string, i = [], False, 0
    while i < len(template):
        ch = template[i]
        match = re.match(r"<([A-Za-z0-9_.-]+)>", template[i:])
        if match and match.group(1) in values:
            value = values[match.group(1)]
            out.append(json.dumps(value)[1:-1] if in_string and isinstance(value, str) else json.dumps(value))
            i += match.end()
            continue
        if ch == "\\" and in_string:
            out.append(template[i : i + 2])
            i += 2
            continue
        if ch == '"':
            in_string = not in_string
        out.append(ch)
        i += 1
    return "".join(out)
