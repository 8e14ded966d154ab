"""Glue's optimistic concurrency and SkipArchive, which moto 5.2.5 leaves out.

* UpdateTable with a ``VersionId`` that is no longer the table's current version fails with
  ``ConcurrentModificationException`` ("Update table failed due to concurrent modifications"):
  two writers that read the same version cannot both move the table (botocore glue model,
  UpdateTable ``VersionId`` and its errors; Iceberg's Glue catalogs rely on it). moto accepts a
  stale version.
* UpdateTable archives the table's previous version unless ``SkipArchive`` is true (botocore glue
  model, ``UpdateTableRequest.SkipArchive``); moto archives every time. With SkipArchive the
  table's version id still moves on (UNCONFIRMED: Iceberg's Glue catalogs, which pass both
  ``VersionId`` and ``SkipArchive=true``, depend on it), and GetTableVersions lists no version
  of that update.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

from emulated_account import fidelity

CONCURRENT_MODIFICATION = "ConcurrentModificationException"


def _concurrent(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(fidelity.check_code("glue", "UpdateTable", CONCURRENT_MODIFICATION), message)


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Patch moto's Glue: UpdateTable checks VersionId and honours SkipArchive."""
    from moto.glue.models import FakeTable
    from moto.glue.responses import GlueResponse

    original = GlueResponse.update_table

    def update_table(self: Any) -> Any:
        database_name = self.parameters.get("DatabaseName")
        table_input = self.parameters.get("TableInput") or {}
        version_id = self.parameters.get("VersionId")
        skip_archive = bool(self.parameters.get("SkipArchive"))
        table = self.glue_backend.get_table(database_name, table_input.get("Name"))
        if version_id is not None and str(version_id) != str(table._current_version):
            raise _concurrent("Update table failed due to concurrent modifications.")
        if not skip_archive:
            return original(self)
        previous = str(table._current_version)
        table.update(table_input)
        # The version id moves on; the version the update replaced is not kept.
        table.versions.pop(previous, None)
        from moto.core.responses import EmptyResult

        return EmptyResult()

    with mock.patch.object(GlueResponse, "update_table", update_table):
        assert hasattr(FakeTable, "update")
        yield


__all__ = ["CONCURRENT_MODIFICATION", "installed"]
