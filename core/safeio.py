"""Writers for CSV and XLSX files that neutralize formula injection.

A spreadsheet opens a text cell starting with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or carriage return) as a formula: ``=HYPERLINK("http://evil", "点我")`` or
``=cmd|' /C calc'!A0`` in a caller's description would run on a colleague's computer
(OWASP "CSV Injection"). Every CSV or XLSX the project writes goes through this module:

* CSV: such text cells get a leading apostrophe, which spreadsheets show as text.
* XLSX: such cells are stored as strings (never as formulas) and marked with Excel's
  ``quotePrefix`` so that editing them does not turn them into formulas either.

Numbers, dates and booleans are written unchanged.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

#: First characters that make a spreadsheet treat text as a formula.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
#: Characters that are never valid in XLSX XML (control characters except tab/newline/CR).
_ILLEGAL_XML = {c: None for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]}
#: Excel refuses cells longer than this.
_XLSX_MAX_CELL = 32767
_EXCEL_MAX_SHEET_NAME = 31


def is_dangerous(value: object) -> bool:
    """True if ``value`` is text a spreadsheet could run as a formula."""
    return isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_PREFIXES)


def neutralize(value: Any) -> Any:
    """Return ``value`` made safe for a CSV cell (text formula prefixes get an apostrophe)."""
    if is_dangerous(value):
        return "'" + value
    return value


def neutralize_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` with every text cell (and column name) neutralized."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            out[col] = s.map(neutralize).astype(object)
    out.columns = [neutralize(c) if isinstance(c, str) else c for c in out.columns]
    return out


def frame_to_csv_bytes(df: pd.DataFrame, *, index: bool = False, encoding: str = "utf-8-sig") -> bytes:
    """Serialize ``df`` to CSV bytes with formula injection neutralized.

    Parameters
    ----------
    df
        The table to write.
    index
        Write the index as a first column.
    encoding
        Default UTF-8 with BOM so that Excel opens Chinese text correctly.
    """
    buf = io.StringIO()
    # CRLF line ends (RFC 4180) also make the writer quote cells holding a bare "\r", which
    # spreadsheets would otherwise take as a line break starting a new (formula) cell.
    neutralize_frame(df).to_csv(buf, index=index, lineterminator="\r\n")
    return buf.getvalue().encode(encoding)

def clean_xml_text(text: str) -> str:
    """Drop control characters that XLSX cannot store and cut to Excel's cell limit."""
    return text.translate(_ILLEGAL_XML)[:_XLSX_MAX_CELL]


def set_cell(cell, value: Any) -> None:
    """Set an openpyxl ``cell`` to ``value`` safely: text is always stored as text.

    Use this instead of ``cell.value = ...`` for any value that may come from user data.
    """
    if (isinstance(value, float) and pd.isna(value)) or value is pd.NaT or value is pd.NA:
        value = None
    elif isinstance(value, pd.Timestamp):
        value = value.tz_localize(None).to_pydatetime() if value.tzinfo else value.to_pydatetime()
    elif isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    elif hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalar
    elif value is not None and not isinstance(value, int | float | bool | str | dt.date | dt.time):
        value = str(value)
    if isinstance(value, str):
        value = clean_xml_text(value)
        cell.value = value
        # openpyxl makes every "=..." string a formula; force plain text.
        cell.data_type = "s"
        if is_dangerous(value):
            cell.quotePrefix = True
    else:
        cell.value = value


def harden_workbook(wb) -> int:
    """Turn every formula cell of an openpyxl workbook into plain text; returns how many.

    For workbooks built elsewhere from user data; call it just before saving.
    """
    n = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f" or is_dangerous(cell.value):
                    set_cell(cell, str(cell.value))
                    n += 1
    return n


def frames_to_xlsx_bytes(sheets: pd.DataFrame | Mapping[str, pd.DataFrame], *, index: bool = False) -> bytes:
    """Serialize one table or ``{sheet name: table}`` to XLSX bytes, text stored as text.

    Parameters
    ----------
    sheets
        A DataFrame (one sheet named ``数据``) or a mapping of sheet names to DataFrames.
    index
        Write each index as a first column.
    """
    from openpyxl import Workbook

    if isinstance(sheets, pd.DataFrame):
        sheets = {"数据": sheets}
    wb = Workbook()
    wb.remove(wb.active)
    for name, df in sheets.items():
        title = "".join(ch for ch in str(name) if ch not in '[]:*?/\\')[:_EXCEL_MAX_SHEET_NAME] or "Sheet"
        ws = wb.create_sheet(title=title)
        frame = df.reset_index() if index else df
        for j, col in enumerate(frame.columns, start=1):
            set_cell(ws.cell(row=1, column=j), str(col))
        for i, row in enumerate(frame.itertuples(index=False, name=None), start=2):
            for j, value in enumerate(row, start=1):
                set_cell(ws.cell(row=i, column=j), value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_xlsx(sheets: pd.DataFrame | Mapping[str, pd.DataFrame], path: str | Path, *, index: bool = False) -> Path:
    """Write one table or several sheets to ``path`` as a safe XLSX; returns the path."""
    path = Path(path)
    path.write_bytes(frames_to_xlsx_bytes(sheets, index=index))
    return path


def rl_text(value: object) -> str:
    """Text escaped for a ReportLab ``Paragraph``, which parses a small XML markup language.

    Without it a hospital name such as ``<a href="http://evil">请点此重新登录</a>`` becomes a clickable link in an
    official PDF and ``<img src=...>`` aborts the export. Control characters are removed too.
    """
    from xml.sax.saxutils import escape

    return escape(clean_xml_text(str(value)), {'"': "&quot;", "'": "&#39;"})
