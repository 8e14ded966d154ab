"""The success and failure notifications, as an on-call engineer reads them.

Subjects stay within SNS's 100 characters and start with the status; bodies say
what happened, where the data is, how to query it, and for a failure, which
step failed, the AWS error and what to do. Message attributes carry status and
cluster (and, for a source account's run, the account) so that subscribers can filter.

Names and reasons come from the source database and the execution input, written
by strangers. Every such value is shown with ``shown``: on the line of one of the
product's labels, control and format characters (Unicode Cc, Cf, line and
paragraph separators) escaped, and cut with a marker when long. A cause keeps its
own lines, each marked as part of the cause block. Attributes hold only values
that pass a check (identifiers, error names), and the SELECT to paste only names
the stack generated.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone
from typing import Any

from aurora_lake import limits
from aurora_lake.exports import warning_summary
from aurora_lake.failure_causes import cause_text
from aurora_lake.naming import (
    CLUSTER_IDENTIFIER_MAX_LENGTH,
    DRIFT_LOG_TABLE,
    DB_INSTANCE_IDENTIFIER_MAX_LENGTH,
    EXPORT_TASK_IDENTIFIER_MAX_LENGTH,
    identifier_problems,
)
from aurora_lake.runbook import advice_for

SUBJECT_LIMIT = 100
ELLIPSIS = "..."
PRODUCT = "aurora-lake"
# Characters a reader cannot see or that break lines: shown as escapes.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
ITEM_LIMIT = 300  # characters of one stranger-written value on a line
CAUSE_LINES = 40
CAUSE_LINE_LIMIT = 1000  # a cause's line names the call, the principal and the resource: kept longer
# Missing tables named in a PARTIAL notification (the table report lists them all).
MISSING_LINES = 10
_ERROR_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,127}$")
_GENERATED_TABLE = re.compile(r"^[a-z0-9_]{1,255}$")
_DATABASE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
CAUSE_INDENT = " " * 14 + "| "


def _escape(ch: str) -> str:
    if unicodedata.category(ch) not in _HIDDEN_CATEGORIES:
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def shown(value: Any, limit: int = ITEM_LIMIT) -> str:
    """A stranger-written value for one line: hidden characters escaped, cut with a marker past ``limit``."""
    text = "" if value is None else str(value)
    pieces, length = [], 0
    for index, ch in enumerate(text):
        piece = _escape(ch)
        if length + len(piece) > limit:
            return "".join(pieces) + f"...[{len(text) - index} more characters]"
        pieces.append(piece)
        length += len(piece)
    return "".join(pieces)


def _validated_identifier(value: Any, max_length: int) -> str | None:
    """``value`` when it is a valid RDS identifier (letters, digits, hyphens), else None."""
    return value if isinstance(value, str) and not identifier_problems(value, max_length) else None


def _cause_lines(cause: str) -> list[str]:
    """The cause, each of its lines marked as part of it, so no line of it reads as the product's own."""
    lines = cause.split("\n") if cause else [""]
    rendered = [f"Cause:        {shown(lines[0], CAUSE_LINE_LIMIT)}"] + [CAUSE_INDENT + shown(line, CAUSE_LINE_LIMIT) for line in lines[1:CAUSE_LINES]]
    if len(lines) > CAUSE_LINES:
        rendered.append(CAUSE_INDENT + f"... and {len(lines) - CAUSE_LINES} more lines")
    return rendered



def _one_line(text: Any) -> str:
    """Printable ASCII on one line: SNS refuses subjects with line breaks or control characters."""
    return re.sub(r"\s+", " ", re.sub(r"[^\x20-\x7e]", " ", str(text or ""))).strip()


