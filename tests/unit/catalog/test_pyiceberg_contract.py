"""What the catalog takes from PyIceberg, pinned: a new PyIceberg that changes any of it fails here first.

The catalog builds snapshots with PyIceberg's public writers and models (``catalog/iceberg.py``):
no private name is used, so setting a snapshot's time is a constructor argument, not a patch.
These are the names and parameters it relies on; an upgrade must go through this test (and the
Java ordering rules and the archive path in test_iceberg.py) before the pin moves.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from pathlib import Path

from aurora_lake.catalog import iceberg

ROOT = Path(__file__).resolve().parents[3]


def parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_the_pinned_version_is_the_one_installed_and_shipped() -> None:
    assert importlib.metadata.version("pyiceberg") == "0.12.0"
    assert "pyiceberg==0.12.0" in (ROOT / "requirements-dev.txt").read_text()
    assert "pyiceberg==0.12.0" in (ROOT / "functions/create_athena_tables/requirements.txt").read_text()


def test_the_writers_and_statistics_take_what_the_catalog_gives_them() -> None:
    names = iceberg.PYICEBERG_NAMES
    assert parameters(names["pyiceberg.manifest.write_manifest"]) == ["format_version", "spec", "schema", "output_file", "snapshot_id", "avro_compression"]
    assert parameters(names["pyiceberg.manifest.write_manifest_list"]) == [
        "format_version", "output_file", "snapshot_id", "parent_snapshot_id", "sequence_number", "avro_compression"]
    assert parameters(names["pyiceberg.io.pyarrow.data_file_statistics_from_parquet_metadata"]) == [
        "parquet_metadata", "stats_columns", "parquet_column_mapping"]
    assert parameters(names["pyiceberg.io.pyarrow.compute_statistics_plan"]) == ["schema", "table_properties"]
    assert parameters(names["pyiceberg.table.snapshots.update_snapshot_summaries"]) == ["summary", "previous_summary"]
    assert parameters(names["pyiceberg.table.metadata.new_table_metadata"]) == [
        "schema", "partition_spec", "sort_order", "location", "properties", "table_uuid"]


def test_a_snapshot_takes_its_time_as_a_field() -> None:
    snapshot = iceberg.Snapshot
    fields = snapshot.model_fields  # type: ignore[attr-defined]
    assert {"snapshot_id", "parent_snapshot_id", "sequence_number", "timestamp_ms", "manifest_list", "summary", "schema_id"} <= set(fields)
    made = snapshot(snapshot_id=1, timestamp_ms=1_790_000_000_000, manifest_list="s3://b/m.avro", sequence_number=1)
    assert made.timestamp_ms == 1_790_000_000_000


def test_the_manifest_writer_adds_and_deletes_entries() -> None:
    from pyiceberg.manifest import ManifestFile, ManifestWriter

    assert {"add", "delete", "to_manifest_file"} <= set(dir(ManifestWriter))
    assert {"fetch_manifest_entry", "has_added_files", "has_existing_files"} <= set(dir(ManifestFile))
    assert parameters(ManifestFile.fetch_manifest_entry) == ["self", "io", "discard_deleted"]
