"""Importers for 110 call exports and complaint records (CSV in any common encoding, XLSX).

Every data row of a file ends in exactly one of three states:

* **accepted** — stored as an incident;
* **rejected** — with its spreadsheet row number and a reason in Chinese, written to a
  quarantine CSV the user can download, fix and import again;
* **duplicate** — its ``(source, source_id)`` is already stored or appeared earlier in the file.

``accepted + rejected + duplicates == total`` always holds (blank rows are not data rows).
An import is one database transaction: if anything fails, the store is unchanged.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from geo import settings
from geo.crs import in_china, normalize_crs_name, to_wgs84
from geo.hospitals import assign_nearest, match_hospital_names
from geo.store import ImportBatch, Incident, get_engine, load_hospitals
from geo.taxonomy import load_taxonomy

HEADER_MAP_FILE = settings.DATA_DIR / "header_map.yaml"
#: How many rows from the top are searched for the header row.
HEADER_SEARCH_ROWS = 30
#: Earliest plausible incident time; earlier dates are typing errors.
EARLIEST = pd.Timestamp("2000-01-01")

Progress = Callable[[float, str], None]


class ImportError_(ValueError):
    """The file as a whole cannot be imported (unreadable, no header, no time column ...)."""


@dataclass
class ImportResult:
    """Outcome of one import; the counts always add up to ``total``."""

    filename: str
    source: str
    crs: str
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    approximate: int = 0
    swapped: int = 0
    batch_id: int | None = None
    quarantine_path: str | None = None
    encoding: str = ""
    header_row: int = 0
    column_mapping: dict[str, str] = field(default_factory=dict)
    unmapped_columns: list[str] = field(default_factory=list)
    rejected_rows: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> dict:
        """JSON-ready summary (what the CLI prints)."""
        return {
            "file": self.filename, "source": self.source, "crs": self.crs, "total": self.total,
            "accepted": self.accepted, "rejected": self.rejected, "duplicates": self.duplicates,
            "approximate": self.approximate, "swapped_coordinates": self.swapped, "batch_id": self.batch_id,
            "quarantine": self.quarantine_path, "encoding": self.encoding, "header_row": self.header_row,
            "column_mapping": self.column_mapping, "unmapped_columns": self.unmapped_columns,
        }


# --------------------------------------------------------------------------- reading


def _read_bytes(src: str | Path | bytes) -> tuple[bytes, str]:
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


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode CSV bytes with :func:`detect_encoding`. Returns ``(text, encoding)``."""
    enc = detect_encoding(data)
    return data.decode(enc, errors="replace"), enc


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
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=enc, errors="replace", newline="")
    if robust:
        # Slow path for files whose rows are wider than the C parser was told to expect.
        recs = list(csv.reader(stream, delimiter=delim))
        for i in range(0, max(len(recs), 1), chunk_rows):
            part = pd.DataFrame(recs[i : i + chunk_rows], dtype=object).fillna("")
            part.index = np.arange(i, i + len(part))
            yield part
        return
    # Fixed wide names let the fast C parser take ragged rows (title rows, a few extra cells).
    reader = pd.read_csv(
        stream, sep=delim, header=None, names=range(width + 8), dtype=str, keep_default_na=False,
        skip_blank_lines=False, engine="c", quoting=csv.QUOTE_MINIMAL, chunksize=chunk_rows,
    )
    with reader:
        yield from reader


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


