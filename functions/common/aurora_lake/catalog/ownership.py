"""Whose a Glue table is: the ownership record every table the stack writes carries.

Each table the stack creates holds, in its table ``Parameters``, the record of
its source and role::

    aurora_lake.stack                   the deployment (Glue database and export bucket)
    aurora_lake.source_account          12-digit account of the source
    aurora_lake.source_kind             what the source is (``cluster`` or ``instance``)
    aurora_lake.source_identifier       its identifier (the cluster or DB instance identifier)
    aurora_lake.source_table            database.schema.table exactly as RDS reported it
    aurora_lake.table_role              ``latest`` (since 3.0 an Iceberg table), ``archived`` (an
                                        Iceberg table's history before a column type change),
                                        ``versioned`` (2.x: one export's Hive table)
    aurora_lake.export_task_identifier  the export the table currently reads

The stack writes a table only when no table has its name yet, or when the table
there carries the same record (for a latest table: every field but the export;
for a versioned table: every field, since it is never changed after its run).
A table with no record was not created by the stack and is never touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "aurora_lake."
STACK = PREFIX + "stack"
SOURCE_ACCOUNT = PREFIX + "source_account"
SOURCE_KIND = PREFIX + "source_kind"
SOURCE_IDENTIFIER = PREFIX + "source_identifier"
SOURCE_TABLE = PREFIX + "source_table"
TABLE_ROLE = PREFIX + "table_role"
EXPORT = PREFIX + "export_task_identifier"

LATEST = "latest"
VERSIONED = "versioned"
ARCHIVED = "archived"
ROLES = (LATEST, VERSIONED, ARCHIVED)
# What identifies a latest table's owner: the export it reads changes with every run.
_LATEST_KEYS = (STACK, SOURCE_ACCOUNT, SOURCE_KIND, SOURCE_IDENTIFIER, SOURCE_TABLE, TABLE_ROLE)
_VERSIONED_KEYS = (*_LATEST_KEYS, EXPORT)


@dataclass(frozen=True)
class Source:
    """The database a run exports: its account, what kind of source it is, and its identifier."""

    account: str
    kind: str
    identifier: str


def stack_identity(glue_database: str, bucket: str) -> str:
    """The deployment, as the catalog knows it: its Glue database and export bucket."""
    return f"glue:{glue_database} s3:{bucket}"


def record(stack: str, source: Source, source_table: str, role: str, export_task_identifier: str) -> dict[str, str]:
    """The ownership record of one table, as Glue table parameters."""
    if role not in ROLES:
        raise ValueError(f"table role must be one of {ROLES}, not {role!r}")
    return {
        STACK: stack,
        SOURCE_ACCOUNT: source.account,
        SOURCE_KIND: source.kind,
        SOURCE_IDENTIFIER: source.identifier,
        SOURCE_TABLE: source_table,
        TABLE_ROLE: role,
        EXPORT: export_task_identifier,
    }


def same_owner(existing_parameters: Mapping[str, Any] | None, wanted: Mapping[str, str]) -> bool:
    """Whether a table with ``existing_parameters`` is the one ``wanted`` describes (so the stack may write it)."""
    existing = existing_parameters or {}
    keys = _VERSIONED_KEYS if wanted.get(TABLE_ROLE) == VERSIONED else _LATEST_KEYS
    return all(existing.get(key) == wanted.get(key) for key in keys)


def owner_text(existing_parameters: Mapping[str, Any] | None) -> str:
    """Who a table belongs to, for a report line: its source table and role, or that the stack did not create it."""
    existing = existing_parameters or {}
    if existing.get(TABLE_ROLE) not in ROLES:
        return "a table this stack did not create"
    return (
        f"the {existing.get(TABLE_ROLE)} table of {existing.get(SOURCE_TABLE)} "
        f"({existing.get(SOURCE_KIND)} {existing.get(SOURCE_IDENTIFIER)}, account {existing.get(SOURCE_ACCOUNT)}, "
        f"stack {existing.get(STACK)})"
    )


def is_stack_table(parameters: Mapping[str, Any] | None, stack: str, role: str, export_task_identifier: str | None = None) -> bool:
    """A table of this stack in ``role`` (and, when given, of that export): what retention may drop."""
    found = parameters or {}
    return (
        found.get(STACK) == stack
        and found.get(TABLE_ROLE) == role
        and (export_task_identifier is None or found.get(EXPORT) == export_task_identifier)
    )
