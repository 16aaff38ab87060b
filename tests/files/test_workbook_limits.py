"""Hostile and inflating workbooks: refused in one line (exit 2) before python-calamine reads them,
with the memory of the process bounded; limits that can be raised; and the extent the check finds
the range calamine builds.

The workbooks are written here with zipfile and minimal XML, a few kilobytes each. Every hostile
one is read in a child process under an address-space limit (:data:`MEMORY`): before the check,
calamine aborted the process (asking for up to 512 GB) or took gigabytes, which must fail the
test, not end pytest or exhaust the machine.
"""

from __future__ import annotations

import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import TINY_MODEL

from spacy_korsent.files.readers import InputError, Layout, read_records
from spacy_korsent.files.workbook_limits import SheetLimits

python_calamine = pytest.importorskip("python_calamine")

MEMORY = 2 << 30
"""Bytes of address space a child reading a hostile workbook may take."""

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"


def workbook(
    path: Path,
    rows: str,
    *,
    dimension: str = "",
    shared: str | None = None,
    target: str = "worksheets/sheet1.xml",
    prologue: str = "",
) -> Path:
    """A workbook of one sheet 'S' whose <sheetData> holds ``rows`` (XML) and, given, a
    <dimension> and a shared-string table (``shared``: the <sst> element)."""
    dimension = f'<dimension ref="{dimension}"/>' if dimension else ""
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
        f'Type="{RELATIONS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONS}"><sheets><sheet '
        'name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
        f'Type="{RELATIONS}/worksheet" Target="{target}"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'{prologue}<worksheet xmlns="{MAIN}">{dimension}'
        f"<sheetData>{rows}</sheetData></worksheet>",
    }
    if shared is not None:
        parts["xl/sharedStrings.xml"] = shared
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return path


