"""Dates of analysed rows: parse the formats Korean exports use, bucket them by a span's size.

A review site's ``15.03.02``, a database's ``2015-03-02 14:05:00``, a spreadsheet's ``2015.03.02``
or Excel serial number ``42065``, ``2015년 3월 2일``: each becomes a :class:`datetime.date`. A value
none of these fits gives None, which the report counts (and shows) rather than fails on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache

_YMD = re.compile(
    r"\s*(\d{4}|\d{2})\s*[-./년]\s*(\d{1,2})\s*[-./월]\s*(\d{1,2})\s*일?\.?"
    r"(?:(?:[T\s]+\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?\s*"
)
_COMPACT = re.compile(r"\s*(\d{4})(\d{2})(\d{2})\s*")
_SERIAL = re.compile(r"\s*(\d{5})(?:\.\d+)?\s*")
EXCEL_EPOCH = date(1899, 12, 30)
"""Day 0 of Excel's (1900 system) serial dates, as read by every spreadsheet since Lotus."""
SERIALS = (20000, 80000)
"""Serial numbers read as Excel dates: 1954-10-03 to 2119-01-11 (other numbers are not dates)."""


@lru_cache(maxsize=8192)
def parse_date(value: str) -> date | None:
    """The date a cell holds, or None. Two-digit years are 2000-2068 or 1969-1999 (as Python's
    ``%y``); a time of day and a time zone are ignored (the date is the one written)."""
    match = _YMD.fullmatch(value) or _COMPACT.fullmatch(value)
    if match:
        year, month, day = (int(part) for part in match.groups())
        if len(match.group(1)) == 2:
            year += 2000 if year < 69 else 1900
        try:
            return date(year, month, day)
        except ValueError:
            return None
    match = _SERIAL.fullmatch(value)
    if match and SERIALS[0] <= int(match.group(1)) < SERIALS[1]:
        return EXCEL_EPOCH + timedelta(days=int(match.group(1)))
    return None


def as_date(value: object) -> date | None:
    """:func:`parse_date` for any cell: a string, a number (an Excel serial), a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return parse_date(str(int(value))) if value == value else None
    return parse_date(str(value)) if isinstance(value, str) else None


BUCKETS = ("day", "week", "month")


def bucket_size(days: Iterable[date]) -> str:
    """Days for a span of up to three months, weeks up to two years, months beyond: at most
    about 100 bars either way, until the span passes eight years."""
    known = list(days)
    if not known:
        return "day"
    span = (max(known) - min(known)).days
    return "day" if span <= 92 else "week" if span <= 731 else "month"


def bucket_start(day: date, size: str) -> date:
    """The first day of the bucket ``day`` falls in (weeks start on Monday)."""
    if size == "week":
        return day - timedelta(days=day.weekday())
    if size == "month":
        return day.replace(day=1)
    return day


def bucket_label(start: date, size: str) -> str:
    """How a bucket is written on the chart: 2024-03-05, week of 2024-03-04, 2024-03."""
    return start.strftime("%Y-%m") if size == "month" else start.isoformat()
