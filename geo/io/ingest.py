"""Importers for 110 call exports and complaint records (CSV in any common encoding, XLSX).

Every data row of a file ends in exactly one of three states:

* **accepted** — stored as an incident;
* **rejected** — with its spreadsheet row number and a reason in Chinese, written to a
  quarantine CSV the user can download, fix and import again;
* **duplicate** — its ``(source, source_id)`` is already stored or appeared earlier in the file.

``accepted + rejected + duplicates == total`` always holds (blank rows are not data rows).
An import is one database transaction: if anything fails, the store is unchanged.

Large CSV files (:data:`PARALLEL_MIN_ROWS` lines or more) are read and checked in a helper
process (:class:`_Helper`) while the importing process writes; only the importing process
touches the database, so the transaction guarantees are the same. ``benchmarks/bench_import.py``
measures the throughput.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import itertools
import os
import pickle
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sqlalchemy import insert, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core import settings
from core.db import ImportBatch, Incident, get_engine, load_hospitals
from geo.crs import in_china, normalize_crs_name, to_wgs84
from geo.io.accounting import RowAccount
from geo.io.hospitals import assign_nearest, match_hospital_names
from geo.taxonomy import load_taxonomy

HEADER_MAP_FILE = settings.DATA_DIR / "header_map.yaml"
#: Column names a user mapped in the import page (same format; read after the shipped file and
#: taking precedence, so a mapping made once is used for every later file with those headers).
USER_HEADER_MAP_FILE = settings.VAR_DIR / "header_map_user.yaml"
#: How many rows from the top are searched for the header row.
HEADER_SEARCH_ROWS = 30
#: Earliest plausible incident time; earlier dates are typing errors.
EARLIEST = pd.Timestamp("2000-01-01")

Progress = Callable[[float, str], None]


class ImportError_(ValueError):
    """The file as a whole cannot be imported (unreadable, no header, no time column ...)."""


@dataclass(kw_only=True)
class ImportResult(RowAccount):
    """Outcome of one incident import; the counts always add up to ``total``."""

    source: str
    crs: str
    approximate: int = 0
    swapped: int = 0
    #: One note per accepted row whose coordinates were changed: 行号, 说明 (swapped, converted).
    row_notes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["行号", "说明"]))

    def summary(self) -> dict:
        """JSON-ready summary (what the CLI prints)."""
        return {**self.counts(), "source": self.source, "crs": self.crs, "approximate": self.approximate,
                "swapped_coordinates": self.swapped}


# --------------------------------------------------------------------------- reading


def read_bytes(src: str | Path | bytes) -> tuple[bytes, str]:
    """The bytes of an upload or a file path, and the name to record for it."""
    if isinstance(src, bytes | bytearray):
        data = bytes(src)
        name = "upload"
    else:
        path = Path(src)
        if not path.is_file():
            raise FileNotFoundError(f"文件不存在: {path}")
        size = path.stat().st_size
        if size > settings.MAX_IMPORT_BYTES:
            raise ImportError_(f"文件过大（{size / 1e6:.0f} MB），上限 {settings.MAX_IMPORT_BYTES / 1e6:.0f} MB")
        data = path.read_bytes()
        name = path.name
    if len(data) > settings.MAX_IMPORT_BYTES:
        raise ImportError_(f"文件过大（{len(data) / 1e6:.0f} MB），上限 {settings.MAX_IMPORT_BYTES / 1e6:.0f} MB")
    return data, name


def detect_encoding(data: bytes) -> str:
    """Encoding of CSV bytes: UTF-8 (with or without BOM), else GB18030 (a superset of GBK and GB2312).

    The bytes are decoded incrementally, so a large file is never held twice in memory.
    Raises :class:`ImportError_` for binary content.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if data[:65536].count(b"\x00") > 0.01 * min(len(data), 65536):
        raise ImportError_("文件不是文本表格（含二进制内容），请导出为 CSV 或 XLSX")
    view = memoryview(data)
    for enc in ("utf-8", "gb18030"):
        dec = codecs.getincrementaldecoder(enc)()
        try:
            for i in range(0, len(data), 1 << 20):
                dec.decode(view[i : i + (1 << 20)])
            dec.decode(b"", final=True)
            return enc
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is not None and best.encoding:
        return best.encoding
    # Undecodable bytes become U+FFFD; the affected rows are rejected by the field checks.
    return "gb18030"

def _sniff_delimiter(lines: list[str]) -> str:
    best, best_score = ",", 0
    for d in (",", "\t", ";", "|"):
        counts = [ln.count(d) for ln in lines if ln.strip()]
        score = sorted(counts)[len(counts) // 2] if counts else 0
        if score > best_score:
            best, best_score = d, score
    return best


def _csv_chunks(data: bytes, enc: str, *, chunk_rows: int, robust: bool = False) -> Iterator[pd.DataFrame]:
    """Cells of a CSV as strings, chunk by chunk; the index is the 0-based record number."""
    head_text = data[:65536].decode(enc, errors="replace")
    head = head_text.splitlines()[: HEADER_SEARCH_ROWS * 2]
    delim = _sniff_delimiter(head)
    rows = list(csv.reader(io.StringIO("\n".join(head)), delimiter=delim))
    width = max((len(r) for r in rows), default=1)
    _check_width(width)
    if robust:
        # Slow path for files whose rows are wider than the C parser was told to expect.
        stream = io.TextIOWrapper(io.BytesIO(data), encoding=enc, errors="replace", newline="")
        recs = []
        for rec in csv.reader(stream, delimiter=delim):
            _check_width(len(rec))
            recs.append(rec)
            if len(recs) > settings.MAX_IMPORT_ROWS:
                raise ImportError_(f"行数超过上限 {settings.MAX_IMPORT_ROWS:,}，请拆分文件后导入")
        for i in range(0, max(len(recs), 1), chunk_rows):
            part = pd.DataFrame(recs[i : i + chunk_rows], dtype=object).fillna("")
            part.index = np.arange(i, i + len(part))
            yield part
        return
    if enc == "utf-8" or chunk_rows >= CHUNK_ROWS:
        # Whole-file reads take UTF-8 bytes, transcoded once up front: ~25% faster than the C
        # parser pulling text through a decoder.
        utf8 = data if enc == "utf-8" else data.decode(enc, errors="replace").encode("utf-8")
        source: io.IOBase = io.BytesIO(utf8)
        kwargs = {"encoding": "utf-8"}
    else:  # a look at the first rows: decode only what is read
        source = io.TextIOWrapper(io.BytesIO(data), encoding=enc, errors="replace", newline="")
        kwargs = {}
    # Fixed wide names let the fast C parser take ragged rows (title rows, a few extra cells).
    # dtype=object: plain Python strings, as the checks and the insert use them.
    reader = pd.read_csv(
        source, **kwargs, sep=delim, header=None, names=range(width + 8), dtype=object, keep_default_na=False,
        skip_blank_lines=False, engine="c", quoting=csv.QUOTE_MINIMAL, chunksize=chunk_rows,
    )
    with reader:
        yield from reader


def _check_width(width: int) -> None:
    """Refuse a table wider than ``settings.MAX_IMPORT_COLUMNS`` before it is parsed (random text with many
    delimiters on one line made pandas build thousands of columns: 98 s and 1.2 GB for 400 KB)."""
    if width > settings.MAX_IMPORT_COLUMNS:
        raise ImportError_(
            f"列数过多（{width:,} 列，上限 {settings.MAX_IMPORT_COLUMNS} 列）：文件不像 110 警情或投诉表格，已拒绝"
        )


_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]+)?(\d+)?(?::([A-Z]+)(\d+))?\"")


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def _xlsx_sheet_member(zf: zipfile.ZipFile, sheet: str | None) -> str | None:
    """The zip member of the requested (or first) worksheet, from workbook.xml and its relationships."""
    try:
        wb = zf.read("xl/workbook.xml")[:1_000_000]
        rels = zf.read("xl/_rels/workbook.xml.rels")[:1_000_000]
    except KeyError:
        return None
    sheets = re.findall(rb"<(?:\w+:)?sheet\b[^>]*?name=\"([^\"]*)\"[^>]*?r:id=\"([^\"]+)\"", wb)
    if not sheets:
        return None
    rid = next((r for n, r in sheets if sheet is not None and n.decode("utf-8", "replace") == sheet), sheets[0][1])
    m = re.search(rb"<Relationship\b[^>]*?Id=\"" + re.escape(rid) + rb"\"[^>]*?Target=\"([^\"]+)\"", rels)
    if m is None:
        m = re.search(rb"<Relationship\b[^>]*?Target=\"([^\"]+)\"[^>]*?Id=\"" + re.escape(rid) + rb"\"", rels)
    if m is None:
        return None
    target = m.group(1).decode("utf-8", "replace").lstrip("/")
    return target if target.startswith("xl/") else f"xl/{target}"


