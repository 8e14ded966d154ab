"""A local AWS account (moto) that runs the real workflow on simulated time.

Used by ``make demo``, ``make bench`` and the scenario tests: the template's
resources, the real ASL and the real handlers, with snapshot, export and
Athena simulators, fault injection and call recording.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EmulatedAccount",
    "EventDelivery",
    "ExecutionResult",
    "ExportBehaviour",
    "Fault",
    "FaultPlan",
    "VirtualClock",
    "export_progress",
    "snapshot_progress",
]


def __getattr__(name: str) -> Any:
    # Lazy: importing the package (e.g. for export_progress) does not import moto.
    if name in ("EmulatedAccount", "ExecutionResult"):
        from emulated_account import account

        return getattr(account, name)
    if name in ("ExportBehaviour", "export_progress", "snapshot_progress"):
        from emulated_account import rds_sim

        return getattr(rds_sim, name)
    if name == "EventDelivery":
        from emulated_account.eventbridge_sim import EventDelivery

        return EventDelivery
    if name in ("Fault", "FaultPlan"):
        from emulated_account import faults

        return getattr(faults, name)
    if name == "VirtualClock":
        from emulated_account.clock import VirtualClock

        return VirtualClock
    raise AttributeError(name)
