"""Athena table and column names for exported tables.

Table naming scheme
-------------------
All tables live in one Glue database (the deployment's ``GLUE_DATABASE``).
Each exported source table gets two tables there:

* the **latest** table, the name analysts and saved queries use::

      {cluster}__{database}__{schema}__{table}      (Aurora PostgreSQL)
      {cluster}__{database}__{table}                (Aurora MySQL, where the
                                                     schema is the database)

  e.g. ``demo_aurora_cluster__mydb__public__ledger_entries``. After every
  successful export it is re-pointed at the newest export's files through the
  AWS Glue Data Catalog API (UpdateTable; CreateTable the first time), with
  the newest export's columns. One UpdateTable swaps location and columns
  atomically: saved queries never meet a missing table (Athena DDL would need
  DROP TABLE + CREATE TABLE, with a gap between them), column changes between
  exports are carried over, and no Athena DDL query is spent on it. Its
  properties name the export (``aurora_lake.export_task_identifier``) and the
  versioned table (``aurora_lake.versioned_table``) it currently matches.

* the **versioned** table, one per export, which stays queryable for as long
  as that export's files stay in S3::

      _{latest name}__{export task identifier}

  e.g. ``_demo_aurora_cluster__mydb__public__ledger_entries__exp_20261101``.
  The leading underscore keeps the two kinds apart: a latest name begins with
  the source's identifier, whose first character is a letter (an RDS rule), so
  no source table name can ever produce a versioned table's name, whatever it
  is called.
  It is created with Athena DDL (``CREATE EXTERNAL TABLE IF NOT EXISTS``),
  the one Athena query per table and export, and never changed afterwards.
  The latest tables move only after every versioned table of the export
  exists, so a failed DDL statement never leaves some latest tables moved.

A cluster of a source account (issue 20) is named with its account in front, so clusters of the
same name in two accounts (or in a source account and the lake's) never share a table::

      {account}__{cluster}__{database}__{schema}__{table}
      _{account}__{cluster}__{database}__{schema}__{table}__{export task identifier}

e.g. ``111111111111__orders_aurora__shop__public__orders``. It begins with a digit, which no
name of the lake's own clusters does (they begin with the cluster's first letter), and its
versioned table with the underscore, as every versioned table does. The lake's own names are
unchanged.

Every part is lower-cased (Athena stores names in lower case) and every
character outside ``[a-z0-9_]`` becomes ``_``. Parts are joined with a double
underscore so that ``a_b.c`` and ``a.b_c`` stay distinct. A name longer than
Glue's 255 characters keeps its beginning (and the export identifier of a
versioned name) and ends in ``_`` plus 8 hex digits of a SHA-256 of the full
name, so it stays deterministic. Two source tables that still end up with the
same name are all left out of the catalog and reported, never merged.

Column names keep the source spelling, lower-cased (Parquet columns are matched
by name, and Athena compares names in lower case). They are quoted with
backticks in Athena DDL when they are reserved words, start with a digit or an
underscore, or hold any character outside ``[a-z0-9_]``; through the Glue API
they are given as they are, lower-cased and unquoted (quoting is DDL syntax).
Two columns of one table that differ only in case cannot both be read: the
table is left out of the catalog and reported.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable

MAX_NAME_LENGTH = 255
SEPARATOR = "__"
# Begins every versioned name and no latest name (a latest name begins with a letter).
VERSIONED_MARK = "_"
_HASH_LENGTH = 8
_INVALID = re.compile(r"[^a-z0-9_]")
_PLAIN_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_ACCOUNT = re.compile(r"[0-9]{12}")

# Athena's reserved words: the DDL list (Hive) and the SELECT list (Trino).
# Quoting a name that did not need it is harmless, so the union is used. Athena's published
# list spells CACHE as "cashe"; Hive reserves CACHE, so "cache" is listed here.
RESERVED_WORDS: frozenset[str] = frozenset(
    """
    all alter and array as authorization between bigint binary boolean both by cache case cast
    char column commit conf constraint create cross cube current current_date current_time
    current_timestamp current_catalog current_path current_role current_schema current_user
    cursor database date dayofweek deallocate decimal delete describe distinct div double drop
    else end escape except exchange execute exists extended external extract false fetch float
    floor following for foreign from full function grant group grouping having if import in
    inner insert int integer intersect interval into is join lateral left less like local
    localtime localtimestamp macro map more natural none normalize not null numeric of on only
    or order out outer over partialscan partition percent preceding precision prepare preserve
    primary procedure range reads recursive reduce references regexp revoke right rlike
    rollback rollup row rows select set smallint start table tablesample then time timestamp
    to transform trigger true truncate unbounded uescape union uniquejoin unnest update user
    using utc_timestamp values varchar views when where window with
    """.split()
)


def sanitize(part: str) -> str:
    """Lower-case ``part`` and replace every character outside ``[a-z0-9_]`` with ``_``."""
    return _INVALID.sub("_", part.lower())


def _fit(base: str, suffix: str = "") -> str:
    """``base + suffix``, shortened deterministically to at most MAX_NAME_LENGTH."""
    name = base + suffix
    if len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LENGTH]
    keep = MAX_NAME_LENGTH - len(suffix) - _HASH_LENGTH - 1
    if keep < 1:
        return name[: MAX_NAME_LENGTH - _HASH_LENGTH - 1] + "_" + digest
    return base[:keep] + "_" + digest + suffix


def _joined(cluster: str, database: str, schema: str, table: str, account: str | None = None) -> str:
    parts = [cluster, database] + ([] if schema == database else [schema]) + [table]
    joined = SEPARATOR.join(sanitize(part) for part in parts)
    if not joined[:1].isascii() or not joined[:1].isalpha():
        # Source identifiers begin with a letter; without one, a latest name could look versioned
        # (or like a source account's).
        raise ValueError(f"source identifier {cluster[:80]!r} does not begin with a letter")
    return _account_part(account) + joined


def _account_part(account: str | None) -> str:
    """``{account}__`` for a source account's cluster, nothing for the lake's own."""
    if account is None:
        return ""
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        raise ValueError(f"source account {str(account)[:40]!r} is not a 12-digit account ID")
    return account + SEPARATOR


def latest_table_name(cluster: str, database: str, schema: str, table: str, account: str | None = None) -> str:
    """The stable name of a source table's newest export (see the module docstring); ``account``: a source account's."""
    return _fit(_joined(cluster, database, schema, table, account))


def versioned_table_name(cluster: str, database: str, schema: str, table: str, export_id: str, account: str | None = None) -> str:
    """The name of a source table as exported by ``export_id``: never a latest table's name."""
    return _fit(VERSIONED_MARK + _joined(cluster, database, schema, table, account), SEPARATOR + sanitize(export_id))