def text(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


HEADER = f'<row r="1">{text("A1", "id")}{text("B1", "text")}</row>'
ROW = f'<row r="2"><c r="A2"><v>1</v></c>{text("B2", "좋다")}</row>'


def sst(*strings: str, declared: int | None = None) -> str:
    count = len(strings) if declared is None else declared
    items = "".join(f"<si><t>{string}</t></si>" for string in strings)
    return f'<sst xmlns="{MAIN}" count="{count}" uniqueCount="{count}">{items}</sst>'


HOSTILE = {  # name: (sheetData, other parts, what the one line says)
    "last-cell": (
        HEADER + ROW + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
        {},
        "range A1:XFD1048576 is 1,048,576 rows x 16,384 columns = 17,179,869,184 cells",
    ),
    "cell-past-the-last-row": (
        HEADER + '<row r="3"><c r="A99999999999"><v>1</v></c></row>',
        {},
        "cell A99999999999 is past Excel's last cell XFD1048576",
    ),
    "row-without-cell-reference": (
        HEADER + '<row r="99999999999"><c><v>1</v></c></row>',
        {},
        "row 99999999999 is past Excel's last cell XFD1048576",
    ),
    "reference-of-5000-digits": (
        HEADER + f'<row r="3"><c r="A{"9" * 5000}"><v>1</v></c></row>',
        {},
        f"cell A{'9' * 39} is past Excel's last cell",  # the reference's first 40 characters
    ),
    "column-past-excel": (
        HEADER + '<row r="2"><c r="XFE2"><v>1</v></c></row>',
        {},
        "cell XFE2 is past Excel's last cell XFD1048576",
    ),
    "dimension-past-excel": (
        HEADER + ROW,
        {"dimension": "A1:B99999999"},
        "cell B99999999 is past Excel's last cell XFD1048576",
    ),
    "declared-strings": (
        HEADER,
        {"shared": sst("a", declared=4294967295)},
        "declares 4,294,967,295 shared strings but holds 1",
    ),
    "inflating-range": (
        HEADER + ROW + '<row r="5000"><c r="XFD5000"><v>1</v></c></row>',
        {},
        "range A1:XFD5000 is 5,000 rows x 16,384 columns = 81,920,000 cells",
    ),
    "cell-without-reference": (  # placed after the row before: row 1,000,000
        HEADER + '<row r="999999"></row><row><c><v>1</v></c></row><row r="1"><c r="XFD1"/></row>'
        '<row r="2"><c r="XFD2"><v>1</v></c></row>',
        {},
        "range A1:XFD1000000 is 1,000,000 rows x 16,384 columns",
    ),
    "shared-string-copies": (
        HEADER
        + "".join(f'<row r="{n}"><c r="B{n}" t="s"><v>0</v></c></row>' for n in range(2, 4000)),
        {"shared": sst("가" * 30_000)},
        "more than 100,000,000 characters of text (a shared string counted for each cell",
    ),
    "document-type": (
        HEADER,
        {"prologue": '<!DOCTYPE w [<!ENTITY a "aaaa">]>'},
        "declares a document type, which no workbook does",
    ),
}


def read_in_child(path: Path, *options: str, command: str | None = None) -> tuple[int, str]:
    """(exit code, standard error) of reading ``path`` in a child limited to :data:`MEMORY`:
    through ``korsent COMMAND`` if given, else the reader alone (2 and the message for an
    InputError, as the command line does)."""
    limit = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({MEMORY}, {MEMORY}))"
    if command is None:
        body = (
            "from spacy_korsent.files.readers import InputError, Layout, read_records\n"
            "from spacy_korsent.files.workbook_limits import SheetLimits\n"
            f"limits = SheetLimits(*{[int(value) for value in options]!r})\n"
            "try:\n"
            f"    rows = list(read_records({str(path)!r}, Layout(sheet_limits=limits)))\n"
            "except InputError as err:\n"
            "    sys.exit(f'korsent: error: {err}')\n"
        )
    else:
        out = f"{path}.out.{'html' if command == 'report' else 'csv'}"
        argv = [command, "-q", "-i", str(path), "-o", out, *options]
        argv += ["--sentiment-model", str(TINY_MODEL)] if command == "analyze" else []
        body = f"from spacy_korsent.cli import main\nsys.exit(main({argv!r}))\n"
    child = subprocess.run(
        [sys.executable, "-c", f"import sys\n{limit}\n{body}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return child.returncode, child.stderr


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_workbook_is_refused_in_one_line_with_memory_bounded(
    tmp_path: Path, case: str
) -> None:
    rows, parts, message = HOSTILE[case]
    path = workbook(tmp_path / f"{case}.xlsx", rows, **parts)
    assert path.stat().st_size < 50_000  # a few kilobytes
    code, err = read_in_child(path)
    assert code == 1 and err.count("\n") == 1 and message in err, (code, err[-2000:])
    assert err.startswith(f"korsent: error: {path} (")


@pytest.mark.parametrize("command", ["analyze", "report"])
def test_analyze_and_report_refuse_a_hostile_workbook_with_exit_2(
    tmp_path: Path, command: str
) -> None:
    rows, parts, message = HOSTILE["last-cell"]
    path = workbook(tmp_path / "last.xlsx", rows, **parts)
    code, err = read_in_child(path, command=command)
    assert code == 2, err[-2000:]
    assert err == (
        f"korsent {command}: error: {path} (sheet 'S'): the sheet's {message}, past the limit "
        "of 20,000,000 cells read into memory; raise it with --max-sheet-cells, or save the sheet "
        "as CSV (read as a stream).\n"
    )


def test_a_cell_of_hundreds_of_megabytes_is_refused_before_it_is_held(tmp_path: Path) -> None:
    """A 120 MB cell in a 120 KB file (calamine took 1.4 GB for one of 200 MB)."""
    cell = text("B2", "a" * 120_000_000)
    path = workbook(tmp_path / "cell.xlsx", f'{HEADER}<row r="2">{cell}</row>')
    assert path.stat().st_size < 200_000
    code, err = read_in_child(path)
    assert code == 1 and "more than 100,000,000 characters of text" in err, err[-2000:]


def test_the_limits_can_be_raised_or_lowered_from_the_library_and_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = workbook(
        tmp_path / "small.xlsx", HEADER + ROW + f'<row r="3">{text("B3", "별로")}</row>'
    )
    assert [record.row["text"] for record in read_records(path)] == ["좋다", "별로"]
    with pytest.raises(InputError, match="range A1:B3 is 3 rows x 2 columns = 6 cells, past the "):
        list(read_records(path, Layout(sheet_limits=SheetLimits(cells=5))))
    with pytest.raises(InputError, match="more than 5 characters of text"):
        list(read_records(path, Layout(sheet_limits=SheetLimits(text=5))))
    code, err = read_in_child(path, "--max-sheet-text", "5", command="report")
    assert code == 2 and "more than 5 characters of text" in err
    wide = workbook(tmp_path / "wide.xlsx", HEADER + '<row r="100"><c r="Z100"><v>1</v></c></row>')
    code, err = read_in_child(wide, "2000")
    assert code == 1 and "range A1:Z100 is 100 rows x 26 columns = 2,600 cells, past" in err
    code, err = read_in_child(wide, "3000")
    assert (code, err) == (0, "")


def test_cells_written_over_one_another_count_against_the_limit(tmp_path: Path) -> None:
    """calamine holds every cell written, also when a thousand land on A2."""
    rows = HEADER + '<row r="2">' + '<c r="A2"><v>1</v></c>' * 1000 + "</row>"
    path = workbook(tmp_path / "over.xlsx", rows)
    with pytest.raises(InputError, match="more than 100 cells written"):
        list(read_records(path, Layout(sheet_limits=SheetLimits(cells=100))))


def test_a_sheet_the_workbook_lists_but_does_not_hold_is_named_in_one_line(
    tmp_path: Path,
) -> None:
    path = workbook(tmp_path / "gone.xlsx", HEADER, target="worksheets/gone.xml")
    with pytest.raises(InputError) as raised:
        list(read_records(path))
    assert str(raised.value) == (
        f"{path} (sheet 'S'): the workbook lists the sheet, but its data (xl/worksheets/gone.xml) "
        "is not in the file: the workbook is damaged; open it in Excel and save it again."
    )


def random_sheet(rng: random.Random) -> str:
    """Rows and cells with and without r, empty elements, stray cells outside rows."""
    parts = []
    for _ in range(rng.randint(1, 12)):
        kind = rng.random()
        if kind < 0.15:
            parts.append(f'<row r="{rng.randint(1, 40)}"/>' if rng.random() < 0.5 else "<row/>")
            continue
        if kind < 0.25:
            parts.append(f'<row r="{rng.randint(1, 40)}"></row>')
            continue
        cells = []
        for _ in range(rng.randint(0, 5)):
            ref = (
                f' r="{chr(65 + rng.randrange(8))}{rng.randint(1, 40)}"'
                if rng.random() < 0.4
                else ""
            )
            value = rng.choice(["<v>1</v>", "", "/"])
            cells.append(f"<c{ref}/>" if value == "/" else f"<c{ref}>{value}</c>")
        inside = "".join(cells)
        if kind < 0.35:
            parts.append(inside)  # cells outside any row
        else:
            ref = f' r="{rng.randint(1, 40)}"' if rng.random() < 0.5 else ""
            parts.append(f"<row{ref}>{inside}</row>")
    return "".join(parts)


def test_the_extent_found_is_the_range_calamine_builds(tmp_path: Path) -> None:
    """Seeded: 300 small sheets of every kind of placement calamine follows (cells with a value
    or none, with r or without, empty elements, cells outside rows)."""
    from spacy_korsent.files.workbook_limits import Workbook

    rng = random.Random(28)
    for index in range(300):
        path = workbook(tmp_path / f"{index}.xlsx", random_sheet(rng))
        extent = Workbook(path, str(path), SheetLimits()).check_sheet(0)
        table = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        rows, columns = (table.height, table.width) if table.start else (0, 0)
        assert (extent.rows, extent.columns) == (rows, columns), (index, path.read_bytes())


def test_an_encrypted_workbook_or_an_xls_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "locked.xlsx"
    path.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504))  # an OLE compound file
    with pytest.raises(InputError, match="protected with a password, or an Excel 97-2003"):
        list(read_records(path))


def test_a_part_calamine_reads_whole_on_opening_is_bounded_too(tmp_path: Path) -> None:
    """Styles (or the workbook's names) past the text limit, or 16 MB when that is lower:
    calamine would hold them whole."""
    path = workbook(tmp_path / "styles.xlsx", HEADER + ROW)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        styles = "<xf/>" * 3_500_000  # 17.5 MB
        archive.writestr("xl/styles.xml", f'<styleSheet xmlns="{MAIN}">{styles}</styleSheet>')
    assert path.stat().st_size < 50_000
    with pytest.raises(InputError, match="xl/styles.xml is more than 16,777,216 bytes long"):
        list(read_records(path, Layout(sheet_limits=SheetLimits(text=1_000_000))))
    assert len(list(read_records(path))) == 1  # within the default limits: read