def subject(status: str, cluster: str | None, detail: str, label: str = "") -> str:
    """``[aurora-lake] STATUS cluster label detail`` within SNS's 100 characters.

    The detail (the export id, or the failed step and error) is what tells one e-mail from
    another, so it is kept whole: the label goes first, then the cluster when the export id
    already begins with it (names derived from the cluster do), then the cluster is shortened.
    """
    head = f"[{PRODUCT}] {status}"
    cluster, detail, label = _one_line(cluster), _one_line(detail), _one_line(label)
    candidates = [" ".join(p for p in (head, cluster, label, detail) if p), " ".join(p for p in (head, cluster, detail) if p)]
    if cluster and detail.lower().startswith(cluster.lower() + "-"):
        candidates.append(f"{head} {detail}")
    for candidate in candidates:
        if len(candidate) <= SUBJECT_LIMIT:
            return candidate
    room = SUBJECT_LIMIT - len(head) - len(detail) - 2 - len(ELLIPSIS)
    if cluster and room >= 8:
        return f"{head} {cluster[:room]}{ELLIPSIS} {detail}"
    if detail and len(f"{head} {detail}") <= SUBJECT_LIMIT:
        return f"{head} {detail}"
    return candidates[1][: SUBJECT_LIMIT - len(ELLIPSIS)] + ELLIPSIS


_CONSOLE_DOMAINS = {"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn", "aws-us-gov": "console.amazonaws-us-gov.com"}


def console_link(execution_arn: str | None, region: str | None = None) -> str | None:
    """The execution's page in the Step Functions console (Region and partition from its ARN)."""
    if not isinstance(execution_arn, str) or not execution_arn.startswith("arn:"):
        return None
    parts = execution_arn.split(":")
    partition = parts[1] if len(parts) > 3 else "aws"
    region = region or (parts[3] if len(parts) > 3 else None)
    domain = _CONSOLE_DOMAINS.get(partition)
    if not region or not domain:
        return None
    return f"https://{region}.{domain}/states/home?region={region}#/v2/executions/details/{execution_arn}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _size(gigabytes: Any) -> str:
    """RDS reports whole gigabytes: 0 means less than one."""
    if gigabytes is None:
        return "unknown"
    value = float(gigabytes)
    return "less than 1 GB" if value < 1 else f"{value:g} GB"


def _utc(epoch: Any) -> str | None:
    if not isinstance(epoch, (int, float)):
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _attributes(status: str, cluster: str | None, **extra: str | None) -> dict[str, dict[str, str]]:
    """Message attributes for subscription filter policies: only validated values (SNS refuses empty ones)."""
    attributes = {"status": {"DataType": "String", "StringValue": status}}
    for name, value in (("cluster", cluster), *extra.items()):
        if value:
            attributes[name] = {"DataType": "String", "StringValue": str(value)}
    return attributes


def _cluster(state: dict[str, Any]) -> str | None:
    """The cluster, only when it is a valid identifier (a refused input's text is never shown as one)."""
    job = state.get("job") or {}
    snapshot = state.get("snapshot") or {}
    raw = state.get("input") if isinstance(state.get("input"), dict) else state
    candidates = (
        job.get("source_identifier"),
        job.get("cluster_identifier"),
        snapshot.get("source_identifier"),
        snapshot.get("source_cluster_identifier"),
        raw.get("cluster_identifier"),
        raw.get("db_instance_identifier"),
    )
    for candidate in candidates:
        if candidate:
            return _validated_identifier(candidate, max(CLUSTER_IDENTIFIER_MAX_LENGTH, DB_INSTANCE_IDENTIFIER_MAX_LENGTH))
    return None


def _account(state: dict[str, Any]) -> str | None:
    """The source account of a source account's run (None for the lake's own); only a 12-digit ID is ever shown."""
    job = state.get("job") or {}
    raw = state.get("input") if isinstance(state.get("input"), dict) else {}
    for candidate in (job.get("source_account"), raw.get("account_id")):
        if isinstance(candidate, str) and _ACCOUNT_ID.fullmatch(candidate):
            return candidate
    return None


def _account_lines(state: dict[str, Any], width: int) -> list[str]:
    account = _account(state)
    return [f"{'Account:':<{width}}{account} (source account)"] if account else []


def _error_name(error: str) -> str | None:
    return error if _ERROR_NAME.fullmatch(error) else None


