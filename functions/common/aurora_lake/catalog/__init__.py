"""The lake's catalog: every exported table an Apache Iceberg table in the Glue Data Catalog, queryable in Athena.

The handler calls only what this module exports:

* ``create_athena_tables(state, Settings.from_env(), deadline)`` plans an export's tables, then
  commits each one's export as a snapshot of its Iceberg table, checks Athena reads them, writes
  the drift log and cleans up after expired exports, in bounded invocations resumed from the state;
* ``run_source(state)`` names the source a run exported (its account, kind and identifier).

Inside, one module per concern:

* ``tables``: the step itself, from the export's metadata to the tables' plan and its run;
* ``iceberg``: one Iceberg table per source table, one snapshot per export (PyIceberg);
  ``iceberg_schema``: column types, their changes and the files' footers; ``iceberg_io``: S3 through boto3;
* ``names``: the names of tables and columns; ``types``: exported type -> Athena type;
* ``canary``: Athena's counts against the manifests'; ``drift``: what changed, the drift log;
* ``runner``: Athena queries and parallel work, bounded and resumable;
* ``retention``: the ledger of exports, and their snapshots' expiry;
* ``ownership``: whose each table is; ``glue_limits``: what Glue and Athena accept.

PyIceberg (and pyarrow) are imported by ``iceberg*`` and so by this package: only the catalog
step's function imports it and ships them.
"""

from __future__ import annotations

from aurora_lake.catalog.tables import Settings, create_athena_tables, run_source

__all__ = [
    "Settings",
    "create_athena_tables",
    "run_source",
]
