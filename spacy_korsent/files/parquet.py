"""Read the rows of a Parquet file, as :mod:`.readers` reads the text formats (needs pyarrow).

``korsent analyze --engine ray`` reads Parquet next to the formats of the shared reader. Rows come
as :class:`~.readers.Record` s numbered from 1 (Parquet has rows, not lines), with values that JSON
can hold, so that every writer takes them: dates and times in ISO format, anything else that is
not a JSON value (bytes, decimals) as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .readers import InputError, Record


def read_parquet_records(
    path: Path | str, *, text_column: str, text_only: bool = False
) -> Iterator[Record]:
    """Stream a Parquet file's rows (only ``text_column`` with ``text_only``).

    A file that is not Parquet, or has no ``text_column``, is an :class:`InputError` before the
    first row.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise InputError(
            f"reading {path} needs pyarrow: pip install 'spacy-korsent[parquet]'."
        ) from err
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, ValueError) as err:  # pyarrow's errors for a file that is not Parquet
        raise InputError(f"cannot read {path} as Parquet: {err}") from err
    names = parquet.schema_arrow.names
    if text_column not in names:
        raise InputError(f"{path}: no column {text_column!r} in the columns {names}.")
    number = 0
    for batch in parquet.iter_batches(columns=[text_column] if text_only else None):
        for row in batch.to_pylist():
            number += 1
            yield Record(number, _json_value(row))


def _json_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