def _select(database: Any, table: Any) -> str | None:
    """The query to paste, only over names the stack generated (never a stranger's spelling)."""
    if isinstance(database, str) and isinstance(table, str) and _DATABASE_NAME.fullmatch(database) and _GENERATED_TABLE.fullmatch(table):
        return f'SELECT * FROM "{database}"."{table}" LIMIT 10;'
    return None


def _source_label(state: dict[str, Any]) -> str:
    """``Cluster:`` or ``DB instance:``, after the kind of source the run exported."""
    kind = (state.get("snapshot") or {}).get("source_kind") or (state.get("job") or {}).get("source_kind")
    return "DB instance:" if kind == "instance" else "Cluster:"


def _execution(state: dict[str, Any]) -> tuple[str | None, str | None]:
    """The execution's ARN and name: from the job, or (before validation) from the state itself."""
    job = state.get("job") or {}
    arn = job.get("execution_arn") or state.get("execution_arn")
    name = job.get("execution_name") or state.get("execution_name")
    return (arn if isinstance(arn, str) else None), (name if isinstance(name, str) else None)


def _footer(state: dict[str, Any]) -> list[str]:
    arn, name = _execution(state)
    lines = []
    link = console_link(arn, (state.get("job") or {}).get("region"))
    if link:
        lines += ["", "Execution (every state, input and error):", f"  {shown(link, 600)}"]
    if name:
        lines += ["", f'Logs: the functions\' log lines of this run carry "correlation_id": "{shown(name)}".']
    return lines


def _source_line(snapshot: dict[str, Any]) -> str:
    if snapshot.get("source_type") == "CLUSTER":
        return f"Source:        {shown(snapshot.get('source_arn'))} (the cluster's data, exported directly: no snapshot)"
    return f"Snapshot:      {shown(snapshot.get('snapshot_arn'))}"


_DRIFT_KINDS = (("new", "new table", "new tables"), ("schema", "table changed columns", "tables changed columns"),
                ("refused", "table began a new history (a type change Iceberg cannot evolve)", "tables began a new history (a type change Iceberg cannot evolve)"),
                ("lost_most_rows", "table lost most of its rows", "tables lost most of their rows"),
                ("became_empty", "table became empty", "tables became empty"))
DRIFT_NAMES_SHOWN = 3


def _drift_lines(drift: Any) -> list[str]:
    """What changed since each table's previous export: counts and the first few tables of each kind (the drift log has all)."""
    if not isinstance(drift, dict) or not drift.get("drift_log"):
        return []
    lines = ["", "What changed since each table's previous export:"]
    for kind, one, many in _DRIFT_KINDS:
        entry = drift.get(kind) if isinstance(drift.get(kind), dict) else {}
        count = entry.get("count") if isinstance(entry.get("count"), int) else 0
        if count <= 0:
            continue
        first = [shown(name, 200) for name in (entry.get("first") or [])[:DRIFT_NAMES_SHOWN]]
        more = f"; and {count - len(first)} more" if count > len(first) else ""
        lines.append(f"  {count} {one if count == 1 else many}: " + "; ".join(first) + more)
    if len(lines) == 2:
        lines.append("  no table changed columns, lost most of its rows or became empty")
    lines.append(f"  Drift log:   {shown(drift['drift_log'])} (Athena table {DRIFT_LOG_TABLE})")
    return lines


def tables_catalogued(state: dict[str, Any]) -> int:
    """How many tables the run made queryable (CreateAthenaTables' count; 0 when it reports none)."""
    count = (state.get("athena") or {}).get("tables_created")
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0


def counts_as_fresh(state: dict[str, Any]) -> bool:
    """Whether a run that ended well makes its source fresh (what the freshness alarms count).

    Only a run that catalogued at least one table does: an export whose every table was left out
    (or that listed none) changed nothing an analyst can query.
    """
    return tables_catalogued(state) > 0


