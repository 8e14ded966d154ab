"""An export whose files expire is never a readable snapshot: the ledger of exports and its clean-up.

Exports expire through the bucket's lifecycle rule (``ExportExpirationDays``) or are deleted by
hand. Each run records its export in the ledger, ``athena-catalog/<account>/<export id>.json``
(outside every lifecycle rule), with the export's root, when its files began to be written, and
the tables it has snapshots in; entries of 2.x releases, ``athena-catalog/<export id>.json``,
list no tables (their exports have versioned tables instead).

Each run then examines ledger entries from where the previous run stopped (a cursor,
``athena-catalog/_cursor.json``, wrapping around at the end), at most ``MAX_EXPORT_CHECKS`` a run:
every entry is examined within a bounded number of runs whatever the state of the others. An
export is expired when its files will expire within a day (``ExportExpirationDays`` after its
task started, less one day: S3 expires objects at the first midnight UTC after their age) or
when its root holds no data file any more. For an expired export, its snapshot leaves each of its
tables (an Iceberg commit that removes it, or drops the table when it was the last); a 2.x
entry's versioned tables are dropped as 2.x did. At most ``MAX_TABLE_COMMITS`` tables a run, and
never past the deadline: a large export is finished by the entry's own cursor (``next``) over the
following runs. The entry is deleted once every table is done.

Snapshots of exports past their age also leave their table at that table's next commit
(``iceberg.Committer.commit_export``), so a table exported daily keeps a bounded history even
before the ledger reaches its entries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aurora_lake import clock, naming
from aurora_lake.catalog import names, ownership
from aurora_lake.catalog.runner import run_parallel
from aurora_lake.export_metadata import is_data_file
from aurora_lake.observability import logger

LEDGER_PREFIX = naming.ATHENA_CATALOG_FOLDER
CURSOR_KEY = f"{LEDGER_PREFIX}_cursor.json"
LEDGER_VERSION = 3
MAX_LEDGER_PAGE = 1000  # one ListObjectsV2 page
MAX_EXPORT_CHECKS = 50
MAX_TABLE_COMMITS = 2000
DELETE_BATCH = 100  # BatchDeleteTable's limit
DAY_MS = 86_400_000


@dataclass
class RetentionResult:
    exports_checked: int = 0
    exports_gone: list[str] = field(default_factory=list)
    snapshots_removed: int = 0
    tables_dropped: int = 0
    more: bool = False  # tables of an expired export were left for the next run

    def summary(self) -> dict[str, Any]:
        return {
            "exports_checked": self.exports_checked,
            "exports_gone": self.exports_gone[:20],
            "snapshots_removed": self.snapshots_removed,
            "tables_dropped": self.tables_dropped,
            "more": self.more,
        }


class RetentionError(Exception):
    """Tables of an expired export could not be dropped."""


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def ledger_key(export_id: str, account: str | None = None) -> str:
    """``athena-catalog/<account>/<export id>.json`` (``account`` None: the key of 2.x entries)."""
    folder = naming.account_folder(account) if account is not None else ""
    return f"{LEDGER_PREFIX}{folder}{names.sanitize(export_id)}.json"


def record_export(
    s3: Any, bucket: str, export_id: str, export_root: str, database: str, account: str | None = None,
    *, export_started_ms: int | None = None, tables: list[str] | None = None, name_prefix: str | None = None,
) -> str:
    """Remember this export (of ``account``) and its tables, so that a later run removes its snapshots once its files go."""
    key = ledger_key(export_id, account)
    body: dict[str, Any] = {"export_task_identifier": export_id, "export_root": export_root, "glue_database": database}
    if account is not None:
        body["account"] = account
    if tables is not None:
        body.update(version=LEDGER_VERSION, export_started_ms=export_started_ms, tables=tables, name_prefix=name_prefix, next=0)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body, separators=(",", ":")).encode(), ContentType="application/json")
    return key


def _files_exist(s3: Any, export_root: str) -> bool:
    """Whether the export still holds a data file (metadata and ``_SUCCESS`` markers are not data)."""
    bucket, key = _split(export_root)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        if any(is_data_file(obj["Key"]) for obj in page.get("Contents", [])):
            return True
    return False


def _versioned_tables(glue: Any, database: str, export_id: str, root: str, stack: str) -> Iterator[str]:
    """A 2.x export's versioned tables: the name filter narrows, the ownership record and the location decide."""
    suffix = names.SEPARATOR + names.sanitize(export_id)
    kwargs: dict[str, Any] = {"DatabaseName": database, "Expression": f"{names.VERSIONED_MARK}.*{suffix}", "MaxResults": 100}
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