def _check_xlsx_dimension(zf: zipfile.ZipFile, sheet: str | None) -> None:
    """Refuse a worksheet whose declared dimension exceeds the row/column limits, before openpyxl parses it.

    A 3.2 MB file declaring 10.9 million rows made openpyxl pad and yield every row (1.3 GB, > 600 s).
    """
    member = _xlsx_sheet_member(zf, sheet)
    if member is None or member not in zf.namelist():
        return
    with zf.open(member) as fh:
        head = fh.read(8192)
    m = _DIMENSION.search(head)
    if m is not None:
        last_col, last_row = m.group(3) or m.group(1), m.group(4) or m.group(2)
        rows = int(last_row) if last_row else 0
        cols = _col_number(last_col.decode()) if last_col else 0
        if rows > settings.MAX_IMPORT_ROWS + HEADER_SEARCH_ROWS:
            raise ImportError_(
                f"工作表声明了 {rows:,} 行，超过上限 {settings.MAX_IMPORT_ROWS:,} 行（疑似“行数炸弹”），已拒绝；请拆分文件"
            )
        _check_width(cols)
    # The declaration may lie: count the row elements in the decompressed XML (fast, no parsing).
    rows, tail = 0, b""
    with zf.open(member) as fh:
        while block := fh.read(1 << 22):
            chunk = tail + block
            rows += chunk.count(b"<row") + chunk.count(b":row ")
            tail = chunk[-8:]
            rows -= tail.count(b"<row") + tail.count(b":row ")  # counted again with the next block
            if rows > settings.MAX_IMPORT_ROWS + HEADER_SEARCH_ROWS:
                raise ImportError_(
                    f"工作表超过 {settings.MAX_IMPORT_ROWS:,} 行（疑似“行数炸弹”），已拒绝；请拆分文件后导入"
                )


def _check_zip(data: bytes) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ImportError_("XLSX 文件已损坏，无法打开") from exc
    total = sum(i.file_size for i in zf.infolist())
    if total > settings.MAX_XLSX_UNCOMPRESSED_BYTES:
        raise ImportError_(f"XLSX 解压后过大（{total / 1e6:.0f} MB），疑似压缩炸弹，已拒绝")
    if "xl/workbook.xml" not in zf.namelist():
        raise ImportError_("不是有效的 XLSX 文件（缺少 xl/workbook.xml）")


