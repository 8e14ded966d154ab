"""Which error codes the emulated account may raise, and on what evidence.

A code may be raised for an operation when the pinned botocore model declares it for that
operation (the ``error.code`` of the error shape, or the shape name where the protocol sends
the name), or when ``FIDELITY.md`` lists it in its error-code table with a source. Anything
else is an invented code: ``check_code`` refuses it, naming the value, so a guess about AWS
cannot hide in the emulated account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LEDGER = Path(__file__).with_name("FIDELITY.md")
ANY_OPERATION = "*"
STATUSES = ("CONFIRMED", "UNCONFIRMED")
_ERROR_TABLE_HEADING = "## Error codes not declared in the botocore model"


@dataclass(frozen=True)
class LedgerCode:
    service: str
    operation: str  # an operation name, or "*" for every operation of the service ("*" service: every service)
    code: str
    message: str
    source: str
    status: str


class InventedErrorCode(ValueError):
    """An error code that neither the botocore model nor the ledger knows for the operation."""


@cache
def _service_model(service: str) -> object:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@cache
def declared_codes(service: str, operation: str) -> frozenset[str]:
    """The wire codes the pinned botocore model declares for ``service:operation``."""
    model = _service_model(service).operation_model(operation)  # type: ignore[attr-defined]
    return frozenset(str((shape.metadata.get("error") or {}).get("code") or shape.name) for shape in model.error_shapes)


def _cells(line: str) -> list[str]:
    return [cell.strip().strip("`").strip() for cell in line.strip().strip("|").split("|")]


@cache
def ledger_codes(text: str | None = None) -> tuple[LedgerCode, ...]:
    """The rows of the ledger's error-code table (columns: service, operation, code, message, source, status)."""
    text = LEDGER.read_text() if text is None else text
    if _ERROR_TABLE_HEADING not in text:
        raise ValueError(f"{LEDGER.name} has no section {_ERROR_TABLE_HEADING!r}")
    section = text[text.index(_ERROR_TABLE_HEADING) + len(_ERROR_TABLE_HEADING) :]
    section = section.split("\n## ", 1)[0]
    rows: list[LedgerCode] = []
    for line in section.splitlines():
        if not line.startswith("|") or re.match(r"^\|\s*-", line) or line.lower().startswith("| service"):
            continue
        cells = _cells(line)
        if len(cells) != 6:
            raise ValueError(f"{LEDGER.name}: an error-code row needs 6 cells, not {len(cells)}: {line!r}")
        service, operation, code, message, source, status = cells
        if status not in STATUSES or not source:
            raise ValueError(f"{LEDGER.name}: row for {code!r} needs a source and CONFIRMED or UNCONFIRMED, not {status!r}")
        rows.append(LedgerCode(service, operation, code, message, source, status))
    return tuple(rows)


def ledger_entry(service: str, operation: str, code: str) -> LedgerCode | None:
    for row in ledger_codes():
        if row.code == code and row.service in (service, ANY_OPERATION) and row.operation in (operation, ANY_OPERATION):
            return row
    return None


def check_code(service: str, operation: str, code: str) -> str:
    """``code`` if the emulated account may raise it for ``service:operation``; InventedErrorCode otherwise."""
    if code in declared_codes(service, operation) or ledger_entry(service, operation, code) is not None:
        return code
    raise InventedErrorCode(
        f"{service}:{operation} cannot fail with {code!r}: the botocore model declares "
        f"{sorted(declared_codes(service, operation)) or 'no error'} for it and {LEDGER.name} lists no evidence for {code!r}"
    )


__all__ = ["ANY_OPERATION", "InventedErrorCode", "LedgerCode", "check_code", "declared_codes", "ledger_codes", "ledger_entry"]