def _read_xlsx_grid(data: bytes, sheet: str | None) -> pd.DataFrame:
    import openpyxl

    _check_zip(data)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise ImportError_(f"XLSX 文件无法读取：{type(exc).__name__}") from exc
    try:
        if sheet is not None:
            if sheet not in wb.sheetnames:
                raise ImportError_(f"工作表 {sheet!r} 不存在；现有工作表：{', '.join(wb.sheetnames)}")
            ws = wb[sheet]
        else:
            if not wb.worksheets:
                raise ImportError_("XLSX 文件中没有工作表")
            ws = wb.worksheets[0]
        rows = [[_cell_str(v) for v in r] for r in ws.iter_rows(values_only=True)]
    except ImportError_:
        raise
    except Exception as exc:  # broken sheet XML surfaces only while iterating rows
        raise ImportError_(f"XLSX 工作表内容已损坏，无法读取：{type(exc).__name__}") from exc
    finally:
        wb.close()
    return pd.DataFrame(rows, dtype=object).fillna("") if rows else pd.DataFrame()


def read_grid(data: bytes, *, sheet: str | None = None, max_rows: int | None = None) -> tuple[pd.DataFrame, str]:
    """Read a CSV or XLSX file's cells as strings. Returns ``(grid, encoding_or_format)``.

    ``max_rows`` limits how much is read (a preview).
    """
    chunks, enc = _grid_chunks(data, sheet=sheet, chunk_rows=max_rows or 200_000)
    parts = []
    for part in chunks:
        parts.append(part)
        if max_rows is not None:
            break
    grid = pd.concat(parts) if parts else pd.DataFrame()
    return grid.dropna(axis=1, how="all"), enc


def _grid_chunks(
    data: bytes, *, sheet: str | None, chunk_rows: int, robust: bool = False
) -> tuple[Iterator[pd.DataFrame], str]:
    if data.startswith(b"PK\x03\x04"):
        grid = _read_xlsx_grid(data, sheet)
        return iter([grid[i : i + chunk_rows] for i in range(0, max(len(grid), 1), chunk_rows)]), "xlsx"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportError_("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV")
    enc = detect_encoding(data)
    return _csv_chunks(data, enc, chunk_rows=chunk_rows, robust=robust), enc


# --------------------------------------------------------------------------- header


def _norm_header(h: object) -> str:
    s = str(h or "").strip().lower()
    s = re.sub(r"[（(【\[].*?[)）】\]]", "", s)
    return re.sub(r"[\s*:：_\-]", "", s)