def _report_lines(width: int, report_uri: str | None, report_error: str | None) -> list[str]:
    """Where the run's full detail is (the report this notification was written with), or why it is not."""
    label = "Run report:"
    if report_uri:
        return [f"{label:<{width}}{shown(report_uri, 600)} (every table, warning and cause in full)"]
    if report_error:
        return [f"{label:<{width}}not written ({shown(report_error)}); the execution's history keeps the run's states"]
    return []


def _warning_lines(export: dict[str, Any]) -> tuple[list[str], int]:
    """The export's warnings as the state keeps them (a few, cut) and how many there are in all."""
    if "warning_lines" in export:
        return [str(line) for line in export.get("warning_lines") or []], int(export.get("warning_count") or 0)
    lines = warning_summary(export.get("warning_message"))  # a state written before warnings were bounded
    return lines[: limits.LINES_IN_STATE], len(lines)


def within_sns_limit(message: str) -> str:
    """Every line is bounded, so a message never nears SNS's 256 KB; were one to, it is cut, not refused."""
    room = limits.SNS_MESSAGE_LIMIT_BYTES - 1024
    if len(message.encode()) <= room:
        return message
    return message.encode()[:room].decode(errors="ignore") + "\n... [cut at SNS's limit; the run report has everything]"


def success_message(
    state: dict[str, Any], now: float, workgroup: str, report_uri: str | None = None, report_error: str | None = None
) -> dict[str, Any]:
    job = state.get("job") or {}
    snapshot = state.get("snapshot") or {}
    export = state.get("export") or {}
    athena = state.get("athena") or {}
    cleanup = state.get("cleanup") or {}
    cluster = _cluster(state)
    export_id = str(export.get("export_task_identifier") or "")
    empty = not counts_as_fresh(state)
    partial = bool(athena.get("partial")) or bool(export.get("warning_message")) or empty
    status = "PARTIAL" if partial else "SUCCEEDED"
    location = f"s3://{export.get('s3_bucket')}/{export.get('s3_prefix') or ''}{export_id}/"
    database = athena.get("database")
    workgroup = athena.get("workgroup") or workgroup
    created, skipped = athena.get("tables_created", 0), athena.get("tables_skipped", 0)
    if empty:
        headline = (f"The export of {cluster or 'the snapshot'} catalogued no table: nothing of it is queryable in Athena, "
                    f"{shown(skipped)} tables missing (listed below). It is not counted as a fresh export.")
    elif partial:
        headline = f"The export of {cluster or 'the snapshot'} finished with missing tables: {shown(created)} queryable in Athena, {shown(skipped)} missing (listed below)."
    else:
        headline = f"The export of {cluster or 'the snapshot'} to the data lake succeeded: {shown(created)} tables are queryable in Athena."
    lines = [
        headline,
        "",
        f"Status:        {status}",
        f"{_source_label(state):<15}{cluster}",
        *_account_lines(state, 15),
        _source_line(snapshot),
        f"Export task:   {shown(export_id)}",
        f"Started:       {_utc(job.get('started_epoch')) or 'unknown'}",
        f"Duration:      {_duration(now - job['started_epoch']) if isinstance(job.get('started_epoch'), (int, float)) else 'unknown'}",
        f"Exported size: {_size(export.get('total_extracted_gb'))}",
        f"Tables:        {shown(created)} queryable, {shown(skipped)} missing (skipped by the export or left out of the catalog)",
        f"S3 location:   {shown(location)}",
        f"Athena:        database {shown(database)}, workgroup {shown(workgroup)}",
    ]
    if athena.get("report_uri"):
        lines.append(f"Table report:  {shown(athena['report_uri'])}")
    lines += _report_lines(15, report_uri, report_error)
    if partial:
        lines += ["", "PARTIAL: these tables are missing from the export:"]
        listed = (athena.get("missing_tables") or [])[:MISSING_LINES]
        for missing in listed:
            lines.append(f"  - {shown(missing.get('table'))}: {shown(missing.get('reason'))}" if isinstance(missing, dict) else f"  - {shown(missing)}")
        more = int(athena.get("missing_tables_more") or 0) + len(athena.get("missing_tables") or []) - len(listed)
        if more:
            lines.append(f"  ... and {shown(more)} more (see {shown(athena.get('report_uri') or report_uri)})")
        warnings, count = _warning_lines(export)
        for warning in warnings:
            lines.append(f"  - export warning: {shown(warning)}")
        if count > len(warnings):
            where = report_uri or export.get("run_report") or "the run report"
            lines.append(f"  ... and {count - len(warnings)} more export warnings (see {shown(where)})")
        lines.append("  Set FailOnPartialExport to true to fail such runs instead.")
    lines += _drift_lines(athena.get("drift"))
    select = _select(database, athena.get("sample_table"))
    if select:
        lines += [
            "",
            f"Query it in Athena (workgroup {shown(workgroup)}):" if workgroup else "Query it in Athena:",
            f"  {select}",
        ]
    if cleanup.get("snapshot_identifier"):
        lines += ["", f"Snapshot cleanup: {shown(cleanup.get('snapshot_identifier'))}: {shown(cleanup.get('reason'))}"]
    lines += _footer(state)
    return {
        # "(0 tables)" stays in every subject, however long the names: the export id is then dropped last.
        "subject": subject(f"{status} (0 tables)" if empty else status, cluster, export_id, label="export"),
        "message": within_sns_limit("\n".join(lines)),
        "attributes": _attributes(
            status, cluster, export_id=_validated_identifier(export_id, EXPORT_TASK_IDENTIFIER_MAX_LENGTH), account=_account(state)
        ),
        "status": status,
    }


