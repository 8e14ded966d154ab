"""The catalog step's package, trimmed as the Makefile trims it, still imports and commits an Iceberg table.

The Makefile removes what the function never loads of PyIceberg and pyarrow (CATALOG_TRIM). The
test environment holds the same versions (x86_64 wheels of the same layout as the arm64 ones the
build installs): their files are linked into a folder, the Makefile's own recipe trims it, and a
child process imports the handler from there and commits a table in moto. A module the trim
removed that the step needs fails the commit; a trimmed module loaded from elsewhere fails the check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tools import catalog_package

ROOT = Path(__file__).resolve().parents[2]
# The distributions of functions/create_athena_tables/requirements.txt and what they depend on.
DISTRIBUTIONS = ("pyarrow", "pyiceberg", "zstandard", "pyroaring", "mmh3", "strictyaml", "pyparsing", "cachetools",
                 "tenacity", "rich", "pygments", "markdown-it-py", "mdurl", "click", "fsspec", "requests")
# Top-level modules that must come from the package (not from the test environment).
FROM_PACKAGE = ("pyarrow", "pyiceberg", "zstandard", "pyroaring", "mmh3", "strictyaml", "pyparsing", "cachetools")
# What the trim removes and nothing may load.
NEVER_LOADED = ("rich", "pygments", "click", "fsspec", "hive_metastore", "fb303", "pyarrow.flight", "pyarrow._flight",
                "pyarrow._orc", "pyiceberg.cli")

CHILD = r"""
import os, sys
package = sys.argv[1]
sys.path.insert(0, package)
os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", POWERTOOLS_TRACE_DISABLED="true")
import app  # the handler, as Lambda imports it
import boto3
from moto import mock_aws
sys.path.insert(1, os.environ["REPOSITORY"])
from emulated_account.data import Column
from emulated_account.export_writer import parquet_bytes
from aurora_lake.catalog import iceberg, ownership

with mock_aws():
    s3, glue = boto3.client("s3"), boto3.client("glue")
    s3.create_bucket(Bucket="lake-bucket")
    glue.create_database(DatabaseInput={"Name": "lake"})
    columns = [Column("id", "bigint", "int64"), Column("Name", "text", "binary (UTF8)"), Column("at", "timestamp", "int64 (TIMESTAMP_MICRO)"),
               Column("amount", "numeric", "fixed_len_byte_array(9) (DECIMAL(20,0))")]
    body = parquet_bytes(columns, range(50))
    s3.put_object(Bucket="lake-bucket", Key="exports/e/db/s.t/1/part-0.gz.parquet", Body=body)
    owner = ownership.record("glue:lake s3:lake-bucket", ownership.Source("123456789012", "cluster", "c"), "db.s.t", ownership.LATEST, "")
    outcome = iceberg.Committer(glue, "lake", "s3://lake-bucket/iceberg/").commit_export(
        iceberg.Target("lake", "c__db__s__t", "s3://lake-bucket/iceberg/", owner),
        iceberg.TableExport("e", 1_790_000_000_000, 1_790_000_000_000,
                            (iceberg.ExportedColumn("id", "bigint"), iceberg.ExportedColumn("Name", "string"),
                             iceberg.ExportedColumn("at", "timestamp"), iceberg.ExportedColumn("amount", "decimal(20,0)")),
                            (iceberg.ExportFile("s3://lake-bucket/exports/e/db/s.t/1/part-0.gz.parquet", len(body)),)))
    assert outcome.status == "created" and outcome.rows == 50, outcome
for name in sys.argv[2].split(","):
    module = sys.modules.get(name)
    assert module is not None and module.__file__.startswith(package), (name, getattr(module, "__file__", None))
loaded = [(name, getattr(sys.modules[name], "__file__", None)) for name in sys.argv[3].split(",") if name in sys.modules]
assert not loaded, loaded
print("committed", outcome.rows)
"""


def test_the_trimmed_catalog_package_imports_and_commits_a_table(tmp_path: Path) -> None:
    package = catalog_package.local_package(tmp_path / "package", DISTRIBUTIONS)
    assert not (package / "pyarrow" / "tests").exists() and not (package / "hive_metastore").exists()
    assert (package / "pyarrow" / "_parquet.cpython-311-x86_64-linux-gnu.so").exists() or list((package / "pyarrow").glob("_parquet.*.so"))
    environment = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(package), ",".join(FROM_PACKAGE), ",".join(NEVER_LOADED)],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
        env={**environment, "PYTHONPATH": "", "REPOSITORY": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "committed 50" in done.stdout