# Archived histories kept per source table (each one Glue table): a bound on Glue objects.
MAX_ARCHIVES = 3


def archived_table_name(latest: str, generation: int) -> str:
    """The archived history of a latest table, ``_{latest}__{generation}`` (the generation a number).

    Like a versioned name it begins with ``_`` (never a latest name); its last part is a number,
    never an export identifier's (which begins with a letter), so it is no versioned name either.
    """
    if generation < 1:
        raise ValueError("an archived generation is numbered from 1")
    return _fit(VERSIONED_MARK + latest, SEPARATOR + str(generation))


def cluster_name_prefix(cluster: str, account: str | None = None) -> str:
    """How every latest name of ``cluster``'s tables begins (a hashed long name keeps its beginning)."""
    return _account_part(account) + sanitize(cluster) + SEPARATOR


def column_name(source_name: str) -> str:
    """The Athena spelling of a column (Athena lower-cases names)."""
    return source_name.lower()


def needs_quoting(name: str) -> bool:
    return not _PLAIN_IDENTIFIER.match(name) or name in RESERVED_WORDS


def quote(name: str) -> str:
    """``name`` in backticks (a backtick inside is doubled)."""
    return "`" + name.replace("`", "``") + "`"


def quote_if_needed(name: str) -> str:
    return quote(name) if needs_quoting(name) else name


def find_collisions(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """``{athena_name: [source names]}`` for every Athena name claimed by more than one source name.

    ``pairs`` holds ``(source name, athena name)``; a source name repeated with
    the same Athena name is not a collision.
    """
    sources: dict[str, list[str]] = defaultdict(list)
    for source, name in pairs:
        if source not in sources[name]:
            sources[name].append(source)
    return {name: found for name, found in sources.items() if len(found) > 1}