def _what_the_run_left(state: dict[str, Any]) -> list[str]:
    """The snapshot and export task of this run, as the clean-up step found them after the failure.

    Every line states a recorded fact of this run: what the clean-up step read from RDS, or, when it
    did not run, what the run itself recorded, said as such.
    """
    job = state.get("job") or {}
    if not job:
        return ["Nothing was created: the input was refused before any AWS resource was touched."]
    cleanup = state.get("cleanup") or {}
    snapshot = state.get("snapshot") or {}
    export = state.get("export") or {}
    lines: list[str] = []
    name = cleanup.get("snapshot_identifier") or job.get("snapshot_identifier")
    if "snapshot_created" not in cleanup:
        # The clean-up after the failure did not run (the notification of a success failed) or failed.
        if state.get("cleanup_error") and job.get("snapshot_mode") == "create":
            error = (state.get("cleanup_error") or {}).get("Error") or "an error"
            lines.append(f"Snapshot:     {shown(name)} may have been created by this execution; the clean-up step failed "
                         f"({shown(error)}): look for it in the RDS console and delete it by hand.")
        elif cleanup.get("snapshot_identifier"):
            lines.append(f"Snapshot:     {shown(cleanup['snapshot_identifier'])}: {shown(cleanup.get('reason'))}")
    elif job.get("snapshot_mode") != "create":
        if job.get("snapshot_mode") == "cluster":
            lines.append("Snapshot:     none (the cluster's data is exported directly)")
        elif snapshot.get("snapshot_identifier") or job.get("snapshot_identifier"):
            given = snapshot.get("snapshot_identifier") or job.get("snapshot_identifier")
            lines.append(f"Snapshot:     {shown(given)} (not created by this execution; never deleted by it)")
    elif cleanup.get("snapshot_created") is True:
        lines.append(f"Snapshot:     {shown(name)} (created by this execution): {shown(cleanup.get('reason'))}")
    elif cleanup.get("snapshot_created") is False:
        if "another" in str(cleanup.get("reason")):
            lines.append(f"Snapshot:     {shown(name)} exists but was taken of another source; left as it is")
        else:
            lines.append("Snapshot:     none: this execution created no snapshot")
    else:
        lines.append(f"Snapshot:     {shown(name)} may have been created by this execution: {shown(cleanup.get('reason'))}")
    if "export_task_status" in cleanup:
        identifier, status = cleanup.get("export_task_identifier"), cleanup.get("export_task_status")
        if not identifier:
            lines.append("Export task:  none was started")
        elif status == "NOT_FOUND":
            lines.append(f"Export task:  {shown(identifier)}: RDS no longer knows it")
        elif status:
            lines.append(f"Export task:  {shown(identifier)} ({shown(status)}, as RDS reported it after the failure)")
        else:
            lines.append(f"Export task:  {shown(identifier)} (its status could not be read: {shown(cleanup.get('export_task_error') or 'unknown error')})")
    elif export.get("export_task_identifier"):
        lines.append(f"Export task:  {shown(export['export_task_identifier'])} (not read after the failure; "
                     f"{shown(export.get('status'))} when the run last read it)")
    return lines


