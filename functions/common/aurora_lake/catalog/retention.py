"""Drop the versioned Athena tables of exports whose files are gone.

Exports expire through the bucket's lifecycle rules (``ExportExpirationDays``) or are
deleted by hand; their versioned tables (``_{latest name}__{export id}``) would then linger,
empty, in the Glue database. Each run therefore

1. records its export in a small ledger object, ``athena-catalog/<export id>.json``, holding
   the export's S3 root (the ledger is outside every lifecycle rule), and
2. checks the oldest recorded exports (at most ``MAX_EXPORT_CHECKS`` per run, and only those
   older than the expiry when one is set): one ListObjectsV2 with MaxKeys=1 on the export's
   root each. For an export with no object left, its versioned tables are listed with a name
   filter (GetTables Expression, paged), every one whose ownership record names this stack,
   the versioned role and that export, and whose location is under that root, is
   dropped (BatchDeleteTable, at most ``MAX_TABLE_DROPS`` per run), and once none is left
   the ledger entry is deleted. A large export is finished by the following runs.

Latest tables are left alone: the cluster's next export re-points them.

Every step is bounded, whatever the size of the database (5,000 tables per export and many
exports): it never lists the whole database or the whole bucket.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aurora_lake import naming
from aurora_lake.catalog import names, ownership
from aurora_lake.export_metadata import is_data_file

LEDGER_PREFIX = naming.ATHENA_CATALOG_FOLDER
MAX_LEDGER_ENTRIES = 1000  # one ListObjectsV2 page
MAX_EXPORT_CHECKS = 10
MAX_TABLE_DROPS = 1000
DELETE_BATCH = 100  # BatchDeleteTable's limit


@dataclass
class RetentionResult:
    exports_checked: int = 0
    exports_gone: list[str] = field(default_factory=list)
    tables_dropped: int = 0
    more: bool = False  # tables of a gone export were left for the next run

    def summary(self) -> dict[str, Any]:
        return {
            "exports_checked": self.exports_checked,
            "exports_gone": self.exports_gone[:20],
            "tables_dropped": self.tables_dropped,
            "more": self.more,
        }


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def ledger_key(export_id: str) -> str:
    return f"{LEDGER_PREFIX}{names.sanitize(export_id)}.json"


def record_export(s3: Any, bucket: str, export_id: str, export_root: str, database: str) -> str:
    """Remember this export so that a later run can drop its tables once its files are gone."""
    key = ledger_key(export_id)
    body = {"export_task_identifier": export_id, "export_root": export_root, "glue_database": database}
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode(), ContentType="application/json")
    return key


def _files_exist(s3: Any, export_root: str) -> bool:
    """Whether the export still holds a data file (metadata and ``_SUCCESS`` markers are not data)."""
    bucket, key = _split(export_root)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        if any(is_data_file(obj["Key"]) for obj in page.get("Contents", [])):
            return True
    return False


def _versioned_tables(glue: Any, database: str, export_id: str, root: str, stack: str) -> Iterator[str]:
    # The filter narrows the listing to one export's versioned tables; the ownership record
    # and the location decide: only a versioned table this stack created for that export goes.
    suffix = names.SEPARATOR + names.sanitize(export_id)
    expression = f"{names.VERSIONED_MARK}.*{suffix}"
    kwargs: dict[str, Any] = {"DatabaseName": database, "Expression": expression, "MaxResults": 100}
    while True:
        page = glue.get_tables(**kwargs)
        for table in page.get("TableList", []):
            location = ((table.get("StorageDescriptor") or {}).get("Location")) or ""
            if (
                table["Name"].startswith(names.VERSIONED_MARK)
                and table["Name"].endswith(suffix)
                and location.startswith(root)
                and ownership.is_stack_table(table.get("Parameters"), stack, ownership.VERSIONED, export_id)
            ):
                yield table["Name"]
        if not page.get("NextToken"):
            return
        kwargs["NextToken"] = page["NextToken"]


def prune_expired_exports(
    s3: Any,
    glue: Any,
    bucket: str,
    database: str,
    *,
    current_export_id: str,
    now: float,
    min_age_seconds: float = 0.0,
) -> RetentionResult:
    result = RetentionResult()
    current = ledger_key(current_export_id)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=LEDGER_PREFIX, MaxKeys=MAX_LEDGER_ENTRIES).get("Contents", [])
    candidates = sorted(
        (entry for entry in listed if entry["Key"] != current and now - entry["LastModified"].timestamp() >= min_age_seconds),
        key=lambda entry: entry["LastModified"],
    )[:MAX_EXPORT_CHECKS]
    budget = MAX_TABLE_DROPS
    stack = ownership.stack_identity(database, bucket)
    for entry in candidates:
        try:
            recorded = json.loads(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
            root, export_id = str(recorded["export_root"]), str(recorded["export_task_identifier"])
        except (ValueError, KeyError, TypeError):
            # Not a ledger entry this stack wrote (the ledger folder holds only its own JSON).
            continue
        if recorded.get("glue_database") not in (None, database):
            continue  # another deployment's ledger entry: its tables are not this stack's to drop
        result.exports_checked += 1
        if _files_exist(s3, root):
            continue
        result.exports_gone.append(export_id)
        to_drop: list[str] = []
        for name in _versioned_tables(glue, database, export_id, root, stack):
            if len(to_drop) == budget:
                result.more = True
                break
            to_drop.append(name)
        for start in range(0, len(to_drop), DELETE_BATCH):
            response = glue.batch_delete_table(DatabaseName=database,
                                               TablesToDelete=to_drop[start : start + DELETE_BATCH])
            # A table dropped meanwhile (another run, a person) is what we wanted anyway.
            failed = [e for e in response.get("Errors", []) if (e.get("ErrorDetail") or {}).get("ErrorCode") != "EntityNotFoundException"]
            if failed:
                raise RetentionError(f"could not drop {len(failed)} table(s) of expired export {export_id}: {failed[0]}")
        result.tables_dropped += len(to_drop)
        budget -= len(to_drop)
        if result.more:
            break
        s3.delete_object(Bucket=bucket, Key=entry["Key"])  # every table of this export is gone
        if budget == 0:
            break
    return result


class RetentionError(Exception):
    """Tables of an expired export could not be dropped."""
