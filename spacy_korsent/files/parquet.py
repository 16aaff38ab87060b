"""Parquet files: read their rows as :mod:`.readers` reads the text formats, write results with
native types (needs pyarrow).

Reading: rows come as :class:`~.readers.Record` s numbered from 1 (Parquet has rows, not lines),
with the values the columns hold: numbers, booleans, strings, lists and structs, dates and times;
what no writer takes (bytes, decimals, durations) comes as text. Rows are turned into Python
objects :data:`READ_BATCH` at a time (the report holds no more than that), and only the columns
asked for are read.

Writing (:class:`ParquetWriter`): the result fields have the Arrow types
:meth:`~.fields.ResultFields.arrow_types` gives (probabilities float64, label lists
``list<string>``, the top emotions ``list<struct>``, the sentences), which the Ray integration
writes too; input columns keep the type their values have (an int column stays int64, dates
stay dates). A column's type comes from the first batch; when a later value does not fit it, the
column is widened (no values yet: the value's type; int64: float64; anything else: text, JSON for
lists and objects, ISO for dates) and the rows written so far are rewritten once with the wider
type, so that no value is lost or changed; a widening to text is reported.
"""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from .records import InputError, Record
from .writing import FixedColumns, Writer, text_of

if TYPE_CHECKING:
    import pyarrow as pa

READ_BATCH = 1024
"""Rows of a Parquet file turned into Python objects at a time."""

_NATIVE = (str, int, float, bool, datetime.date, datetime.time)
"""Values every writer takes as they are (``datetime.datetime`` is a ``date``)."""


def read_parquet_records(
    path: Path | str,
    *,
    text_column: str,
    text_only: bool = False,
    columns: Optional[Sequence[str]] = None,
) -> Iterator[Record]:
    """Stream a Parquet file's rows: only ``text_column`` with ``text_only``, only ``columns``
    (those the file has) when given.

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
    chosen = [text_column] if text_only else columns
    if chosen is not None:
        chosen = [name for name in names if name in set(chosen)]
    number = 0
    for batch in parquet.iter_batches(batch_size=READ_BATCH, columns=chosen):
        for row in batch.to_pylist():
            number += 1
            yield Record(number, _value(row))


def _value(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_value(item) for item in value]
    if value is None or isinstance(value, _NATIVE):
        return value
    return str(value)


def parquet_columns(path: Path | str) -> list[str]:
    """The names of a Parquet file's columns; an :class:`InputError` for a file that is not
    Parquet."""
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read {path} as Parquet: {err}") from err


def check_pyarrow() -> None:
    """An InputError, before a run starts, when pyarrow is missing."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError as err:
        raise InputError(
            "Parquet output needs pyarrow: pip install 'spacy-korsent[parquet]' "
            "(or write .csv or .jsonl)."
        ) from err