def failure_message(
    state: dict[str, Any], now: float | None = None, report_uri: str | None = None, report_error: str | None = None
) -> dict[str, Any]:
    failure = state.get("failure") or {}
    job = state.get("job") or {}
    error = str(failure.get("error") or "UnknownError")
    cause = limits.cut_text(cause_text(failure.get("cause")), limits.ERROR_MESSAGE_MAX_BYTES)
    step = failure.get("step") or "unknown step"
    cluster = _cluster(state)
    advice = advice_for(error, cause, str(step), _account(state))
    lines = [
        f"The export of {cluster or 'the requested snapshot'} to the data lake FAILED in step {shown(step)}.",
        "",
        f"Failed step:  {shown(step)}",
        *_account_lines(state, 14),
        f"Error:        {shown(error)}",
        *_cause_lines(cause),
        f"What to do:   {advice}",
    ]
    started = job.get("started_epoch")
    if isinstance(started, (int, float)):
        lines.append(f"Started:      {_utc(started)}" + (f" (failed after {_duration(now - started)})" if now is not None else ""))
    lines += _what_the_run_left(state)
    lines += _report_lines(14, report_uri, report_error)
    lines += _footer(state)
    return {
        "subject": subject("FAILED", cluster, f"{shown(step, 60)}: {_error_name(error) or 'UnknownError'}"),
        "message": within_sns_limit("\n".join(lines)),
        "attributes": _attributes("FAILED", cluster, error=_error_name(error), account=_account(state)),
        "error": error,
        "cause": cause,
    }


# A fleet's e-mail names at most this many sources of each kind; the report in S3 names every one.
FLEET_FAILURES_SHOWN = 30
FLEET_EXPORTED_SHOWN = 20
FLEET_STALE_SHOWN = 30
FLEET_ACCOUNT_PROBLEMS_SHOWN = 20


