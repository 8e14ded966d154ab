"""Every S3 read, write and delete of the Iceberg tables, through boto3.

PyIceberg's own S3 FileIOs use pyarrow's C++ S3 client or fsspec/aiobotocore: neither goes
through botocore, so the function would need a second HTTP stack (and the emulated account,
which intercepts botocore, would not see the calls). This FileIO uses the SDK the Lambda
runtime ships, through ``aurora_lake.clients`` like every other call.

* Reads are ranged GETs with a read-ahead buffer: registering an export's files reads only
  their Parquet footers (``pyarrow.parquet.read_metadata`` seeks to the end of the file).
* Writes (metadata JSON, manifest lists, manifests: small files) are buffered and sent with one
  PutObject when the stream closes.
* Deletes are refused outside the prefixes the FileIO was given (a table's own ``metadata/``
  folder): whatever PyIceberg or this package asks for, no export's data file and no other
  table's file can ever be deleted through it. A refused delete raises ``PermissionError``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import Any

import pyarrow.parquet
from pyiceberg.io import FileIO, InputFile, InputStream, OutputFile, OutputStream

from aurora_lake import clients

READ_AHEAD_BYTES = 1 << 20  # a footer read is one ranged GET for any footer under 1 MiB
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


def split_uri(location: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://`` location."""
    if not location.startswith("s3://"):
        raise ValueError(f"not an s3:// location: {location[:200]!r}")
    bucket, _, key = location[len("s3://"):].partition("/")
    if not bucket or not key:
        raise ValueError(f"not an s3://bucket/key location: {location[:200]!r}")
    return bucket, key


def _code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


class _RangedReader(InputStream):
    def __init__(self, s3: Any, bucket: str, key: str, size: int) -> None:
        self._s3, self._bucket, self._key, self._size = s3, bucket, key, size
        self._position = 0
        self._buffer_start, self._buffer = 0, b""

    def _fill(self, start: int, length: int) -> None:
        end = min(self._size, start + max(length, READ_AHEAD_BYTES)) - 1
        body = self._s3.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-{end}")["Body"].read()
        self._buffer_start, self._buffer = start, body

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._size - self._position
        size = min(size, self._size - self._position)
        if size <= 0:
            return b""
        offset = self._position - self._buffer_start
        if not (0 <= offset and offset + size <= len(self._buffer)):
            self._fill(self._position, size)
            offset = 0
        data = self._buffer[offset:offset + size]
        self._position += len(data)
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return False

    def close(self) -> None:
        self._buffer = b""

    def __enter__(self) -> _RangedReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Boto3InputFile(InputFile):
    def __init__(self, location: str, s3: Any, size: int | None = None) -> None:
        super().__init__(location)
        self._s3 = s3
        self._bucket, self._key = split_uri(location)
        self._size = size

    def __len__(self) -> int:
        if self._size is None:
            self._size = int(self._s3.head_object(Bucket=self._bucket, Key=self._key)["ContentLength"])
        return self._size

    def exists(self) -> bool:
        try:
            len(self)
        except Exception as exc:
            if _code(exc) in _NOT_FOUND:
                return False
            raise
        return True

    def open(self, seekable: bool = True) -> InputStream:
        try:
            return _RangedReader(self._s3, self._bucket, self._key, len(self))
        except Exception as exc:
            if _code(exc) in _NOT_FOUND:
                raise FileNotFoundError(self.location) from exc
            raise


class _BufferedWriter(io.BytesIO):
    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        super().__init__()
        self._s3, self._bucket, self._key = s3, bucket, key
        self._sent = False

    def close(self) -> None:
        if not self._sent and not self.closed:
            self._sent = True
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=self.getvalue())
        super().close()

    def __enter__(self) -> _BufferedWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Boto3OutputFile(OutputFile):
    def __init__(self, location: str, s3: Any) -> None:
        super().__init__(location)
        self._s3 = s3
        self._bucket, self._key = split_uri(location)

    def __len__(self) -> int:
        return len(self.to_input_file())

    def exists(self) -> bool:
        return self.to_input_file().exists()

    def to_input_file(self) -> Boto3InputFile:
        return Boto3InputFile(self.location, self._s3)

    def create(self, overwrite: bool = False) -> OutputStream:
        # Every file this package writes has a new name (a UUID or a snapshot id in it): no HEAD first.
        return _BufferedWriter(self._s3, self._bucket, self._key)


def read_footer(input_file: InputFile) -> Any:
    """A Parquet file's footer (``pyarrow.parquet.FileMetaData``): its tail only, read on the calling thread.

    No data page is read or decoded, so none of Arrow's thread pools starts (they outlive the read
    and can abort the process at exit: apache/arrow 34314, 50482; measured by test_parquet_io.py).
    """
    with input_file.open() as stream:
        return pyarrow.parquet.ParquetFile(stream, pre_buffer=False).metadata


class Boto3FileIO(FileIO):
    """A FileIO over boto3 that deletes only under ``deletable`` (``s3://`` prefixes, each ending in ``/``)."""

    def __init__(self, properties: dict[str, str] | None = None, deletable: Iterable[str] = ()) -> None:
        super().__init__(dict(properties or {}))
        prefixes = tuple(deletable)
        for prefix in prefixes:
            split_uri(prefix + "x")
            if not prefix.endswith("/"):
                raise ValueError(f"a deletable prefix must end with '/': {prefix[:200]!r}")
        self._deletable = prefixes

    @property
    def _s3(self) -> Any:
        return clients.client("s3")

    def new_input(self, location: str, size: int | None = None) -> InputFile:  # type: ignore[override]
        return Boto3InputFile(location, self._s3, size)

    def new_output(self, location: str) -> OutputFile:
        return Boto3OutputFile(location, self._s3)

    def may_delete(self, location: str) -> bool:
        return any(location.startswith(prefix) and ".." not in location[len(prefix):] for prefix in self._deletable)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        path = location if isinstance(location, str) else location.location
        if not self.may_delete(path):
            raise PermissionError(f"refusing to delete {path[:300]}: it is outside the table's metadata folder")
        bucket, key = split_uri(path)
        self._s3.delete_object(Bucket=bucket, Key=key)
