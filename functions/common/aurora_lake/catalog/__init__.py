"""The lake's catalog: every exported table made queryable in Athena, through the Glue Data Catalog.

The handlers and the rest of the library call only what this module exports:

* ``create_athena_tables(state, Settings.from_env(), deadline)`` plans an export's tables,
  then creates them in bounded batches (one call per invocation, resumed from the state);
* ``record_export`` and ``prune_expired_exports`` keep the catalog to the exports whose files
  still exist (``RetentionError`` when tables could not be dropped).

Inside, one module per concern:

* ``tables``: the step itself, from the export's metadata to the tables' plan and its run;
* ``names``: the Athena names of tables and columns; ``types``: exported type -> Athena type;
* ``ddl``: the DDL statement and the Glue ``TableInput`` of one table;
* ``runner``: Athena statements and Glue upserts, bounded and resumable;
* ``retention``: the ledger of exports, and dropping the tables of expired ones;
* ``ownership``: whose each table is; ``glue_limits``: what Glue and Athena accept.
"""

from __future__ import annotations

from aurora_lake.catalog.retention import RetentionError, RetentionResult, prune_expired_exports, record_export
from aurora_lake.catalog.tables import Settings, create_athena_tables

__all__ = [
    "RetentionError",
    "RetentionResult",
    "Settings",
    "create_athena_tables",
    "prune_expired_exports",
    "record_export",
]