class ParquetWriter(Writer):
    """A Parquet file, one row group per batch, with native types (module docstring)."""

    def __init__(
        self,
        path: str,
        warn: Callable[[str], None],
        result_types: Callable[[], Mapping[str, pa.DataType]],
    ) -> None:
        self.path = path
        self.warn = warn
        self.result_types = result_types
        self.fixed = FixedColumns(warn, "Parquet schema")
        self.types: dict[str, pa.DataType] = {}
        self.results: dict[str, pa.DataType] = {}
        self.writer: Any = None
        self.rows = 0

    def write_rows(self, rows: list[dict]) -> None:
        import pyarrow as pa

        if self.fixed.fix(rows):
            self.results = dict(self.result_types())
            self.types = {
                column: self.results.get(column) or _inferred([row.get(column) for row in rows])
                for column in self.fixed.columns
            }
            self._open()
        arrays = [self._array(column, rows) for column in self.fixed.columns]
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.writer.schema))
        self.rows += len(rows)

    def _open(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([pa.field(name, kind) for name, kind in self.types.items()])
        try:
            self.writer = pq.ParquetWriter(self.path, schema)
        except OSError as err:
            raise InputError(f"cannot write {self.path}: {err}.") from err

    def _array(self, column: str, rows: list[dict]) -> pa.Array:
        """The batch's values of ``column`` in its type, widened first if they do not fit."""
        import pyarrow as pa

        values = [row.get(column) for row in rows]
        if column in self.results:  # made by the components in this type: nothing to check
            return pa.array(values, type=self.results[column])
        for _ in range(3):  # null -> a type -> float64 -> text at most
            array = _converted(values, self.types[column])
            if array is not None:
                return array
            self._widen(column, values)
        raise AssertionError(f"text holds any value, yet {column!r} did not convert")

    def _widen(self, column: str, values: list[Any]) -> None:
        """Give ``column`` a type that holds ``values`` too and rewrite the rows written so far."""
        import pyarrow as pa

        old = self.types[column]
        new = _inferred(values)
        if pa.types.is_null(old):
            pass
        elif {old, new} <= {pa.int64(), pa.float64()}:
            new = pa.float64()
        elif {old, new} <= {pa.date32(), pa.timestamp("us")}:
            new = pa.timestamp("us")  # a date is its midnight
        else:
            new = pa.string()
        if new == old:  # the values' own type did not hold them all: only text does
            new = pa.string()
        if pa.types.is_string(new) and not pa.types.is_null(old):
            rows = f"rows {self.rows + 1:,} to {self.rows + len(values):,}"
            self.warn(
                f"{self.path}: column {column!r} holds {old} values and others (in {rows}); it "
                "is written as text (lists and objects as JSON, dates in ISO format)."
            )
        self.types[column] = new
        self._rewrite(column, new)

    def _rewrite(self, column: str, kind: pa.DataType) -> None:
        """Write the file anew with ``column`` as ``kind``, one row group at a time."""
        import pyarrow.parquet as pq

        self.writer.close()
        old = f"{self.path}.korsent-widening"
        os.replace(self.path, old)
        self._open()
        written = pq.ParquetFile(old)
        for group in range(written.num_row_groups):
            table = written.read_row_group(group)
            index = table.schema.get_field_index(column)
            values = table.column(index).to_pylist()
            array = _converted(values, kind)
            assert array is not None, "a wider type holds every value of a narrower one"
            self.writer.write_table(table.set_column(index, column, array))
        os.remove(old)

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _inferred(values: list[Any]) -> pa.DataType:
    """The Arrow type of the values (null when all are None; text when they are of mixed kinds)."""
    import pyarrow as pa

    if any(isinstance(value, datetime.datetime) for value in values):
        values = _midnights(values)
    try:
        kind = pa.array(values).type
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.string()
    return kind


def _midnights(values: list[Any]) -> list[Any]:
    """Dates as datetimes at midnight (Excel gives a date for a cell without a time of day), so
    that a column of both is a column of timestamps."""
    return [
        datetime.datetime.combine(value, datetime.time()) if type(value) is datetime.date else value
        for value in values
    ]


def _converted(values: list[Any], kind: pa.DataType) -> Optional[pa.Array]:
    """The values as an array of ``kind``, or None when one does not fit it exactly (pyarrow
    would cut 1.5 to 1 for int64 or drop a struct's unknown keys without a word)."""
    import pyarrow as pa

    if pa.types.is_string(kind):
        return pa.array([None if v is None else text_of(v) for v in values], type=kind)
    if pa.types.is_timestamp(kind):
        values = _midnights(values)
    try:
        array = pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None
    if pa.types.is_null(kind) or all(map(_same, array.to_pylist(), values)):
        return array
    return None


def _same(written: Any, given: Any) -> bool:
    """Whether a value comes back from Arrow as it was given: a bool is no number here, a date
    no datetime, and a struct's key that the value lacks comes back empty."""
    if isinstance(given, dict) and isinstance(written, dict):
        extra = written.keys() - given.keys()
        return all(k in written and _same(written[k], given[k]) for k in given) and all(
            written[k] is None for k in extra
        )
    if isinstance(given, (list, tuple)) and isinstance(written, list):
        return len(written) == len(given) and all(map(_same, written, given))
    if isinstance(given, bool) != isinstance(written, bool):
        return False
    if isinstance(given, float) and isinstance(written, float) and math.isnan(given):
        return math.isnan(written)
    return bool(written == given)
