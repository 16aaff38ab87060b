"""How fast .xlsx sheets are read and written, by the library korsent uses and its alternative.

    python benchmarks/excel.py [--rows 100000] [--repeat 3] [--only REGEX]

Makes a sheet like an analyst's export: an id, a Korean review (NSMC texts from the test fixture,
cycled), a rating, a date and a probability, ``--rows`` rows below a header. Each measurement runs
in a child process, timed inside it (imports excluded), its peak resident memory read from the
kernel (``os.wait4``) with its CPU time: reading with python-calamine (what korsent uses,
through its own reader, so the cost of making rows and of its workbook check is included; the
check is also timed alone) and with openpyxl's read-only mode (rows of cell values); writing
with XlsxWriter in constant_memory mode (what korsent uses) and with openpyxl's write-only mode.
Prints a Markdown table of medians over ``--repeat`` runs (of the tasks ``--only`` matches).
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

from markdown_report import add_option, recorded
from report import machine

NSMC = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "nsmc_test_2000.txt"
HEADER = ["id", "text", "평점", "작성일", "확률"]


def sample_rows(count: int) -> Iterator[list[Any]]:
    texts = [line.split("\t")[1] for line in NSMC.read_text("utf-8").splitlines()[1:]]
    start = datetime.datetime(2024, 1, 1)
    for n in range(count):
        day = start + datetime.timedelta(minutes=37 * n)
        yield [n, texts[n % len(texts)], n % 5 + 1, day, (n % 1000) / 1000]


def read_calamine(path: Path) -> int:
    from spacy_korsent.files.readers import Layout, read_records

    return sum(1 for _ in read_records(path, Layout("xlsx"), required=("text",)))


def read_check(path: Path) -> int:
    """The check of a workbook's extent and text that korsent's reader makes first (alone)."""
    from spacy_korsent.files.workbook_limits import SheetLimits, Workbook

    return Workbook(path, str(path), SheetLimits()).check_sheet(0).rows - 1


def read_openpyxl(path: Path) -> int:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = book.worksheets[0].iter_rows(values_only=True)
    header = next(rows)
    count = sum(1 for row in rows if dict(zip(header, row)))
    book.close()
    return count


def write_xlsxwriter(path: Path, count: int) -> int:
    from spacy_korsent.files.excel import SheetWriter

    writer = SheetWriter(str(path), print)
    batch: list[dict] = []
    for row in sample_rows(count):
        batch.append(dict(zip(HEADER, row)))
        if len(batch) == 1024:
            writer.write(batch)
            batch = []
    writer.write(batch)
    writer.close()
    return count


def write_openpyxl(path: Path, count: int) -> int:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("results")
    sheet.append(HEADER)
    for row in sample_rows(count):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, datetime.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            cells.append(cell)
        sheet.append(cells)
    book.save(path)
    return count


TASKS = {
    "read: python-calamine (korsent)": "read_calamine",
    "read: its workbook check alone (part of the line above)": "read_check",
    "read: openpyxl read_only": "read_openpyxl",
    "write: XlsxWriter constant_memory (korsent)": "write_xlsxwriter",
    "write: openpyxl write_only": "write_openpyxl",
}


def child(task: str, path: Path, rows: int) -> tuple[float, float, float]:
    """(seconds, CPU seconds, peak MB) of one task in a fresh process (``--one``): seconds timed
    inside it (imports left out), CPU seconds of the whole process (steadier on a busy machine)."""
    with tempfile.TemporaryFile("w+") as out:
        argv = [sys.executable, __file__, "--one", task, str(path), "--rows", str(rows)]
        process = subprocess.Popen(argv, stdout=out)
        _, status, usage = os.wait4(process.pid, 0)
        if status:
            raise RuntimeError(f"{task} failed")
        out.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return float(out.read().split()[-1]), cpu, usage.ru_maxrss / 1024


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", metavar="REGEX", help="the tasks whose names match (default all)")
    parser.add_argument("--one", nargs=2, metavar=("TASK", "PATH"), help=argparse.SUPPRESS)
    add_option(parser)
    args = parser.parse_args(argv)
    if args.one:  # a child: one task, its seconds on standard output
        task, path = args.one
        started = time.time()
        work = globals()[task]
        work(Path(path)) if task.startswith("read") else work(Path(path), args.rows)
        print(time.time() - started)
        return 0
    with recorded(args.markdown):
        folder = Path(tempfile.mkdtemp(prefix="korsent-excel-"))
        sheet = folder / "sheet.xlsx"
        started = time.time()
        write_xlsxwriter(sheet, args.rows)
        print(machine())
        print(
            f"{args.rows:,} rows x {len(HEADER)} columns"
            f" ({sheet.stat().st_size / 1e6:.1f} MB .xlsx, made in {time.time() - started:.1f} s),"
            f" median of {args.repeat} runs\n"
        )
        print("| task | seconds | CPU seconds | rows/s | peak memory MB |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for label, task in TASKS.items():
            if args.only and not re.search(args.only, label):
                continue
            target = sheet if task.startswith("read") else folder / f"{task}.xlsx"
            runs = [child(task, target, args.rows) for _ in range(args.repeat)]
            seconds, cpu, peak = (statistics.median(run[i] for run in runs) for i in range(3))
            speed = args.rows / seconds
            print(f"| {label} | {seconds:.2f} | {cpu:.2f} | {speed:,.0f} | {peak:,.0f} |")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
