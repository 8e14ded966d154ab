"""Every Parquet read and write of the emulated account, its tools and its tests.

Arrow runs reads on process-wide native thread pools (the CPU pool for decoding,
the I/O pool for pre-buffering) that live until the process ends. When the
interpreter exits while those threads are still alive, their ``std::thread``
objects are destroyed joinable and the process aborts: ``terminate called
without an active exception``, SIGABRT, after all the work is done, in some runs
only (apache/arrow issues 34314 and 50482). Reading here starts neither pool: the
bytes are wrapped in an Arrow buffer (no Python file object for native threads to
call back into), pre-buffering is off and decoding runs on the calling thread.
Exports in tests are a few kilobytes, so nothing is lost by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class ParquetContents:
    """One Parquet file, read whole: its rows, its Parquet schema (physical and logical
    types) and its file metadata (row groups, compression)."""

    table: pa.Table
    schema: pq.ParquetSchema
    metadata: pq.FileMetaData


def read_parquet(data: bytes) -> ParquetContents:
    parquet = pq.ParquetFile(pa.BufferReader(data), pre_buffer=False)
    return ParquetContents(table=parquet.read(use_threads=False), schema=parquet.schema, metadata=parquet.metadata)


def write_parquet(table: pa.Table, **options: Any) -> bytes:
    """``table`` written as one Parquet file (``options`` as ``pyarrow.parquet.write_table`` takes them)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **options)
    return sink.getvalue().to_pybytes()


__all__ = ["ParquetContents", "read_parquet", "write_parquet"]