def _cell_str(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, dt.time):
        return v.strftime("%H:%M:%S")
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def _xlsx_rows(data: bytes, sheet: str | None, *, max_rows: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """Stream ``(0-based row number, cells)`` of the worksheet, non-empty rows only, within the limits.

    The declared dimension is checked first (:func:`_check_xlsx_dimension`); openpyxl reads in ``read_only`` mode
    with the declared dimension reset (so rows are not padded to a forged width); rows, columns, cell length and
    reading time are bounded while streaming. ``max_rows`` stops after that many rows (a preview).
    """
    import time

    import openpyxl

    _check_zip(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        _check_xlsx_dimension(zf, sheet)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise ImportError_(f"XLSX 文件无法读取：{type(exc).__name__}") from exc
    deadline = time.monotonic() + settings.MAX_IMPORT_SECONDS
    limit_cols, limit_chars = settings.MAX_IMPORT_COLUMNS, settings.MAX_CELL_CHARS
    try:
        if sheet is not None:
            if sheet not in wb.sheetnames:
                raise ImportError_(f"工作表 {sheet!r} 不存在；现有工作表：{', '.join(wb.sheetnames)}")
            ws = wb[sheet]
        else:
            if not wb.worksheets:
                raise ImportError_("XLSX 文件中没有工作表")
            ws = wb.worksheets[0]
        ws.reset_dimensions()  # never trust the declared size: no padding of rows and columns
        for i, r in enumerate(ws.iter_rows(values_only=True)):
            if max_rows is not None and i >= max_rows:
                break
            if i > settings.MAX_IMPORT_ROWS + HEADER_SEARCH_ROWS:
                raise ImportError_(f"行数超过上限 {settings.MAX_IMPORT_ROWS:,}，请拆分文件后导入")
            if not i % 4096 and time.monotonic() > deadline:
                raise ImportError_(f"读取超过 {settings.MAX_IMPORT_SECONDS:.0f} 秒仍未完成，已停止；请拆分文件")
            if not any(v is not None and v != "" for v in r):
                continue
            while r and (r[-1] is None or r[-1] == ""):
                r = r[:-1]
            _check_width(len(r))
            yield i, [_cell_str(v)[:limit_chars] for v in r[:limit_cols]]
    except ImportError_:
        raise
    except Exception as exc:  # broken sheet XML surfaces only while iterating rows
        raise ImportError_(f"XLSX 工作表内容已损坏，无法读取：{type(exc).__name__}") from exc
    finally:
        wb.close()


def _read_xlsx_grid(data: bytes, sheet: str | None, *, max_rows: int | None = None) -> pd.DataFrame:
    """The worksheet's non-empty rows as strings; the index is the 0-based row number in the sheet."""
    index, rows = [], []
    for i, cells in _xlsx_rows(data, sheet, max_rows=max_rows):
        index.append(i)
        rows.append(cells)
    if not rows:
        return pd.DataFrame()
    width = max(map(len, rows))
    grid = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)
    grid.index = np.asarray(index)
    return grid


def read_grid(data: bytes, *, sheet: str | None = None, max_rows: int | None = None) -> tuple[pd.DataFrame, str]:
    """Read a CSV or XLSX file's cells as strings. Returns ``(grid, encoding_or_format)``.

    ``max_rows`` limits how much is read (a preview).
    """
    parts = []
    for robust in (False, True):
        chunks, enc = _grid_chunks(
            data, sheet=sheet, chunk_rows=max_rows or 200_000, max_rows=max_rows, robust=robust
        )
        parts = []
        try:
            for part in chunks:
                parts.append(part)
                if max_rows is not None:
                    break
            break
        except pd.errors.ParserError:
            # Ragged rows: read again with the csv module (as the import does).
            if robust:
                raise ImportError_("CSV 格式错误，无法解析") from None
    grid = pd.concat(parts) if parts else pd.DataFrame()
    return grid.dropna(axis=1, how="all"), enc


def _grid_chunks(
    data: bytes, *, sheet: str | None, chunk_rows: int, robust: bool = False, max_rows: int | None = None
) -> tuple[Iterator[pd.DataFrame], str]:
    if data.startswith(b"PK\x03\x04"):
        grid = _read_xlsx_grid(data, sheet, max_rows=max_rows)
        return iter([grid.iloc[i : i + chunk_rows] for i in range(0, max(len(grid), 1), chunk_rows)]), "xlsx"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportError_("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV")
    enc = detect_encoding(data)
    return _csv_chunks(data, enc, chunk_rows=chunk_rows, robust=robust), enc


# --------------------------------------------------------------------------- header


def norm_header(h: object) -> str:
    """A header as the header map compares it: lower case, no bracketed notes or spaces (shared with reference imports)."""
    s = str(h or "").strip().lower()
    s = re.sub(r"[（(【\[].*?[)）】\]]", "", s)
    return re.sub(r"[\s*:：_\-]", "", s)


def load_header_map(path: str | Path | None = None) -> dict[str, str]:
    """Normalised header alias -> field name, from ``data/header_map.yaml``.

    Without ``path``, the user's mappings (:data:`USER_HEADER_MAP_FILE`) come first when present.
    """
    files = [Path(path)] if path else [p for p in (USER_HEADER_MAP_FILE, HEADER_MAP_FILE) if p.exists()]
    out: dict[str, str] = {}
    for f in files:
        with open(f, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or {}
        for fld, aliases in raw.items():
            for a in aliases or []:
                out.setdefault(norm_header(a), fld)
    return out


def save_user_header_map(mapping: dict[str, str], path: str | Path | None = None) -> Path:
    """Remember ``{file column name: field}`` for later imports (merged into the user's mapping file)."""
    target = Path(path or USER_HEADER_MAP_FILE)
    raw: dict[str, list[str]] = {}
    if target.exists():
        raw = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
    for header, fld in mapping.items():
        for aliases in raw.values():  # a column name maps to one field only
            if header in aliases:
                aliases.remove(header)
        raw.setdefault(fld, []).append(str(header))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump({k: v for k, v in raw.items() if v}, allow_unicode=True), encoding="utf-8")
    return target


def best_header_row(grid: pd.DataFrame, header_map: dict[str, str]) -> tuple[int, dict[str, int]]:
    """The row among the first :data:`HEADER_SEARCH_ROWS` with the most recognised names, and its fields.

    Returns ``(row_index, {field: column})``, ``(-1, {})`` when no row names any field; the first
    column of a field repeated in a row wins. Shared by the incident and reference importers,
    which differ only in what a header must contain.
    """
    best_row, best_map = -1, {}
    for i in range(min(HEADER_SEARCH_ROWS, len(grid))):
        mapping: dict[str, int] = {}
        for j, cell in enumerate(grid.iloc[i].tolist()):
            fld = header_map.get(norm_header(cell))
            if fld and fld not in mapping:
                mapping[fld] = j
        if len(mapping) > len(best_map):
            best_row, best_map = i, mapping
    return best_row, best_map


def find_header(grid: pd.DataFrame, header_map: dict[str, str]) -> tuple[int, dict[str, int]]:
    """Locate the header row among the first rows and map fields to column positions.

    Returns ``(row_index, {field: column})``. The header is the row with the most recognised
    names; a title row such as "XX市公安局110接处警登记表" above it is skipped.
    """
    best_row, best_map = best_header_row(grid, header_map)
    if best_row < 0 or len(best_map) < 2:
        raise ImportError_(
            f"找不到表头：前 {HEADER_SEARCH_ROWS} 行中没有可识别的列名。请检查文件，或在 data/header_map.yaml 中补充列名"
        )
    if "received_at" not in best_map and "date" not in best_map:
        raise ImportError_(f"第 {best_row + 1} 行表头中没有时间列（如 报警时间/接警时间/受理时间）")
    return best_row, best_map


# --------------------------------------------------------------------------- parsing

_DT_RX = re.compile(
    r"^\s*(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[\sT]*(?P<H>\d{1,2})\s*[:：时点]\s*(?P<M>\d{1,2})?\s*分?(?:\s*[:：]?\s*(?P<S>\d{1,2}(?:\.\d+)?)\s*秒?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?\s*$"
)
_COMPACT_RX = re.compile(r"^\s*(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})?)?\s*$")
_FAST_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
_TIME_RX = re.compile(r"^\s*(?P<H>\d{1,2})\s*[:：时点]\s*(?P<M>\d{1,2})?\s*分?(?:\s*[:：]?\s*(?P<S>\d{1,2})\s*秒?)?\s*$")


def _components_to_ts(parts: pd.DataFrame) -> pd.Series:
    num = parts[["y", "m", "d", "H", "M", "S"]].apply(pd.to_numeric, errors="coerce")
    num[["H", "M", "S"]] = num[["H", "M", "S"]].fillna(0)
    bad = (num["m"] > 12) | (num["d"] > 31) | (num["H"] > 23) | (num["M"] > 59) | (num["S"] >= 61)
    frame = pd.DataFrame({
        "year": num["y"], "month": num["m"], "day": num["d"],
        "hour": num["H"], "minute": num["M"], "second": num["S"].astype(float).round(),
    })
    ts = pd.to_datetime(frame.where(~bad), errors="coerce")
    return ts


def parse_datetimes(values: pd.Series, times: pd.Series | None = None) -> pd.Series:
    """Parse incident times into naive Asia/Shanghai timestamps (NaT where unparseable).

    Accepts ISO 8601 (with ``T``, seconds, ``Z`` or offsets, converted to Asia/Shanghai),
    ``2026/11/03 07:42``, ``2026.11.03 7:42``, ``2026年11月3日 7时42分``, compact
    ``20261103074200``, and Excel serial numbers (``46329.32``). With ``times``, the date and
    the time of day come from two columns (the time may be ``7:42``, ``7时42分`` or an Excel
    day fraction).
    """
    s = values.fillna("").astype(str).str.strip()
    if times is not None:
        t = times.fillna("").astype(str).str.strip()
        frac = pd.to_numeric(t, errors="coerce")
        is_frac = frac.notna() & (frac >= 0) & (frac < 1)
        secs = (frac.where(is_frac) * 86400).round()
        t = t.where(~is_frac, secs.map(lambda x: "" if pd.isna(x) else f"{int(x) // 3600}:{int(x) % 3600 // 60}:{int(x) % 60}"))
        tm = t.str.extract(_TIME_RX)
        date_only = s.str.replace(r"\s+0{1,2}:0{1,2}(:0{1,2})?$", "", regex=True)
        s = (date_only + " " + tm["H"].fillna("0") + ":" + tm["M"].fillna("0") + ":" + tm["S"].fillna("0")).where(
            tm["H"].notna() | (t == ""), "invalid"
        )
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    # Fast path: most exports use one fixed format throughout; strptime in C is ~50x faster than
    # the regex below, which handles whatever is left.
    for fmt in _FAST_FORMATS:
        todo = out.isna() & (s != "")
        if not todo.any():
            break
        sample = s[todo].head(200)
        if pd.to_datetime(sample, format=fmt, errors="coerce").notna().any():
            out.loc[todo] = pd.to_datetime(s[todo], format=fmt, errors="coerce")
    done = out.notna()
    parts = s[~done].str.extract(_DT_RX)
    ok = parts["y"].notna()
    if ok.any():
        ts = _components_to_ts(parts[ok])
        tz = parts.loc[ok, "tz"]
        has_tz = tz.notna()
        if has_tz.any():
            off = tz[has_tz].str.replace("Z", "+00:00").str.replace(r"^([+-]\d{2})(\d{2})$", r"\1:\2", regex=True)
            sign = off.str[0].map({"+": 1, "-": -1})
            minutes = off.str[1:3].astype(int) * 60 + off.str[-2:].astype(int)
            utc = ts[has_tz] - pd.to_timedelta(sign * minutes, unit="min")
            ts.loc[has_tz] = utc + pd.Timedelta(hours=8)  # Asia/Shanghai is UTC+8 without DST
        out.loc[ts.index] = ts
    rest = ~ok
    rest = rest[rest]
    if len(rest):
        comp = s[rest.index].str.extract(_COMPACT_RX)
        cok = comp["y"].notna()
        if cok.any():
            out.loc[comp[cok].index] = _components_to_ts(comp[cok])
        serial = pd.to_numeric(s[rest.index][~cok], errors="coerce")
        sok = serial.notna() & (serial > 20000) & (serial < 80000)
        if sok.any():
            # Excel's day 0 is 1899-12-30 (it counts the non-existent 1900-02-29).
            out.loc[serial[sok].index] = (
                pd.Timestamp("1899-12-30") + pd.to_timedelta(serial[sok] * 86400, unit="s")
            ).dt.round("s")
    return out


def _split_coords(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    parts = values.fillna("").astype(str).str.extract(r"^\s*\(?\s*(-?\d+(?:\.\d+)?)\s*[,，;；\s]\s*(-?\d+(?:\.\d+)?)\s*\)?\s*$")
    return pd.to_numeric(parts[0], errors="coerce"), pd.to_numeric(parts[1], errors="coerce")


def _infer_source(name: str, title: str, channel: pd.Series | None) -> str | None:
    text = f"{name} {title}"
    # Complaint words first: complaint exports may mention 警情, 110 exports rarely say 投诉.
    if re.search(r"投诉|12345|12320|信访|热线|工单", text):
        return "complaint"
    if re.search(r"110|接处警|警情", text):
        return "110"
    if channel is not None and len(channel):
        top = str(channel.mode().iloc[0]) if not channel.mode().empty else ""
        if "110" in top:
            return "110"
        if re.search(r"12345|12320|投诉|热线", top):
            return "complaint"
    return None


def normalize_source(source: str) -> str:
    """Canonical source kind: ``110`` or ``complaint``."""
    s = str(source).strip().lower()
    if s in {"110", "police", "call", "calls", "警情", "接处警"}:
        return "110"
    if s in {"complaint", "complaints", "投诉", "12345", "12320"}:
        return "complaint"
    raise ValueError(f"Unknown source {source!r}; expected '110' or 'complaint'.")


# --------------------------------------------------------------------------- import


@dataclass
class Layout:
    """Where the header is and which column holds which field."""

    header_row: int  # 0-based record index of the header row
    cols: dict[str, int]  # field -> column position
    headers: list[str]  # header cells as written (blank ones named 列N)
    width: int  # number of header columns

    def info(self) -> dict:
        return {
            "header_row": self.header_row + 1,
            "column_mapping": {f: self.headers[j] for f, j in self.cols.items() if j < self.width},
            "unmapped_columns": [h for j, h in enumerate(self.headers)
                                 if j not in self.cols.values() and h and not h.startswith("列")],
        }


def detect_layout(grid: pd.DataFrame, header_map: dict[str, str] | None = None) -> Layout:
    """Find the header row in the first rows of ``grid`` and map the columns."""
    hrow, cols = find_header(grid, header_map or load_header_map())
    cells = ["" if pd.isna(h) else str(h).strip() for h in grid.iloc[hrow].tolist()]
    width = max(j for j, h in enumerate(cells) if h) + 1
    return Layout(hrow, cols, [h or f"列{j + 1}" for j, h in enumerate(cells[:width])], width)


def prepare_rows(
    chunk: pd.DataFrame,
    layout: Layout,
    *,
    source: str,
    crs: str,
    hospitals: pd.DataFrame,
    radius_m: float | None = None,
    now: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Turn raw records into valid incident rows and rejected rows.

    Parameters
    ----------
    chunk
        Raw cells as strings, indexed by 0-based record number (as read); records up to and
        including the header row are skipped.

    Returns
    -------
    valid, rejected, info
        ``valid`` has the incident columns plus ``row_no``; ``rejected`` has 行号 (the
        spreadsheet row number), 原因 and the original cells under their original headers;
        ``info`` counts the data rows (``total``), swapped and approximate coordinates.
    """
    cols, headers, width = layout.cols, layout.headers, layout.width
    raw = chunk[chunk.index > layout.header_row]
    raw.index = raw.index + 1  # spreadsheet row numbers (1-based)
    raw.columns = range(raw.shape[1])
    # Plain numpy arrays of Python strings throughout: pandas' arrow-backed str dtype would
    # convert every column back and forth (the rows end up as Python strings for the insert).
    cells = [_clean_cells(raw[c].to_numpy(dtype=object)) for c in raw.columns]
    # Columns with any text; the checks below skip the others (e.g. the C reader's spare columns).
    filled = [j for j, arr in enumerate(cells) if any(arr)]
    nonblank = np.zeros(len(raw), dtype=bool)
    for j in filled:
        nonblank |= cells[j] != ""
    if not nonblank.all():
        cells = [arr[nonblank] for arr in cells]
    row_no = raw.index.to_numpy()[nonblank]
    n = len(row_no)
    reasons = _repeat("", n)
    bad = np.zeros(n, dtype=bool)

    def add(mask: np.ndarray, why: str) -> None:
        m = np.asarray(mask, dtype=bool) & ~bad
        reasons[m] = why
        bad[m] = True

    def col(fld: str) -> np.ndarray | None:
        return cells[cols[fld]] if fld in cols else None

    def series(values: np.ndarray) -> pd.Series:
        return pd.Series(values, index=row_no, dtype=object)

    for j in filled:
        if j >= width:
            add(cells[j] != "", "列数多于表头，可能有未加引号的逗号")
    max_chars = settings.MAX_CELL_CHARS
    too_long = np.zeros(n, dtype=bool)
    garbled = np.zeros(n, dtype=bool)
    for arr in (cells[j] for j in filled):
        # Whole-column checks first: the per-cell loops run only for columns that need them.
        if n and max(map(len, arr)) > max_chars:
            too_long |= np.fromiter(map(len, arr), dtype=np.int64, count=n) > max_chars
        if "\ufffd" in "".join(arr):
            garbled |= np.fromiter(("\ufffd" in v for v in arr), dtype=bool, count=n)
    add(too_long, f"单元格超过 {max_chars} 个字符")
    add(garbled, "含无法识别的字符（编码错误）")

    # time
    raw_time = col("received_at") if "received_at" in cols else col("date")
    times = col("time") if "received_at" not in cols and "time" in cols else None
    when = parse_datetimes(series(raw_time), None if times is None else series(times))
    add(raw_time == "", "缺少报警/受理时间")
    add(when.isna().to_numpy(), "时间格式无法识别")
    now = now or pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None)
    add((when < EARLIEST).to_numpy(), "时间早于2000年，疑似录入错误")
    add((when > now + pd.Timedelta(days=1)).to_numpy(), "时间晚于当前时间")

    # coordinates
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if "lon" in cols and "lat" in cols:
        raw_lon, raw_lat = col("lon"), col("lat")
        lon, lat = _to_float(raw_lon), _to_float(raw_lat)
        add(((raw_lon != "") & np.isnan(lon)) | ((raw_lat != "") & np.isnan(lat)), "经纬度不是数字")
    if "coords" in cols:
        clon, clat = (v.to_numpy(dtype=float) for v in _split_coords(series(col("coords"))))
        fill = np.isnan(lon) & np.isnan(lat)
        lon, lat = np.where(fill, clon, lon), np.where(fill, clat, lat)
        add(fill & (col("coords") != "") & np.isnan(clon), "坐标格式无法识别（应为 经度,纬度）")
    has = ~np.isnan(lon) & ~np.isnan(lat)
    add(np.isnan(lon) != np.isnan(lat), "经度和纬度只填了一个")
    swapped = has & ~in_china(lon, lat) & in_china(lat, lon)
    lon, lat = np.where(swapped, lat, lon), np.where(swapped, lon, lat)
    add(has & ~in_china(lon, lat), "坐标超出范围或不在中国境内（请检查经纬度和坐标系）")
    if has.any():
        lon[has], lat[has] = _unique_to_wgs84(lon[has], lat[has], crs)

    # hospitals named in the row
    named = _repeat(None, n)
    if "hospital" in cols:
        named = match_hospital_names(series(col("hospital")), hospitals).to_numpy(dtype=object)
        add((col("hospital") != "") & pd.isna(named) & ~has, "未能识别涉及医院的名称，且无坐标")
    approx = ~has & ~pd.isna(named)
    if approx.any():
        hpos = hospitals.set_index("hospital_id")
        lon[approx] = hpos.loc[named[approx], "lon"].to_numpy(dtype=float)
        lat[approx] = hpos.loc[named[approx], "lat"].to_numpy(dtype=float)
    add(~has & ~approx, "缺少坐标，且未指明涉及医院，无法定位")

    # ids
    if "source_id" in cols:
        sid = col("source_id")
        add(sid == "", "缺少警情/工单编号")
        if n and max(map(len, sid)) > 64:
            add(np.fromiter(map(len, sid), dtype=np.int64, count=n) > 64, "编号超过64个字符")
    else:
        # No id column: a content hash makes re-importing the same file idempotent.
        sid = np.array(["H" + hashlib.sha1("\x1f".join(t).encode("utf-8")).hexdigest()[:20] for t in zip(*cells, strict=True)],
                       dtype=object).reshape(n)

    ok = ~bad
    rejected = raw.iloc[np.flatnonzero(nonblank)[bad], :width].fillna("")
    rejected.columns = headers[: rejected.shape[1]]
    rejected.insert(0, "原因", reasons[bad])
    rejected.insert(0, "行号", rejected.index.to_numpy())

    desc = col("description")[ok] if "description" in cols else _repeat("", int(ok.sum()))
    srccat = col("source_category")[ok] if "source_category" in cols else None
    category = _classify(desc, srccat)
    vlon, vlat = lon[ok], lat[ok]
    hid, hdist = assign_nearest(vlon, vlat, hospitals, radius_m=radius_m)
    is_approx = approx[ok]
    hid[is_approx] = named[ok][is_approx]
    hdist[is_approx] = 0.0
    m = len(vlon)
    orig_crs = _repeat(crs, m)
    orig_crs[is_approx] = "hospital"

    def text(fld: str, limit: int) -> np.ndarray:
        if fld not in cols:
            return _repeat("", m)
        v = col(fld)[ok]
        # Slicing each cell only when some cell is too long.
        return v if not m or max(map(len, v)) <= limit else np.array([s[:limit] for s in v], dtype=object)

    def obj(values: object) -> pd.Series:
        # dtype=object: pandas 3 would otherwise infer its arrow str dtype.
        return pd.Series(values if np.ndim(values) else _repeat(values, m), dtype=object)

    valid = pd.DataFrame({
        "row_no": row_no[ok],
        "source": obj(source),
        "source_id": obj(sid[ok]),
        "channel": obj(text("channel", 32) if "channel" in cols else ("110" if source == "110" else "")),
        "received_at": when.to_numpy()[ok].astype("datetime64[s]").astype("datetime64[ns]"),
        "lon": vlon, "lat": vlat,
        "orig_crs": obj(orig_crs),
        "approximate": is_approx,
        "address": obj(text("address", 500)),
        "category": obj(category),
        "source_category": obj(text("source_category", 100)),
        "description": obj(desc),
        "caller_name": obj(text("caller_name", 64)),
        "caller_phone": obj(text("caller_phone", 32)),
        "hospital_id": obj(hid),
        "hospital_distance_m": np.round(hdist, 1),
    })
    converted = f"坐标由 {crs.upper()} 转换为 WGS-84"
    notes = [(int(r), "经纬度填反，已对调") for r in row_no[swapped & ok]]
    if crs != "wgs84":
        notes += [(int(r), converted) for r in row_no[has & ok][:MAX_ROW_NOTES]]
    notes += [(int(r), "无坐标，按所涉医院定位（近似位置）") for r in row_no[approx & ok][:MAX_ROW_NOTES]]
    info = {"total": n, "swapped": int((swapped & ok).sum()), "approximate": int(is_approx.sum()), "notes": notes}
    return valid, rejected, info


def _repeat(value: object, n: int) -> np.ndarray:
    """Object array holding one Python object ``n`` times.

    ``np.full`` would create a new str per element; one shared object pickles to the helper
    process's pipe as a back-reference and binds once per row in SQLite.
    """
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


def _clean_cells(values: np.ndarray) -> np.ndarray:
    """Stripped cell texts; missing cells (a short row in the robust reader, XLSX blanks) become ''."""
    if not any(values):  # all blank, e.g. the spare columns of the C reader: nothing to strip
        return _repeat("", len(values))
    try:
        return np.array([v.strip() for v in values], dtype=object).reshape(len(values))
    except AttributeError:  # NaN or None among the cells
        return np.array(["" if pd.isna(v) else str(v).strip() for v in values], dtype=object).reshape(len(values))


def _to_float(values: np.ndarray) -> np.ndarray:
    """Numbers from cell texts, NaN where a cell is blank or not a number (as ``pd.to_numeric``)."""
    joined = "".join(values)
    # Python's float() also takes "1_000" and full-width digits, which pd.to_numeric refuses.
    if joined.isascii() and "_" not in joined:
        try:
            return values.astype(np.float64)
        except (ValueError, TypeError):  # a blank or non-numeric cell somewhere in the chunk
            pass
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=np.float64)


def _unique_to_wgs84(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`to_wgs84` computed once per distinct point: exports repeat gate and hall coordinates."""
    if crs == "wgs84":
        return lon, lat
    # Hash-based (complex numbers pair the coordinates): np.unique's sort costs more than it saves.
    codes, uniq = pd.factorize(lon + 1j * lat)
    if len(uniq) > 0.5 * len(lon):  # mostly distinct points
        return to_wgs84(lon, lat, crs)
    wl, wt = to_wgs84(uniq.real, uniq.imag, crs)
    return wl[codes], wt[codes]


def _classify(desc: np.ndarray, srccat: np.ndarray | None) -> np.ndarray:
    """Taxonomy labels, classifying each distinct (description, source category) once."""
    tax = load_taxonomy()
    if not len(desc):
        return np.array([], dtype=object)
    if srccat is None:
        codes, uniq = pd.factorize(desc)
        labels = tax.classify(pd.Series(uniq, dtype=object))
    else:
        codes, uniq = pd.factorize(np.array([*zip(desc, srccat, strict=True), None], dtype=object)[:-1])
        labels = tax.classify(pd.Series([d for d, _ in uniq], dtype=object),
                              pd.Series([c for _, c in uniq], dtype=object))
    return labels.to_numpy(dtype=object)[codes]


def purge_quarantine(*, now: float | None = None, engine: Engine | None = None) -> list[str]:
    """Delete quarantine files (rejected rows with raw personal data) older than
    ``settings.QUARANTINE_RETENTION_DAYS``; returns their paths (the deletion is audited when ``engine`` is given).
    Runs at the start of every import."""
    import time

    qdir = settings.VAR_DIR / "quarantine"
    if not qdir.is_dir():
        return []
    limit = (now if now is not None else time.time()) - settings.QUARANTINE_RETENTION_DAYS * 86400
    gone = []
    for path in qdir.glob("*_rejected.csv"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                gone.append(str(path))
        except FileNotFoundError:
            continue
    if gone and engine is not None:
        from core.trust.audit import record

        record("quarantine_purge", username="system", engine=engine,
               detail=f"删除超过 {settings.QUARANTINE_RETENTION_DAYS} 天的隔离文件 {len(gone)} 个")
    return gone


def _write_quarantine(rejected: pd.DataFrame, batch_id: int, filename: str) -> str:
    from core.safeio import frame_to_csv_bytes

    qdir = settings.VAR_DIR / "quarantine"
    qdir.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w\u4e00-\u9fa5.-]+", "_", Path(filename).stem)[:80]
    path = qdir / f"batch{batch_id}_{stem}_rejected.csv"
    path.write_bytes(frame_to_csv_bytes(rejected))
    return str(path)


def import_file(
    src: str | Path | bytes,
    *,
    source: str | None = None,
    crs: str | None = None,
    sheet: str | None = None,
    engine: Engine | None = None,
    filename: str | None = None,
    radius_m: float | None = None,
    username: str = "",
    progress: Progress | None = None,
    demo_build: bool = False,
) -> ImportResult:
    """Import one 110 or complaint export into the store.

    Parameters
    ----------
    src
        Path of a CSV/XLSX file, or its bytes (an upload).
    source
        ``110`` or ``complaint``; None infers it from the file name and title row.
    crs
        Coordinate system of the file's coordinates: ``wgs84`` (default), ``gcj02`` or ``bd09``.
    sheet
        XLSX sheet name; default the first sheet.
    engine
        Store engine; default the configured store.
    filename
        Name to record for byte input.
    radius_m
        Hospital assignment radius; default ``settings.HOSPITAL_RADIUS_M``.
    username
        Who imports (recorded in the batch and the audit trail).
    progress
        Optional callback ``progress(fraction, message)``.
    demo_build
        Only for the demo build (:func:`geo.io.demo.build_demo`): write synthetic rows into the demo store.
        Otherwise the store must be (or become) a real store: importing into a demo store is refused
        (:mod:`core.trust.storekind`).

    Returns
    -------
    ImportResult
        Counts, the batch id and the quarantine file of rejected rows.

    Raises
    ------
    ImportError_
        When the file as a whole cannot be read (no rows were imported).
    core.trust.storekind.StoreKindError
        When real data would go into a demo store (or demo data into a real one).
    """
    from core.trust import storekind

    report = progress or (lambda _f, _m: None)
    engine = engine or get_engine()
    if demo_build:
        storekind.claim(engine, "demo")
    else:
        storekind.require_real(engine, username=username)
    purge_quarantine(engine=engine)
    crs = normalize_crs_name(crs or "wgs84")
    data, name = read_bytes(src)
    name = filename or name
    # Large CSV files are read and checked in a helper process while this one writes to the
    # database: the two halves take similar time, and threads would share one interpreter lock.
    # It is started first, so that its start-up overlaps the checks below.
    helper = _Helper() if not data.startswith(b"PK\x03\x04") and data.count(b"\n") >= PARALLEL_MIN_ROWS else None
    try:
        result = _import(data, name, helper, engine=engine, source=source, crs=crs, sheet=sheet,
                         radius_m=radius_m, username=username, report=report)
    finally:
        if helper is not None:
            helper.stop()
    report(1.0, "完成")
    return result


def _import(
    data: bytes, name: str, helper: _Helper | None, *, engine: Engine, source: str | None, crs: str,
    sheet: str | None, radius_m: float | None, username: str, report: Progress,
) -> ImportResult:
    report(0.02, "读取文件")
    make_chunks, enc, est_rows = _chunk_factory(data, sheet)
    robust = False
    try:
        head = next(make_chunks(False, HEAD_ROWS), None)
    except pd.errors.ParserError:
        # An unterminated quote or a ragged first rows: read with the csv module instead.
        robust = True
        head = next(make_chunks(True, HEAD_ROWS), None)
    if head is None or head.empty or not (head.fillna("").astype(str) != "").any().any():
        raise ImportError_("文件是空的")
    layout = detect_layout(head)
    if source is None:
        title = " ".join(head.iloc[: layout.header_row + 1].fillna("").astype(str).to_numpy().ravel().tolist())
        channel = None
        if "channel" in layout.cols:
            channel = head.iloc[layout.header_row + 1 :, layout.cols["channel"]].fillna("").astype(str)
        source = _infer_source(name, title, channel)
        if source is None:
            raise ImportError_("无法判断数据来源，请指定 来源（110 或 complaint）")
    source = normalize_source(source)
    hospitals = load_hospitals(engine)
    options = {"source": source, "crs": crs, "hospitals": hospitals, "radius_m": radius_m}
    for attempt in range(4):
        result = ImportResult(filename=name, source=source, crs=crs, encoding=enc, **layout.info())
        if helper is not None:
            prepared = helper.chunks(data, enc, robust, layout, engine.dialect.name, options)
        else:
            prepared = (
                _prepare_for_insert(chunk, layout, engine.dialect.name, options)
                for chunk in make_chunks(robust, CHUNK_ROWS)
            )
        try:
            _store(engine, prepared, result, data, username, report, est_rows=est_rows)
            break
        except pd.errors.ParserError:
            # A row wider than the fast parser expected: read the file again with the csv module.
            if robust:
                raise ImportError_("CSV 格式错误，无法解析") from None
            robust = True
        except IntegrityError:
            # A concurrent import stored some of the same ids between our check and insert.
            if attempt == 3:
                raise
    return result


#: Row notes kept per import (a converted million-row file would otherwise carry a million notes).
MAX_ROW_NOTES = 100_000
#: Records parsed and written per step; bounds memory for million-row files.
CHUNK_ROWS = 50_000
#: Records read to find the header and the title (the header is searched in the first 30).
HEAD_ROWS = 1_000
#: CSV files with at least this many lines are parsed in a helper process (starting one costs ~1 s).
PARALLEL_MIN_ROWS = 200_000


def _chunk_factory(
    data: bytes, sheet: str | None
) -> tuple[Callable[[bool, int], Iterator[pd.DataFrame]], str, int]:
    """A function ``(robust, chunk_rows)`` giving fresh chunk iterators (an import may be retried),
    the encoding, and a row estimate."""
    if data.startswith(b"PK\x03\x04"):
        grid = _read_xlsx_grid(data, sheet)  # read once; XLSX files are bounded by the size limits

        def xlsx_chunks(_robust: bool, chunk_rows: int) -> Iterator[pd.DataFrame]:
            for i in range(0, len(grid), chunk_rows):
                yield grid.iloc[i : i + chunk_rows]

        return xlsx_chunks, "xlsx", len(grid)
    _chunks, enc = _grid_chunks(data, sheet=sheet, chunk_rows=HEADER_SEARCH_ROWS)  # validates the format
    data = _without_nul(data, enc)
    lines = data.count(b"\n") + 1
    if lines > settings.MAX_IMPORT_ROWS + HEADER_SEARCH_ROWS:
        raise ImportError_(f"文件有 {lines:,} 行，超过上限 {settings.MAX_IMPORT_ROWS:,} 行，请拆分文件后导入")
    return (lambda robust, rows: _csv_chunks(data, enc, chunk_rows=rows, robust=robust)), enc, lines


def _without_nul(data: bytes, enc: str) -> bytes:
    """A stray NUL (a few are common in exports) marks its row as garbled instead of losing the file."""
    if b"\x00" in data and not enc.startswith("utf-16"):
        return data.replace(b"\x00", "\ufffd".encode(enc))
    return data


def _store(
    engine: Engine,
    prepared: Iterator[tuple[pd.DataFrame, pd.DataFrame, dict]],
    result: ImportResult,
    data: bytes,
    username: str,
    report: Progress,
    *,
    est_rows: int,
) -> None:
    table = Incident.__table__
    rejected_parts: list[pd.DataFrame] = []
    notes: list[tuple[int, str]] = []
    with engine.begin() as conn:
        # Writing the batch row first takes the write lock (SQLite) before the duplicate check.
        batch_id = conn.execute(
            insert(ImportBatch.__table__).values(
                filename=result.filename[:300], sha256=hashlib.sha256(data).hexdigest(), source=result.source,
                crs=result.crs, started_at=dt.datetime.now(), total=0, username=username[:64],
                accepted=0, rejected=0, duplicates=0, quarantine_path="",
            )
        ).inserted_primary_key[0]
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MB page cache: index inserts stay in memory
        elif conn.dialect.name == "postgresql":
            # PostgreSQL lets two imports run at once (SQLite has one writer): the second import of the same source
            # waits here until the first commits or dies, then reads its ids, so neither stores a duplicate (the
            # unique key holds the month too on a partitioned store, so it could not catch all of them). The lock
            # goes with the transaction: a killed import releases it.
            conn.execute(sql_text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"hh-import:{result.source}"})
        seen = set(conn.execute(select(table.c.source_id).where(table.c.source == result.source)).scalars())
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        for batch, rejected, info in prepared:
            result.total += info["total"]
            result.swapped += info["swapped"]
            result.approximate += info["approximate"]
            notes += info.get("notes", [])[: max(0, MAX_ROW_NOTES - len(notes))]
            if len(rejected):
                rejected_parts.append(rejected)
            # Already stored, or repeated earlier in the file: counted as duplicates, not inserted.
            new = _first_sightings(batch["source_id"], seen)
            accepted = sum(new)
            result.duplicates += batch["repeats"] + len(new) - accepted
            result.accepted += accepted
            if accepted:
                rows = batch["rows"] if accepted == len(new) else list(itertools.compress(batch["rows"], new))
                _insert_rows(conn, table.name, batch["names"], rows, mark, batch_id=int(batch_id))
            report(min(0.95, 0.05 + 0.9 * batch["last_row"] / max(1, est_rows)),
                   f"已写入 {result.accepted:,} 条（已处理 {result.total:,} 行）")
        rejected_all = pd.concat(rejected_parts) if rejected_parts else pd.DataFrame(columns=["行号", "原因"])
        result.batch_id = int(batch_id)
        result.rejected = len(rejected_all)
        result.rejected_rows = rejected_all
        if notes:
            result.row_notes = (pd.DataFrame(notes, columns=["行号", "说明"]).groupby("行号", as_index=False)["说明"]
                                .agg("；".join))
        result.quarantine_path = _write_quarantine(rejected_all, batch_id, result.filename) if len(rejected_all) else None
        conn.execute(
            update(ImportBatch.__table__).where(ImportBatch.__table__.c.id == batch_id).values(
                total=result.total, accepted=result.accepted, rejected=result.rejected, duplicates=result.duplicates,
                quarantine_path=result.quarantine_path or "", finished_at=dt.datetime.now(),
            )
        )
    if not result.balanced():  # pragma: no cover - invariant
        raise RuntimeError(f"Import counts do not add up: {result.summary()}")
    from core.trust.audit import record

    record("import", username=username, engine=engine,
           detail=f"{result.filename}: 共{result.total} 接收{result.accepted} 拒绝{result.rejected} 重复{result.duplicates}",
           data=data)


def _first_sightings(ids: list[str], seen: set[str]) -> list[bool]:
    """True for each id not in ``seen`` and not earlier in ``ids``; adds the new ids to ``seen``."""
    if seen.isdisjoint(ids) and len(set(ids)) == len(ids):  # the usual case, at set speed
        seen.update(ids)
        return [True] * len(ids)
    new = []
    for i in ids:
        fresh = i not in seen
        if fresh:
            seen.add(i)
        new.append(fresh)
    return new


def _insert_rows(conn, table_name: str, names: list[str], rows: list[tuple], mark: str, *, batch_id: int) -> None:
    """Write prepared rows: ``COPY`` on PostgreSQL, a plain executemany of tuples elsewhere.

    The ORM/Core dict path costs ~10x more per row than executemany; on PostgreSQL ``COPY ... FROM STDIN`` is
    several times faster again (one stream instead of one statement per row) and runs in the same transaction.
    The batch id (an int we created) is a literal in the statement (or a constant column of the stream).
    """
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table_name} ({', '.join(names)}, batch_id) FROM STDIN") as copy:
            tail = (int(batch_id),)
            for row in rows:
                copy.write_row(row + tail)
        return
    sql = (f"INSERT INTO {table_name} ({', '.join(names)}, batch_id) "
           f"VALUES ({', '.join([mark] * len(names))}, {int(batch_id)})")
    conn.exec_driver_sql(sql, rows)


def _insert_columns(valid: pd.DataFrame, dialect: str) -> dict:
    """The valid rows as tuples ready for executemany (None for missing values), and their ids.

    Ids repeated within the chunk are dropped here (the first in the file is kept) and counted
    in ``repeats``; the importing process checks the rest against the store and earlier chunks.
    """
    repeated = valid["source_id"].duplicated(keep="first").to_numpy()
    valid = valid[~repeated]
    # In time order, new entries of the time index land next to each other (~15% faster inserts).
    order = np.argsort(valid["received_at"].to_numpy(), kind="stable")
    names = [c for c in valid.columns if c != "row_no"]
    values = []
    for c in names:
        v = valid[c].to_numpy()[order]
        if c == "received_at":
            seconds = v.astype("datetime64[s]")  # prepare_rows floors times to the second
            if dialect == "sqlite" and len(seconds):
                # SQLAlchemy's own SQLite storage format, written without per-row adapters.
                text = np.strings.replace(np.datetime_as_string(seconds, unit="s"), "T", " ")
                values.append(np.strings.add(text, ".000000").tolist())
            else:
                values.append(seconds.tolist())  # datetime.datetime objects
        elif v.dtype.kind == "f" and np.isnan(v).any():
            values.append(np.where(np.isnan(v), None, v).tolist())
        else:
            values.append(v.tolist())
    return {"names": names, "rows": list(zip(*values, strict=True)), "source_id": values[names.index("source_id")],
            "repeats": int(repeated.sum()), "last_row": int(valid["row_no"].max()) if len(valid) else 0}


def _prepare_for_insert(
    chunk: pd.DataFrame, layout: Layout, dialect: str, options: dict
) -> tuple[dict, pd.DataFrame, dict]:
    """:func:`prepare_rows` with the valid rows turned into insert columns (see :func:`_insert_columns`)."""
    valid, rejected, info = prepare_rows(chunk, layout, **options)
    return _insert_columns(valid, dialect), rejected, info


class _Helper:
    """A helper process that reads and checks a large CSV while the importing process writes.

    It runs ``python -c``: that never re-runs the caller's main module (unlike multiprocessing's
    spawn), and fork is unsafe in the multi-threaded Streamlit server. Prepared chunks come
    back pickled through a pipe; the pipe holds little, so the helper stays at most about one
    chunk ahead (bounded memory). If the importing process dies, the helper's next write fails
    and it exits.
    """

    def __init__(self) -> None:
        self._proc = self._start()
        self._used = False

    @staticmethod
    def _start() -> subprocess.Popen:
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        return subprocess.Popen([sys.executable, "-c", "from geo.io.ingest import _helper_main; _helper_main()"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def chunks(
        self, data: bytes, enc: str, robust: bool, layout: Layout, dialect: str, options: dict
    ) -> Iterator[tuple[dict, pd.DataFrame, dict]]:
        """What :func:`_prepare_for_insert` gives for each chunk, computed in the helper.

        An error in the helper (such as the ParserError that makes the caller retry with the
        robust reader) is raised here. A second call (a retry) starts a fresh helper.
        """
        if self._used:
            self.stop()
            self._proc = self._start()
        self._used = True
        proc = self._proc
        with proc.stdin:
            pickle.dump((data, enc, robust, layout, dialect, options), proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        while True:
            try:
                kind, payload = pickle.load(proc.stdout)
            except EOFError:
                raise RuntimeError(f"Import helper process exited unexpectedly (code {proc.wait()})") from None
            if kind == "error":
                raise payload
            if kind == "done":
                return
            yield payload

    def stop(self) -> None:
        """End the helper (our own child, by its id) if it still runs, and release its pipes."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                pipe.close()


def _helper_main() -> None:
    """Entry point of the helper process (see :class:`_Helper`)."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the pickle stream
    data, enc, robust, layout, dialect, options = pickle.load(sys.stdin.buffer)
    try:
        try:
            for chunk in _csv_chunks(_without_nul(data, enc), enc, chunk_rows=CHUNK_ROWS, robust=robust):
                out.write(pickle.dumps(("chunk", _prepare_for_insert(chunk, layout, dialect, options)),
                                       protocol=pickle.HIGHEST_PROTOCOL))
                out.flush()
            blob = pickle.dumps(("done", None))
        except BrokenPipeError:
            raise
        except Exception as exc:  # sent to the importing process, which raises it
            try:
                blob = pickle.dumps(("error", exc))
            except Exception:  # an exception that cannot be pickled
                blob = pickle.dumps(("error", RuntimeError(repr(exc))))
        out.write(blob)
        out.flush()
    except BrokenPipeError:  # the importing process is gone (killed or failed): nothing left to do
        os._exit(0)  # no flush at exit: the pipe is broken
