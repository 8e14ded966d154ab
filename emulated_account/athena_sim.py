"""Athena queries that take (simulated) time, share a concurrency limit, and answer from the lake.

moto finishes every query at once and answers every SELECT with no rows. Here a query is RUNNING
until its latency has passed on the virtual clock, and StartQueryExecution refuses a DDL query
with TooManyRequestsException while the limit of running DDL queries is reached (Athena's
default is 20 concurrent DDL queries per account). A SELECT is answered from the lake itself
(``lake_query``: Iceberg tables through PyIceberg, with Athena's time travel clauses), and
GetQueryResults returns its rows as Athena does: strings, the column names as the first row.

``name_mapping_supported=False`` is the fault the run's canary exists for: an engine that ignores
the Iceberg name mapping reads every column of the exported files (which carry no field ids) as
NULL, without error.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from emulated_account import fidelity
from emulated_account.clock import VirtualClock

DEFAULT_DDL_CONCURRENCY = 20
_DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|MSCK|SHOW|DESCRIBE)\b", re.IGNORECASE)
_CREATE_TABLE = re.compile(
    r"^\s*CREATE\s+EXTERNAL\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?([`\"\w.]+)", re.IGNORECASE
)
_DROP_TABLE = re.compile(r"^\s*DROP\s+TABLE\s+(IF\s+EXISTS\s+)?([`\"\w.]+)", re.IGNORECASE)


def is_ddl(query: str) -> bool:
    return bool(_DDL.match(query))


def _table_name(raw: str, database: str | None) -> str:
    parts = [p.strip('`"').lower() for p in raw.split(".")]
    if len(parts) == 1 and database:
        parts = [database.lower(), parts[0]]
    return ".".join(parts)


@dataclass
class QueryRecord:
    query_id: str
    query: str
    workgroup: str | None
    database: str | None
    started_at: float
    finishes_at: float
    ddl: bool
    failure: str | None = None
    columns: list[str] | None = None  # a SELECT's result
    rows: list[list[Any]] | None = None


@dataclass
class AthenaSimulator:
    clock: VirtualClock
    ddl_latency_seconds: float = 0.0
    dml_latency_seconds: float = 0.0
    ddl_concurrency: int = DEFAULT_DDL_CONCURRENCY
    queries: list[QueryRecord] = field(default_factory=list)
    tables: dict[str, str] = field(default_factory=dict)
    refused: int = 0
    # Whether SELECTs read Iceberg tables through their name mapping (Athena's behaviour is UNCONFIRMED).
    name_mapping_supported: bool = True
    # moto's Glue backend of the account: DDL creates and drops its tables there, as Athena does.
    glue: Any = None
    _tokens: dict[str, str] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    # End times of the DDL queries that may still run (a heap): the clock never goes back, so a
    # query found finished is dropped for good, and each start costs log n instead of a scan of
    # every query ever started (quadratic over an export of thousands of tables).
    _ddl_ends: list[float] = field(default_factory=list)

    @property
    def query_strings(self) -> list[str]:
        return [record.query for record in self.queries]

    def running_ddl(self) -> int:
        now = self.clock.now()
        with self._lock:
            while self._ddl_ends and self._ddl_ends[0] <= now:
                heapq.heappop(self._ddl_ends)
            return len(self._ddl_ends)

    def start(self, backend: Any, params: dict[str, Any]) -> str:
        from moto.core.exceptions import JsonRESTError

        query = params.get("QueryString") or ""
        token = params.get("ClientRequestToken")
        context = params.get("QueryExecutionContext") or {}
        workgroup = params.get("WorkGroup")
        with self._lock:
            if token and token in self._tokens:
                return self._tokens[token]  # Athena's idempotency: same token, same query
            ddl = is_ddl(query)
            if ddl and self.running_ddl() >= self.ddl_concurrency:
                self.refused += 1
                code = fidelity.check_code("athena", "StartQueryExecution", "TooManyRequestsException")
                raise JsonRESTError(code, "Rate exceeded: too many concurrent DDL queries.")
            query_id = backend.start_query_execution(
                query=query,
                context=context,
                config=params.get("ResultConfiguration"),
                workgroup=workgroup,
                execution_parameters=params.get("ExecutionParameters"),
            )
            execution = backend.executions[query_id]
            execution.__class__ = _simulated_execution_class()
            now = self.clock.now()
            latency = self.ddl_latency_seconds if ddl else self.dml_latency_seconds
            record = QueryRecord(query_id, query, workgroup, context.get("Database"), now, now + latency, ddl)
            if self.glue is None:
                from moto.glue.models import glue_backends

                self.glue = glue_backends[backend.account_id][backend.region_name]
            if ddl:
                record.failure = self._apply_ddl(query, context.get("Database"))
            else:
                self._answer(record, backend.region_name)
            execution._record = record
            execution._clock = self.clock
            execution.start_time = now
            execution.end_time = now + latency
            self.queries.append(record)
            if ddl:
                heapq.heappush(self._ddl_ends, record.finishes_at)
            if token:
                self._tokens[token] = query_id
            return query_id

    def _answer(self, record: QueryRecord, region: str) -> None:
        """Run a SELECT over the lake as Athena would read it (the account's own clients: never faulted, never recorded)."""
        from emulated_account import lake_query
        from emulated_account.faults import internal_client

        try:
            result = lake_query.run_query(record.query, internal_client("glue", region), internal_client("s3", region), record.database,
                                          ignore_name_mapping=not self.name_mapping_supported)
        except (lake_query.LakeQueryError, lake_query.DeclaredTypeError) as exc:
            record.failure = f"INVALID_INPUT: {exc}"[:2000]
            return
        record.columns, record.rows = result.columns, result.rows

    def results(self, query_id: str) -> QueryRecord | None:
        return next((q for q in self.queries if q.query_id == query_id), None)

    def _apply_ddl(self, query: str, database: str | None) -> str | None:
        created = _CREATE_TABLE.match(query)
        if created:
            name = _table_name(created.group(2), database)
            exists = name in self.tables or _glue_table(self.glue, name) is not None
            if exists and not created.group(1):
                return f"AlreadyExistsException: Table {name} already exists."
            if exists:
                return None  # IF NOT EXISTS: the table there is left exactly as it is
            failure = _register_in_glue(self.glue, name, query)
            if failure is None:
                self.tables[name] = query
            return failure
        dropped = _DROP_TABLE.match(query)
        if dropped:
            name = _table_name(dropped.group(2), database)
            exists = name in self.tables or _glue_table(self.glue, name) is not None
            if not exists and not dropped.group(1):
                return f"EntityNotFoundException: Table {name} not found."
            self.tables.pop(name, None)
            if _glue_table(self.glue, name) is not None:
                db, table = name.split(".", 1)
                self.glue.delete_table(db, table)
        return None


# What Athena records in Glue for CREATE EXTERNAL TABLE ... STORED AS PARQUET: the table, its
# columns, LOCATION and TBLPROPERTIES (as Parameters). Parsed here from the statement's text,
# apart from the code that writes it, so that the two cannot share a mistake.
_LITERAL = r"'((?:[^'\\]|\\.)*)'"
_LOCATION = re.compile(r"^LOCATION\s+" + _LITERAL + r"\s*$", re.MULTILINE)
_PROPERTY = re.compile(_LITERAL + r"\s*=\s*" + _LITERAL)
_COLUMN = re.compile(r"^\s*(`(?:[^`]|``)*`|\w+)\s+(.+?)(?:\s+COMMENT\s+" + _LITERAL + r")?,?$")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _glue_table(glue: Any, name: str) -> Any:
    if glue is None or "." not in name:
        return None
    db, table = name.split(".", 1)
    found = glue.databases.get(db)
    return None if found is None else found.tables.get(table)


def _register_in_glue(glue: Any, name: str, query: str) -> str | None:
    """Create the Glue table the statement declares; the failure text Athena would give, or None."""
    if glue is None or "." not in name:
        return None
    db, table = name.split(".", 1)
    if db not in glue.databases:
        return None  # a database only the simulator knows (its own tests): the table stays in its list
    body = query.split("(\n", 1)[1].split("\n)", 1)[0] if "(\n" in query else ""
    columns = []
    for line in body.splitlines():
        match = _COLUMN.match(line)
        if not match:
            return f"ParseException: cannot read column definition {line.strip()[:80]!r}"
        column = {"Name": match.group(1).strip("`").replace("``", "`").lower(), "Type": match.group(2).strip()}
        if match.group(3) is not None:
            column["Comment"] = _unescape(match.group(3))
        columns.append(column)
    # The last LOCATION line and TBLPROPERTIES block are the statement's own (a comment before them may hold anything).
    locations = list(_LOCATION.finditer(query))
    location = locations[-1] if locations else None
    properties_text = query.rsplit("\nTBLPROPERTIES (", 1)[1] if "\nTBLPROPERTIES (" in query else ""
    parameters = {"EXTERNAL": "TRUE", **{_unescape(k): _unescape(v) for k, v in _PROPERTY.findall(properties_text)}}
    glue.create_table(db, table, {
        "Name": table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "StorageDescriptor": {"Columns": columns, "Location": _unescape(location.group(1)) if location else ""},
    })
    return None


_EXECUTION_CLASS: type | None = None


def _simulated_execution_class() -> type:
    global _EXECUTION_CLASS
    if _EXECUTION_CLASS is None:
        from moto.athena.models import Execution

        class SimulatedExecution(Execution):
            _record: QueryRecord
            _clock: VirtualClock

            @property  # type: ignore[override]
            def status(self) -> str:
                if self._clock.now() < self._record.finishes_at:
                    return "RUNNING"
                return "FAILED" if self._record.failure else "SUCCEEDED"

            @status.setter
            def status(self, value: str) -> None:
                pass

        _EXECUTION_CLASS = SimulatedExecution
    return _EXECUTION_CLASS


@contextlib.contextmanager
def installed(simulator: AthenaSimulator) -> Iterator[AthenaSimulator]:
    from moto.athena.responses import AthenaResponse

    original_get = AthenaResponse.get_query_execution

    def start_query_execution(self: Any) -> Any:
        workgroup = self._get_param("WorkGroup")
        if workgroup and not self.athena_backend.get_work_group(workgroup):
            return self.error("WorkGroup does not exist", 400)
        params = {
            name: self._get_param(name)
            for name in ("QueryString", "ClientRequestToken", "QueryExecutionContext", "ResultConfiguration", "WorkGroup", "ExecutionParameters")
        }
        query_id = simulator.start(self.athena_backend, params)
        return json.dumps({"QueryExecutionId": query_id})

    def get_query_execution(self: Any) -> Any:
        body = original_get(self)
        document = json.loads(body)
        execution = self.athena_backend.executions.get(self._get_param("QueryExecutionId"))
        record: QueryRecord | None = getattr(execution, "_record", None)
        if record is not None:
            status = document["QueryExecution"]["Status"]
            if status["State"] == "RUNNING":
                status.pop("CompletionDateTime", None)
            if status["State"] == "FAILED":
                status["StateChangeReason"] = record.failure
                status["AthenaError"] = {"ErrorCategory": 2, "ErrorType": 1301, "Retryable": False, "ErrorMessage": record.failure}
            document["QueryExecution"]["StatementType"] = "DDL" if record.ddl else "DML"
        return json.dumps(document)

    def batch_get_query_execution(self: Any) -> Any:
        # moto has no BatchGetQueryExecution; the step polls with it (up to 50 queries a call).
        found, unprocessed = [], []
        read_param = self._get_param
        try:
            for query_id in read_param("QueryExecutionIds") or []:
                if query_id not in self.athena_backend.executions:
                    unprocessed.append({"QueryExecutionId": query_id, "ErrorCode": "INVALID_INPUT", "ErrorMessage": "unknown query"})
                    continue
                # Answer each id exactly as GetQueryExecution would.
                self._get_param = lambda name, if_none=None, _id=query_id: _id if name == "QueryExecutionId" else read_param(name, if_none)
                found.append(json.loads(get_query_execution(self))["QueryExecution"])
        finally:
            self.__dict__.pop("_get_param", None)
        return json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": unprocessed})

    original_results = AthenaResponse.get_query_results

    def get_query_results(self: Any) -> Any:
        record = simulator.results(self._get_param("QueryExecutionId"))
        if record is None or record.rows is None:
            return original_results(self)
        # Every value a string (VarCharValue), NULL an empty Datum; a SELECT's first row holds the column names.
        def datum(value: Any) -> dict[str, str]:
            return {} if value is None else {"VarCharValue": str(value).lower() if isinstance(value, bool) else str(value)}

        rows = [{"Data": [datum(name) for name in record.columns or []]}] + [{"Data": [datum(v) for v in row]} for row in record.rows]
        limit = self._get_param("MaxResults")
        if limit:
            rows = rows[: int(limit)]
        return json.dumps({
            "UpdateCount": 0,
            "ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": [{"Name": n, "Label": n, "Type": "varchar"} for n in record.columns or []]}},
        })

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(AthenaResponse, "get_query_results", get_query_results))
        stack.enter_context(mock.patch.object(AthenaResponse, "start_query_execution", start_query_execution))
        stack.enter_context(mock.patch.object(AthenaResponse, "get_query_execution", get_query_execution))
        stack.enter_context(mock.patch.object(AthenaResponse, "batch_get_query_execution", batch_get_query_execution, create=True))
        yield simulator