def load_header_map(path: str | Path | None = None) -> dict[str, str]:
    """Normalised header alias -> field name, from ``data/header_map.yaml``."""
    with open(path or HEADER_MAP_FILE, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    out: dict[str, str] = {}
    for fld, aliases in raw.items():
        for a in aliases:
            out.setdefault(_norm_header(a), fld)
    return out


def find_header(grid: pd.DataFrame, header_map: dict[str, str]) -> tuple[int, dict[str, int]]:
    """Locate the header row among the first rows and map fields to column positions.

    Returns ``(row_index, {field: column})``. The header is the row with the most recognised
    names; a title row such as "XX市公安局110接处警登记表" above it is skipped.
    """
    best_row, best_map = -1, {}
    for i in range(min(HEADER_SEARCH_ROWS, len(grid))):
        mapping: dict[str, int] = {}
        for j, cell in enumerate(grid.iloc[i].tolist()):
            fld = header_map.get(_norm_header(cell))
            if fld and fld not in mapping:
                mapping[fld] = j
        if len(mapping) > len(best_map):
            best_row, best_map = i, mapping
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
    body = raw.fillna("").astype(str)
    for c in body.columns:
        body[c] = body[c].str.strip()
    nonblank = (body != "").any(axis=1)
    body = body[nonblank]
    n = len(body)
    reasons = pd.Series("", index=body.index, dtype=object)

    def add(mask: pd.Series, why: str) -> None:
        m = mask & (reasons == "")
        reasons[m] = why

    def col(fld: str) -> pd.Series | None:
        return body[body.columns[cols[fld]]] if fld in cols else None

    extra = [c for c in body.columns if c >= width]
    if extra:
        add((body[extra] != "").any(axis=1), "列数多于表头，可能有未加引号的逗号")
    max_chars = settings.MAX_CELL_CHARS
    too_long = pd.Series(False, index=body.index)
    garbled = pd.Series(False, index=body.index)
    for c in body.columns:
        too_long |= body[c].str.len() > max_chars
        garbled |= body[c].str.contains("\ufffd", regex=False)
    add(too_long, f"单元格超过 {max_chars} 个字符")
    add(garbled, "含无法识别的字符（编码错误）")

    # time
    when = parse_datetimes(col("received_at") if "received_at" in cols else col("date"),
                           col("time") if "received_at" not in cols and "time" in cols else None)
    raw_time = col("received_at") if "received_at" in cols else col("date")
    add(raw_time == "", "缺少报警/受理时间")
    add(when.isna(), "时间格式无法识别")
    now = now or pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None)
    add(when < EARLIEST, "时间早于2000年，疑似录入错误")
    add(when > now + pd.Timedelta(days=1), "时间晚于当前时间")

    # coordinates
    lon = pd.Series(np.nan, index=body.index)
    lat = pd.Series(np.nan, index=body.index)
    if "lon" in cols and "lat" in cols:
        raw_lon, raw_lat = col("lon"), col("lat")
        lon, lat = pd.to_numeric(raw_lon, errors="coerce"), pd.to_numeric(raw_lat, errors="coerce")
        add(((raw_lon != "") & lon.isna()) | ((raw_lat != "") & lat.isna()), "经纬度不是数字")
    if "coords" in cols:
        clon, clat = _split_coords(col("coords"))
        fill = lon.isna() & lat.isna()
        lon, lat = lon.where(~fill, clon), lat.where(~fill, clat)
        add(fill & (col("coords") != "") & clon.isna(), "坐标格式无法识别（应为 经度,纬度）")
    has = lon.notna() & lat.notna()
    add(lon.notna() ^ lat.notna(), "经度和纬度只填了一个")
    swapped = has & ~in_china(lon, lat) & in_china(lat, lon)
    lon, lat = lon.where(~swapped, lat), lat.where(~swapped, lon)
    add(has & ~in_china(lon, lat), "坐标超出范围或不在中国境内（请检查经纬度和坐标系）")
    if has.any():
        wl, wt = to_wgs84(lon[has].to_numpy(), lat[has].to_numpy(), crs)
        lon.loc[has], lat.loc[has] = wl, wt

    # hospitals named in the row
    named = pd.Series(None, index=body.index, dtype=object)
    if "hospital" in cols:
        named = match_hospital_names(col("hospital"), hospitals)
        add((col("hospital") != "") & named.isna() & ~has, "未能识别涉及医院的名称，且无坐标")
    approx = ~has & named.notna()
    hpos = hospitals.set_index("hospital_id")
    if approx.any():
        lon.loc[approx] = named[approx].map(hpos["lon"]).astype(float)
        lat.loc[approx] = named[approx].map(hpos["lat"]).astype(float)
    add(~has & ~approx, "缺少坐标，且未指明涉及医院，无法定位")

    # ids
    if "source_id" in cols:
        sid = col("source_id")
        add(sid == "", "缺少警情/工单编号")
        add(sid.str.len() > 64, "编号超过64个字符")
    else:
        # No id column: a content hash makes re-importing the same file idempotent.
        joined = body.astype(str).agg("\x1f".join, axis=1)
        sid = "H" + joined.map(lambda v: hashlib.sha1(v.encode("utf-8")).hexdigest()[:20])

    ok = reasons == ""
    rejected = raw.loc[reasons.index[~ok], : width - 1].fillna("")
    rejected.columns = headers[: rejected.shape[1]]
    rejected.insert(0, "原因", reasons[~ok].to_numpy())
    rejected.insert(0, "行号", rejected.index.to_numpy())

    v = body[ok]
    tax = load_taxonomy()
    desc = col("description")[ok] if "description" in cols else pd.Series("", index=v.index)
    srccat = col("source_category")[ok] if "source_category" in cols else None
    category = tax.classify(desc, srccat)
    vlon, vlat = lon[ok].to_numpy(float), lat[ok].to_numpy(float)
    hid, hdist = assign_nearest(vlon, vlat, hospitals, radius_m=radius_m)
    is_approx = approx[ok].to_numpy()
    hid[is_approx] = named[ok].to_numpy()[is_approx]
    hdist[is_approx] = 0.0

    def text(fld: str, limit: int) -> pd.Series:
        return col(fld)[ok].str.slice(0, limit) if fld in cols else pd.Series("", index=v.index)

    valid = pd.DataFrame({
        "row_no": v.index.to_numpy(),
        "source": source,
        "source_id": sid[ok].to_numpy(),
        "channel": text("channel", 32).to_numpy() if "channel" in cols else ("110" if source == "110" else ""),
        "received_at": when[ok].dt.floor("s").to_numpy(),
        "lon": vlon, "lat": vlat,
        "orig_crs": np.where(is_approx, "hospital", crs),
        "approximate": is_approx,
        "address": text("address", 500).to_numpy(),
        "category": category.to_numpy(),
        "source_category": (srccat.str.slice(0, 100) if srccat is not None else pd.Series("", index=v.index)).to_numpy(),
        "description": desc.to_numpy(),
        "caller_name": text("caller_name", 64).to_numpy(),
        "caller_phone": text("caller_phone", 32).to_numpy(),
        "hospital_id": hid,
        "hospital_distance_m": np.round(hdist, 1),
    })
    info = {"total": n, "swapped": int((swapped & ok).sum()), "approximate": int(is_approx.sum())}
    return valid, rejected, info