def fleet_message(
    results: Any,
    *,
    fleet: dict[str, Any],
    execution_arn: str | None,
    execution_name: str | None,
    report_uri: str,
    now: float,
    stale_sources: list[dict[str, Any]] | None = None,
    stale_checked: int = 0,
    map_error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The one summary of a fleet run, of any size: counts, the first sources not exported with
    their errors, the first exported with their query, stale sources, and the report's key.

    ``results`` is ``fleet.FleetResults``. Every list is cut (the report in S3 has them all), so
    the message stays far within SNS's 256 KB whatever the fleet's size (a test measures it).
    """
    from aurora_lake import fleet as fleet_module  # the single-source notifications do not need it

    outcomes = results.outcomes
    failed, problems = results.failed, results.problems
    exported = [o for o in outcomes if o.exported]
    status = results.status
    accounts = results.accounts
    headline = f"Fleet export of {_plural(len(outcomes), 'source')} in {_plural(accounts, 'account')}: "
    if failed or problems:
        headline += f"{len(exported)} exported, {len(failed)} did not" + (f"; {_plural(len(problems), 'account')} not exported in full." if problems else ".")
    else:
        headline += "every source exported."
    max_accounts = fleet.get("max_accounts")
    lines = [
        headline,
        "",
        f"Status:       {status}",
        f"Started:      {_utc(fleet.get('started_epoch')) or 'unknown'}",
        f"Concurrency:  at most {shown(fleet.get('max_concurrency'))} sources at once per account; "
        + (f"at most {shown(max_accounts)} accounts at once" if max_accounts else "accounts side by side, as many as Step Functions allows"),
        f"Report:       {shown(report_uri, 600)} (every source with its outcome)",
    ]
    if map_error:
        lines += ["", f"The fleet's map run failed: {shown(map_error.get('Error'))}: {shown(_one_line(cause_text(map_error.get('Cause'))), 400)}"]
    if problems:
        lines += ["", f"Accounts not exported in full ({len(problems)}" + _first(len(problems), FLEET_ACCOUNT_PROBLEMS_SHOWN) + "):"]
        for problem in problems[:FLEET_ACCOUNT_PROBLEMS_SHOWN]:
            account = problem.account if _ACCOUNT_ID.fullmatch(str(problem.account)) else "unknown"
            lines.append(f"  account {account}: {shown(problem.error, 128)}: {shown(_one_line(problem.cause), 400)}")
            lines.append(f"          what to do: {advice_for(str(problem.error))}")
    if failed:
        lines += ["", f"Did not export ({len(failed)}" + _first(len(failed), FLEET_FAILURES_SHOWN) + "):"]
        for o in failed[:FLEET_FAILURES_SHOWN]:
            lines.append(f"{shown(o.status):<9} {_fleet_source(o)}")
            lines.append(f"          {shown(o.error, 128)}: {shown(_one_line(cause_text(o.cause)), 400)}")
            lines.append(f"          what to do: {advice_for(str(o.error))}")
            link = console_link(o.execution_arn)
            if link:
                lines.append(f"          {shown(link, 600)}")
    if exported:
        lines += ["", f"Exported ({len(exported)}" + _first(len(exported), FLEET_EXPORTED_SHOWN) + "):"]
        for o in exported[:FLEET_EXPORTED_SHOWN]:
            lines.append(f"{shown(o.status):<9} {_fleet_source(o)}")
            lines.append(f"          {shown(o.tables_created)} tables queryable, {shown(o.tables_skipped)} skipped; export task {shown(o.export_task, 80)}")
            select = _select(fleet.get("glue_database"), o.sample_table)
            if select:
                lines.append(f"          {select}")
    if stale_sources is not None:
        lines += ["", f"Freshness:    {len(stale_sources)} of {stale_checked} sources stale (no export within "
                      f"{float(fleet.get('freshness_hours') or 0):g} hours)" + (":" if stale_sources else ".")]
        for entry in stale_sources[:FLEET_STALE_SHOWN]:
            kind = "DB instance " if entry.get("kind") == "instance" else ""
            last = _utc(entry.get("last_success"))
            lines.append(f"  {kind}{shown(entry.get('identifier'), 80)} (account {shown(entry.get('account'), 12)}): "
                         + (f"last exported {last}" if last else "never exported"))
        if len(stale_sources) > FLEET_STALE_SHOWN:
            lines.append(f"  ... and {len(stale_sources) - FLEET_STALE_SHOWN} more (reports/freshness/latest.json)")
    lines += _footer({"execution_arn": execution_arn, "execution_name": execution_name})
    label = f"fleet of {len(outcomes)}: {len(exported)} exported" + (f", {len(failed)} not" if failed else "")
    if problems:
        label += f", {len(problems)} accounts short"
    cause = fleet_module.summary_cause(results, report_uri)
    return {
        "subject": subject(status, None, label),
        "message": within_sns_limit("\n".join(lines)),
        "attributes": _attributes(status, None, kind="fleet"),
        "status": status,
        "failed": len(failed) + len(problems),
        "error": "FleetExportFailed" if failed or problems else None,
        "cause": cause,
    }


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _first(total: int, limit: int) -> str:
    return f", the first {limit} shown" if total > limit else ""


def _fleet_source(outcome: Any) -> str:
    kind = "DB instance " if outcome.kind == "instance" else ""
    where = "" if outcome.lake_account or not _ACCOUNT_ID.fullmatch(str(outcome.account)) else f" (account {outcome.account})"
    return f"{kind}{shown(outcome.identifier, 80)}{where}"