def _archived_names(glue: Any, database: str, name_prefix: str, stack: str) -> set[str]:
    """The archived tables of this stack among one source's names (one paged listing, narrowed by name)."""
    found: set[str] = set()
    kwargs: dict[str, Any] = {"DatabaseName": database, "Expression": f"{names.VERSIONED_MARK}{name_prefix}.*__[0-9]+$", "MaxResults": 100}
    while True:
        page = glue.get_tables(**kwargs)
        for table in page.get("TableList", []):
            if ownership.is_stack_table(table.get("Parameters"), stack, ownership.ARCHIVED):
                found.add(table["Name"])
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def archives_of(latest: str, archived: set[str]) -> list[str]:
    return [name for name in (names.archived_table_name(latest, n) for n in range(1, names.MAX_ARCHIVES + 1)) if name in archived]


def _expired(s3: Any, entry: dict[str, Any], recorded: dict[str, Any], now_ms: int, expiration_days: int) -> bool:
    started = recorded.get("export_started_ms")
    if not isinstance(started, int):
        started = int(entry["LastModified"].timestamp() * 1000)
    if expiration_days > 0 and now_ms >= started + (expiration_days - 1) * DAY_MS:
        return True
    return not _files_exist(s3, str(recorded["export_root"]))


def _read_cursor(s3: Any, bucket: str) -> str:
    try:
        return str(json.loads(s3.get_object(Bucket=bucket, Key=CURSOR_KEY)["Body"].read()).get("after") or "")
    except Exception as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return ""
        if isinstance(exc, (ValueError, AttributeError)):
            return ""
        raise