def _write_quarantine(rejected: pd.DataFrame, batch_id: int, filename: str) -> str:
    from geo.safeio import frame_to_csv_bytes

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

    Returns
    -------
    ImportResult
        Counts, the batch id and the quarantine file of rejected rows.

    Raises
    ------
    ImportError_
        When the file as a whole cannot be read (no rows were imported).
    """
    report = progress or (lambda _f, _m: None)
    engine = engine or get_engine()
    crs = normalize_crs_name(crs or "wgs84")
    data, name = _read_bytes(src)
    name = filename or name
    report(0.02, "读取文件")
    make_chunks, enc, est_rows = _chunk_factory(data, sheet)
    robust = False
    try:
        head = next(make_chunks(False), None)
    except pd.errors.ParserError:
        # An unterminated quote or a ragged first chunk: read with the csv module instead.
        robust = True
        head = next(make_chunks(True), None)
    if head is None or head.empty or not (head.fillna("").astype(str) != "").any().any():
        raise ImportError_("文件是空的")
    layout = detect_layout(head)
    if source is None:
        title = " ".join(head.iloc[: min(3, len(head))].fillna("").astype(str).to_numpy().ravel().tolist())
        source = _infer_source(name, title, None)
        if source is None:
            raise ImportError_("无法判断数据来源，请指定 来源（110 或 complaint）")
    source = normalize_source(source)
    hospitals = load_hospitals(engine)
    for attempt in range(4):
        result = ImportResult(filename=name, source=source, crs=crs, encoding=enc, **layout.info())
        prepared = (
            prepare_rows(chunk, layout, source=source, crs=crs, hospitals=hospitals, radius_m=radius_m)
            for chunk in make_chunks(robust)
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
    report(1.0, "完成")
    return result


#: Records parsed and written per step; bounds memory for million-row files.
CHUNK_ROWS = 100_000


def _chunk_factory(data: bytes, sheet: str | None) -> tuple[Callable[[bool], Iterator[pd.DataFrame]], str, int]:
    """A function giving fresh chunk iterators (an import may be retried), the encoding, and a row estimate."""
    if data.startswith(b"PK\x03\x04"):
        grid = _read_xlsx_grid(data, sheet)  # read once; XLSX files are bounded by the size limits

        def xlsx_chunks(_robust: bool) -> Iterator[pd.DataFrame]:
            for i in range(0, len(grid), CHUNK_ROWS):
                yield grid.iloc[i : i + CHUNK_ROWS]

        return xlsx_chunks, "xlsx", len(grid)
    _chunks, enc = _grid_chunks(data, sheet=sheet, chunk_rows=HEADER_SEARCH_ROWS)  # validates the format
    if b"\x00" in data and not enc.startswith("utf-16"):
        # A stray NUL (a few are common in exports) marks its row as garbled instead of losing the file.
        data = data.replace(b"\x00", "\ufffd".encode(enc))
    return (lambda robust: _csv_chunks(data, enc, chunk_rows=CHUNK_ROWS, robust=robust)), enc, data.count(b"\n") + 1


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
        seen = set(conn.execute(select(table.c.source_id).where(table.c.source == result.source)).scalars())
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        for valid, rejected, info in prepared:
            result.total += info["total"]
            result.swapped += info["swapped"]
            result.approximate += info["approximate"]
            if len(rejected):
                rejected_parts.append(rejected)
            ids = valid["source_id"].tolist()
            # Set lookups: Series.isin(set) converts the whole set on every chunk.
            stored = np.fromiter((i in seen for i in ids), dtype=bool, count=len(ids))
            new = ~valid["source_id"].duplicated(keep="first").to_numpy() & ~stored
            rows = valid[new].drop(columns=["row_no"])
            seen.update(rows["source_id"].tolist())
            result.duplicates += int((~new).sum())  # already stored, or repeated within the file
            result.accepted += len(rows)
            if len(rows):
                rows["batch_id"] = batch_id
                _insert_rows(conn, table.name, rows, mark)
            done = int(valid["row_no"].max()) if len(valid) else 0
            report(min(0.95, 0.05 + 0.9 * done / max(1, est_rows)), f"已写入 {result.accepted:,} 条（已处理 {result.total:,} 行）")
        rejected_all = pd.concat(rejected_parts) if rejected_parts else pd.DataFrame(columns=["行号", "原因"])
        result.batch_id = int(batch_id)
        result.rejected = len(rejected_all)
        result.rejected_rows = rejected_all
        result.quarantine_path = _write_quarantine(rejected_all, batch_id, result.filename) if len(rejected_all) else None
        conn.execute(
            update(ImportBatch.__table__).where(ImportBatch.__table__.c.id == batch_id).values(
                total=result.total, accepted=result.accepted, rejected=result.rejected, duplicates=result.duplicates,
                quarantine_path=result.quarantine_path or "", finished_at=dt.datetime.now(),
            )
        )
    if result.accepted + result.rejected + result.duplicates != result.total:  # pragma: no cover - invariant
        raise RuntimeError(f"Import counts do not add up: {result.summary()}")
    from geo.audit import record

    record("import", username=username, engine=engine,
           detail=f"{result.filename}: 共{result.total} 接收{result.accepted} 拒绝{result.rejected} 重复{result.duplicates}",
           data=data)


def _insert_rows(conn, table_name: str, rows: pd.DataFrame, mark: str) -> None:
    """Plain executemany of tuples: the ORM/Core dict path costs ~10x more per row."""
    names = list(rows.columns)
    sql = f"INSERT INTO {table_name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
    cols = []
    for c in names:
        v = rows[c]
        if c == "received_at" and conn.dialect.name == "sqlite":
            # SQLAlchemy's own SQLite storage format, written without per-row adapters.
            cols.append(v.dt.strftime("%Y-%m-%d %H:%M:%S.%f").tolist())
        elif c == "received_at":
            cols.append(v.dt.to_pydatetime().tolist())
        else:
            cols.append(v.astype(object).where(v.notna(), None).tolist())
    conn.exec_driver_sql(sql, list(zip(*cols, strict=True)))