def _entries(s3: Any, bucket: str, after: str) -> list[dict[str, Any]]:
    """The ledger entries after ``after`` (one page), then from the start when that page is empty."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": LEDGER_PREFIX, "MaxKeys": MAX_LEDGER_PAGE}
    if after:
        kwargs["StartAfter"] = after
    listed = [e for e in s3.list_objects_v2(**kwargs).get("Contents", []) if e["Key"] != CURSOR_KEY]
    if not listed and after:
        kwargs.pop("StartAfter")
        listed = [e for e in s3.list_objects_v2(**kwargs).get("Contents", []) if e["Key"] != CURSOR_KEY]
    return listed


def prune_expired_exports(
    s3: Any,
    glue: Any,
    bucket: str,
    database: str,
    *,
    current_export_id: str,
    now: float,
    expiration_days: int = 0,
    current_account: str | None = None,
    remove_snapshots: Callable[[str, list[str], str], str] | None = None,
    deadline: float | None = None,
    max_table_commits: int = MAX_TABLE_COMMITS,
    workers: int = 8,
) -> RetentionResult:
    """Examine the next ledger entries and clean up after the expired ones (bounded; resumes where it stopped).

    ``remove_snapshots(table, export_ids, stack)``: ``iceberg.Committer.remove_exports`` for the database.
    """
    result = RetentionResult()
    now_ms = int(now * 1000)
    stack = ownership.stack_identity(database, bucket)
    current = ledger_key(current_export_id, current_account)
    after = _read_cursor(s3, bucket)
    budget = max_table_commits
    position = after
    for entry in _entries(s3, bucket, after)[:MAX_EXPORT_CHECKS]:
        if deadline is not None and clock.now() >= deadline:
            result.more = True
            break
        if entry["Key"] == current:
            position = entry["Key"]
            continue
        try:
            recorded = json.loads(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
            root, export_id = str(recorded["export_root"]), str(recorded["export_task_identifier"])
        except (ValueError, KeyError, TypeError):
            position = entry["Key"]  # not a ledger entry this stack wrote (the folder holds only its own JSON)
            continue
        if recorded.get("glue_database") not in (None, database):
            position = entry["Key"]  # another deployment's entry: its tables are not this stack's
            continue
        result.exports_checked += 1
        if not _expired(s3, entry, recorded, now_ms, expiration_days):
            position = entry["Key"]
            continue
        result.exports_gone.append(export_id)
        if "tables" in recorded:
            finished, used = _remove_snapshots(glue, database, recorded, stack, budget, deadline, remove_snapshots, workers, result)
        else:
            finished, used = _drop_versioned_tables(glue, database, export_id, root, stack, budget, result)
        budget -= used
        if not finished:
            s3.put_object(Bucket=bucket, Key=entry["Key"], Body=json.dumps(recorded, separators=(",", ":")).encode(), ContentType="application/json")
            result.more = True
            break  # the cursor stays before this entry: the next run continues it
        s3.delete_object(Bucket=bucket, Key=entry["Key"])
        position = entry["Key"]
        if budget <= 0:
            result.more = True
            break
    if position != after:
        s3.put_object(Bucket=bucket, Key=CURSOR_KEY, Body=json.dumps({"after": position}).encode(), ContentType="application/json")
    return result


def _remove_snapshots(glue: Any, database: str, recorded: dict[str, Any], stack: str, budget: int, deadline: float | None,
                      remove: Callable[[str, list[str], str], str] | None, workers: int, result: RetentionResult) -> tuple[bool, int]:
    """The export's snapshot leaves each of its tables (and their archived tables), from the entry's cursor."""
    if remove is None:
        raise RetentionError("removing Iceberg snapshots needs the catalog's committer")
    export_id = str(recorded["export_task_identifier"])
    tables = [str(name) for name in recorded.get("tables") or []]
    start = int(recorded.get("next") or 0)
    archived = _archived_names(glue, database, str(recorded["name_prefix"]), stack) if recorded.get("name_prefix") else set()
    items = [[name, *archives_of(name, archived)] for name in tables[start:start + budget]]

    def expire(names_of_one_table: list[str]) -> list[str]:
        return [remove(name, [export_id], stack) for name in names_of_one_table]

    ran = run_parallel(items, 0, expire, deadline=deadline if deadline is not None else clock.now() + 3600, workers=workers)
    for index in range(ran.cursor):
        for outcome in ran.results[index]:
            result.snapshots_removed += outcome in ("removed", "dropped")
            result.tables_dropped += outcome == "dropped"
    recorded["next"] = start + ran.cursor
    finished = recorded["next"] >= len(tables)
    if not finished:
        logger.info("Expired export's tables left for the next run", extra={"export": export_id, "next": recorded["next"], "tables": len(tables)})
    return finished, ran.cursor


def _drop_versioned_tables(glue: Any, database: str, export_id: str, root: str, stack: str, budget: int, result: RetentionResult) -> tuple[bool, int]:
    """A 2.x entry: drop the export's versioned tables (BatchDeleteTable, 100 a call)."""
    to_drop: list[str] = []
    more = False
    for name in _versioned_tables(glue, database, export_id, root, stack):
        if len(to_drop) == budget:
            more = True
            break
        to_drop.append(name)
    for start in range(0, len(to_drop), DELETE_BATCH):
        response = glue.batch_delete_table(DatabaseName=database, TablesToDelete=to_drop[start:start + DELETE_BATCH])
        # A table dropped meanwhile (another run, a person) is what was wanted anyway.
        failed = [e for e in response.get("Errors", []) if (e.get("ErrorDetail") or {}).get("ErrorCode") != "EntityNotFoundException"]
        if failed:
            raise RetentionError(f"could not drop {len(failed)} table(s) of expired export {export_id}: {failed[0]}")
    result.tables_dropped += len(to_drop)
    return not more, len(to_drop)
