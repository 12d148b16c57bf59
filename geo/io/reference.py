"""Importers for a bureau's reference data: the hospital list (with entrances), police units, the officer roster.

A real deployment starts from an empty store; these files fill it before the first incident import
(``docs/deployment.md``). The formats are documented in ``data/samples/README.md`` (with 样例 files) and the
column names each file may use are listed in ``data/reference_header_map.yaml``. Files are read like incident
exports (CSV in UTF-8/GB18030/UTF-16 or XLSX, a title row above the header is skipped) by the reading
functions of :mod:`geo.io.ingest`.

Every data row ends in exactly one of three states, as for incidents:

* **accepted** — inserted (a new id) or updated (a known id whose values changed);
* **rejected** — with its spreadsheet row number and a reason in Chinese, written to a quarantine CSV;
* **duplicate** — its id appeared earlier in the file, or the store already holds exactly these values.

``accepted + rejected + duplicates == total``. An import is one transaction: if anything fails, the store is
unchanged. Order matters only through references: units name hospitals, the roster names units (and hospitals).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import yaml
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from core import settings
from core.db import HospitalEntrance, ImportBatch, get_engine
from core.db.schema import Hospital, Officer, PoliceUnit
from core.trust import storekind
from geo.crs import in_china, normalize_crs_name, project, to_wgs84
from geo.io.accounting import RowAccount
from geo.io.hospitals import match_hospital_names
from geo.io.ingest import HEADER_SEARCH_ROWS, ImportError_, best_header_row, norm_header, read_grid

REFERENCE_HEADER_MAP_FILE: Path = settings.DATA_DIR / "reference_header_map.yaml"
#: The reference files, in the order a new deployment loads them.
KINDS: tuple[str, ...] = ("hospitals", "entrances", "units", "roster")
#: Chinese names of the kinds (messages, audit trail).
KIND_LABELS: dict[str, str] = {"hospitals": "医院名单", "entrances": "医院出入口", "units": "警力单位", "roster": "民警花名册"}
#: Columns a file of each kind must have (one of each tuple).
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "hospitals": (("hospital_id",), ("name",), ("lon", "coords")),
    "entrances": (("hospital",), ("name",), ("lon", "coords")),
    "units": (("unit_id",), ("name",), ("kind",)),
    "roster": (("officer_id",), ("name",), ("unit",)),
}
#: Sheet of a hospital workbook read as the entrance list.
ENTRANCE_SHEET = "出入口"
#: Farthest an entrance may lie from its hospital's point (metres); farther means a wrong coordinate.
ENTRANCE_MAX_DISTANCE_M = 1500.0
#: Unit kinds: the codes planning uses and the words files use for them.
UNIT_KINDS: dict[str, tuple[str, ...]] = {
    "stationed": ("stationed", "驻院", "驻院警务室", "驻院警力", "驻院民警", "医院警务室", "警务室"),
    "station": ("station", "派出所", "辖区派出所"),
    "reserve": ("reserve", "治安", "治安支队", "巡警", "特警", "机动", "机动警力", "预备", "城市预备", "市局机动"),
}
UNIT_KIND_LABELS = {"stationed": "驻院警务室", "station": "派出所", "reserve": "机动警力"}
_GRADES = {"三甲": "三级甲等", "三乙": "三级乙等", "三丙": "三级丙等", "二甲": "二级甲等", "二乙": "二级乙等",
           "二丙": "二级丙等", "一甲": "一级甲等", "一乙": "一级乙等", "一丙": "一级丙等"}
_WEEKDAYS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7, "七": 7,
             **{str(i): i for i in range(1, 8)}}
_ROTATING = {"", "轮换", "轮班", "倒班", "不固定", "自动", "轮休", "按排班", "rotate", "auto"}
_ID_RX = re.compile(r"^[\w.\-]{1,32}$")
_PHONE_RX = re.compile(r"^[\d\-+()（）\s]{5,32}$")
_HM_RX = re.compile(r"^(?P<H>\d{1,2})\s*(?:[:：时点]\s*(?P<M>\d{1,2})?\s*分?(?:\s*[:：]\s*\d{1,2})?)?$")
_ENTRANCE_RX = re.compile(
    r"^\s*(?P<name>[^@:：(（]+?)\s*[@:：(（]\s*(?P<lon>-?\d+(?:\.\d+)?)\s*[,，\s]\s*(?P<lat>-?\d+(?:\.\d+)?)\s*[)）]?\s*$"
)
_NUM_RX = r"-?\d+(?:\.\d+)?"


@dataclass(kw_only=True)
class ReferenceResult(RowAccount):
    """Outcome of one reference import; ``accepted + rejected + duplicates == total``."""

    kind: str
    crs: str = ""
    inserted: int = 0
    updated: int = 0
    #: Entrances written with the hospitals (from an 出入口 column).
    entrances_written: int = 0
    #: The entrance list imported with a hospital list (a second file or the 出入口 sheet).
    entrances: ReferenceResult | None = None

    def summary(self) -> dict:
        """JSON-ready summary (what the CLI prints)."""
        out = {"kind": self.kind, **self.counts(), "inserted": self.inserted, "updated": self.updated}
        if self.kind in ("hospitals", "entrances"):
            out["crs"] = self.crs
        if self.kind == "hospitals":
            out["entrances_written"] = self.entrances_written
            out["entrances"] = self.entrances.summary() if self.entrances is not None else None
        return out


# --------------------------------------------------------------------------- reading


def load_reference_header_map(kind: str, path: str | Path | None = None) -> dict[str, str]:
    """Normalised header alias -> field name for one kind, from ``data/reference_header_map.yaml``."""
    if kind not in KINDS:
        raise ValueError(f"Unknown reference kind {kind!r}; expected one of {KINDS}.")
    with open(path or REFERENCE_HEADER_MAP_FILE, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    out: dict[str, str] = {}
    for fld, aliases in (raw.get(kind) or {}).items():
        for a in aliases:
            out.setdefault(norm_header(a), fld)
    return out


def _read(src: str | Path | bytes, filename: str | None) -> tuple[bytes, str]:
    if isinstance(src, bytes | bytearray):
        data, name = bytes(src), filename or "upload"
    else:
        path = Path(src)
        if not path.is_file():
            raise FileNotFoundError(f"文件不存在: {path}")
        if path.stat().st_size > settings.MAX_IMPORT_BYTES:
            raise ImportError_(f"文件过大，上限 {settings.MAX_IMPORT_BYTES / 1e6:.0f} MB")
        data, name = path.read_bytes(), filename or path.name
    if len(data) > settings.MAX_IMPORT_BYTES:
        raise ImportError_(f"文件过大，上限 {settings.MAX_IMPORT_BYTES / 1e6:.0f} MB")
    return data, name


def _sheet_names(data: bytes) -> list[str]:
    if not data.startswith(b"PK\x03\x04"):
        return []
    import openpyxl

    read_grid(data, max_rows=1)  # validates the workbook (corrupt file, zip bomb) with the incident checks
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


@dataclass
class _Table:
    header_row: int  # 0-based record index
    cols: dict[str, int]
    headers: list[str]
    width: int


def _find_header(grid: pd.DataFrame, kind: str, header_map: dict[str, str]) -> _Table:
    best_row, best = best_header_row(grid, header_map)
    label = KIND_LABELS[kind]
    if best_row < 0 or len(best) < 2:
        raise ImportError_(
            f"找不到{label}的表头：前 {HEADER_SEARCH_ROWS} 行中没有可识别的列名。请对照 data/samples/ 中的样例，"
            "或在 data/reference_header_map.yaml 中补充列名"
        )
    aliases = _first_aliases(kind)
    missing = [" 或 ".join(aliases.get(f, f) for f in alt) for alt in REQUIRED[kind] if not any(f in best for f in alt)]
    if missing:
        raise ImportError_(f"第 {best_row + 1} 行{label}表头缺少必需的列：{'、'.join(missing)}")
    cells = ["" if pd.isna(h) else str(h).strip() for h in grid.iloc[best_row].tolist()]
    width = max(j for j, h in enumerate(cells) if h) + 1
    return _Table(best_row, best, [h or f"列{j + 1}" for j, h in enumerate(cells[:width])], width)


def _first_aliases(kind: str) -> dict[str, str]:
    with open(REFERENCE_HEADER_MAP_FILE, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    return {f: str(a[0]) for f, a in (raw.get(kind) or {}).items() if a}


# --------------------------------------------------------------------------- cell parsers


def parse_hm(text: str) -> str | None:
    """``"HH:MM"`` from ``7:00``, ``07:30:00``, ``7点``, ``7时30分`` or an Excel day fraction; None if invalid."""
    s = str(text).strip()
    try:
        frac = float(s)
    except ValueError:
        frac = None
    if frac is not None and 0 <= frac < 1 and "." in s:
        minutes = round(frac * 1440)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    m = _HM_RX.match(s)
    if not m:
        return None
    h, mi = int(m["H"]), int(m["M"] or 0)
    if h > 23 or mi > 59:
        return None
    return f"{h:02d}:{mi:02d}"


def parse_rest_days(text: str) -> str | None:
    """Fixed rest days as sorted ISO weekdays ``"6,7"`` from ``周六、周日``, ``六日``, ``6,7``; ``""`` for a
    rotating cycle (blank, 轮休 ...); None if unreadable."""
    s = str(text).strip().lower()
    if s in _ROTATING:
        return ""
    s = re.sub(r"星期|礼拜|周", " ", s)
    days: set[int] = set()
    for token in re.split(r"[\s,，、;；/|和及]+", s):
        if not token:
            continue
        chars = list(token)
        if not all(c in _WEEKDAYS for c in chars):
            return None
        days.update(_WEEKDAYS[c] for c in chars)
    return ",".join(str(d) for d in sorted(days)) if days else None


def parse_shift(text: str, shifts: dict | None = None) -> str | None:
    """A shift name of ``settings.PATROL_SHIFTS`` (``早`` → ``早班``; ``early``/``late`` → first/last), ``""`` for
    rotating shifts, None if unknown."""
    names = list(shifts or settings.PATROL_SHIFTS)
    s = str(text).strip()
    if s.lower() in _ROTATING:
        return ""
    if s in names:
        return s
    if s + "班" in names:
        return s + "班"
    if s.lower() in {"early", "morning"}:
        return names[0]
    if s.lower() in {"late", "evening"}:
        return names[-1]
    return None


def parse_active(text: str) -> bool | None:
    """Whether an officer is on duty: blank/在岗/是 → True, 停用/离岗/调离/否 → False, None if unreadable."""
    s = str(text).strip().lower()
    if s in {"", "在岗", "是", "1", "true", "yes", "y", "启用", "正常", "在职"}:
        return True
    if s in {"停用", "离岗", "调离", "退休", "否", "0", "false", "no", "n", "不在岗", "离职"}:
        return False
    return None


def unit_kind(text: str) -> str | None:
    """Unit kind code (``stationed``, ``station``, ``reserve``) from a file's word for it."""
    s = str(text).strip().lower()
    for code, words in UNIT_KINDS.items():
        if s in words:
            return code
    return None


def parse_entrances(text: str) -> list[tuple[str, float, float]] | None:
    """Entrances written in one cell, ``名称@经度,纬度`` separated by ``;`` (also ``名称(经度,纬度)``);
    None if any item is unreadable."""
    items = [t for t in re.split(r"[;；|\n]+", str(text)) if t.strip()]
    out = []
    for item in items:
        m = _ENTRANCE_RX.match(item)
        if not m:
            return None
        out.append((m["name"].strip(), float(m["lon"]), float(m["lat"])))
    return out


def _as_int(text: str) -> int | None:
    s = str(text).strip()
    if not s:
        return 0
    try:
        v = float(s)
    except ValueError:
        return None
    return int(v) if v.is_integer() and v >= 0 else None


# --------------------------------------------------------------------------- row checks

Row = dict[str, str]
#: A checker: (row, context) -> (record, "") or (None, Chinese reason).
Checker = Callable[[Row, dict], tuple[dict | None, str]]


def _check_id(value: str, what: str) -> str:
    if not value:
        return f"缺少{what}"
    if not _ID_RX.match(value):
        return f"{what}超过32个字符或含空格等字符"
    return ""


def _point(row: Row, ctx: dict) -> tuple[tuple[float, float] | None, str]:
    """WGS-84 (lon, lat) of a row's 经度/纬度 or 坐标 cells in the file's (or the row's) coordinate system."""
    crs = ctx["crs"]
    if row.get("crs"):
        try:
            crs = normalize_crs_name(row["crs"].replace(" ", ""))
        except ValueError:
            return None, f"坐标系 {row['crs']!r} 无法识别（可选 WGS-84、GCJ-02、BD-09）"
    lon_s, lat_s = row.get("lon", ""), row.get("lat", "")
    if not lon_s and not lat_s and row.get("coords"):
        m = re.match(rf"^\s*\(?\s*({_NUM_RX})\s*[,，;；\s]\s*({_NUM_RX})\s*\)?\s*$", row["coords"])
        if not m:
            return None, "坐标格式无法识别（应为 经度,纬度）"
        lon_s, lat_s = m[1], m[2]
    if not lon_s and not lat_s:
        return None, "缺少经纬度"
    if not lon_s or not lat_s:
        return None, "经度和纬度只填了一个"
    try:
        lon, lat = float(lon_s), float(lat_s)
    except ValueError:
        return None, "经纬度不是数字"
    if not bool(in_china([lon], [lat])[0]) and bool(in_china([lat], [lon])[0]):
        lon, lat = lat, lon  # swapped columns, as the incident importer corrects them
    if not bool(in_china([lon], [lat])[0]):
        return None, "坐标超出范围或不在中国境内（请检查经纬度和坐标系）"
    x, y = to_wgs84(np.array([lon]), np.array([lat]), crs)
    return (round(float(x[0]), 7), round(float(y[0]), 7)), ""


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    x, y, _ = project(np.array([a[0], b[0]]), np.array([a[1], b[1]]))
    return float(math.hypot(x[1] - x[0], y[1] - y[0]))


def _check_hospital(row: Row, ctx: dict) -> tuple[dict | None, str]:
    hid = row.get("hospital_id", "")
    if why := _check_id(hid, "医院编号"):
        return None, why
    name = row.get("name", "") or row.get("full_name", "")
    if not name:
        return None, "缺少医院名称"
    if len(name) > 100 or len(row.get("full_name", "")) > 200:
        return None, "医院名称过长（简称不超过100字，全称不超过200字）"
    point, why = _point(row, ctx)
    if point is None:
        return None, why
    reg_open, reg_close = "07:00", "17:00"
    if row.get("reg_hours"):
        parts = re.split(r"\s*(?:-|－|~|～|—|–|至|到)\s*", row["reg_hours"])
        hours = [parse_hm(p) for p in parts]
        if len(hours) != 2 or hours[0] is None or hours[1] is None:
            return None, "挂号时间格式无法识别（应为 07:00-17:00）"
        reg_open, reg_close = hours[0], hours[1]
    for key in ("reg_open", "reg_close"):
        if row.get(key):
            value = parse_hm(row[key])
            if value is None:
                return None, f"{'挂号开始' if key == 'reg_open' else '挂号结束'}时间格式无法识别（应为 HH:MM）"
            if key == "reg_open":
                reg_open = value
            else:
                reg_close = value
    if reg_close <= reg_open:
        return None, "挂号结束时间早于开始时间"
    stationed = _as_int(row.get("stationed_officers", ""))
    if stationed is None:
        return None, "驻院警力应为非负整数"
    grade = row.get("grade", "")
    grade = _GRADES.get(grade.replace("级", "").replace("等", ""), grade)
    if len(grade) > 20 or len(row.get("district", "")) > 40:
        return None, "等级或所属区过长"
    rec: dict[str, Any] = {
        "id": hid, "name": row.get("name", "") or name, "full_name": row.get("full_name", ""), "grade": grade,
        "district": row.get("district", ""), "lon": point[0], "lat": point[1], "stationed_officers": stationed,
        "reg_open": reg_open, "reg_close": reg_close,
    }
    if row.get("entrances"):
        items = parse_entrances(row["entrances"])
        if items is None:
            return None, "出入口格式无法识别（应为 名称@经度,纬度，多个用分号分隔）"
        entrances = []
        for ename, elon, elat in items:
            epoint, why = _point({"lon": str(elon), "lat": str(elat), "crs": row.get("crs", "")}, ctx)
            if epoint is None:
                return None, f"出入口 {ename}：{why}"
            if len(ename) > 40:
                return None, f"出入口名称 {ename[:10]}… 超过40个字"
            if _distance_m(point, epoint) > ENTRANCE_MAX_DISTANCE_M:
                return None, f"出入口 {ename} 距医院超过 {ENTRANCE_MAX_DISTANCE_M:.0f} 米，请检查坐标"
            entrances.append((ename, *epoint))
        if len({e[0] for e in entrances}) != len(entrances):
            return None, "同一医院的出入口名称重复"
        rec["_entrances"] = sorted(entrances)
    return rec, ""


def _match_hospital(value: str, ctx: dict) -> str | None:
    hospitals: pd.DataFrame = ctx["hospitals"]
    if value in ctx["hospital_ids"]:
        return value
    found = match_hospital_names(pd.Series([value], dtype=object), hospitals).iloc[0]
    return None if pd.isna(found) else str(found)


def _check_entrance(row: Row, ctx: dict) -> tuple[dict | None, str]:
    if not row.get("hospital"):
        return None, "缺少医院"
    hid = _match_hospital(row["hospital"], ctx)
    if hid is None:
        return None, f"医院 {row['hospital']!r} 不在医院名单中（请先导入医院名单）"
    name = row.get("name", "")
    if not name:
        return None, "缺少出入口名称"
    if len(name) > 40:
        return None, "出入口名称超过40个字"
    point, why = _point(row, ctx)
    if point is None:
        return None, why
    h = ctx["hospital_points"][hid]
    if _distance_m(h, point) > ENTRANCE_MAX_DISTANCE_M:
        return None, f"出入口距医院超过 {ENTRANCE_MAX_DISTANCE_M:.0f} 米，请检查坐标"
    return {"hospital_id": hid, "name": name, "lon": point[0], "lat": point[1]}, ""


def _check_unit(row: Row, ctx: dict) -> tuple[dict | None, str]:
    uid = row.get("unit_id", "")
    if why := _check_id(uid, "单位编号"):
        return None, why
    name = row.get("name", "")
    if not name:
        return None, "缺少单位名称"
    if len(name) > 100:
        return None, "单位名称超过100个字"
    kind = unit_kind(row.get("kind", ""))
    if kind is None:
        return None, f"单位类型 {row.get('kind', '')!r} 无法识别（应为 驻院警务室、派出所 或 机动警力）"
    hid = None
    if row.get("hospital"):
        hid = _match_hospital(row["hospital"], ctx)
        if hid is None:
            return None, f"所驻医院 {row['hospital']!r} 不在医院名单中（请先导入医院名单）"
    if kind == "stationed" and hid is None:
        return None, "驻院警务室须填写所驻医院"
    if kind != "stationed" and hid is not None:
        return None, "只有驻院警务室可填写所驻医院"
    district = row.get("district", "") or (ctx["hospital_district"].get(hid, "") if hid else "")
    if kind == "station" and not district:
        return None, "派出所须填写所属区（用于就近抽调警力）"
    if len(district) > 40:
        return None, "所属区超过40个字"
    available = _as_int(row.get("available_per_day", ""))
    if available is None:
        return None, "每日可抽调警力应为非负整数"
    return {"id": uid, "name": name, "kind": kind, "district": district, "hospital_id": hid,
            "available_per_day": available}, ""


def _check_officer(row: Row, ctx: dict) -> tuple[dict | None, str]:
    oid = row.get("officer_id", "")
    if why := _check_id(oid, "警号"):
        return None, why
    name = row.get("name", "")
    if not name:
        return None, "缺少姓名"
    if len(name) > 64:
        return None, "姓名超过64个字"
    units: dict[str, dict] = ctx["units"]
    unit = row.get("unit", "")
    uid = unit if unit in units else ctx["unit_names"].get(re.sub(r"\s", "", unit))
    if not unit:
        return None, "缺少所属单位"
    if uid is None:
        return None, f"所属单位 {unit!r} 不在警力单位中（请先导入警力单位）"
    u = units[uid]
    hid = u["hospital_id"] if u["kind"] == "stationed" else None
    if row.get("hospital"):
        given = _match_hospital(row["hospital"], ctx)
        if given is None:
            return None, f"所驻医院 {row['hospital']!r} 不在医院名单中"
        if u["kind"] != "stationed":
            return None, "只有驻院警务室的民警可填写所驻医院"
        if given != hid:
            return None, "所驻医院与所属驻院警务室的医院不一致"
    phone = row.get("phone", "")
    if phone and not _PHONE_RX.match(phone):
        return None, "联系电话格式不正确"
    shift = parse_shift(row.get("shift", ""))
    if shift is None:
        return None, f"班次 {row.get('shift', '')!r} 不在班次设置中（可选：{'、'.join(settings.PATROL_SHIFTS)}、轮换）"
    rest = parse_rest_days(row.get("rest_days", ""))
    if rest is None:
        return None, "休息日格式无法识别（应为 周六、周日 或 轮休）"
    if rest and len(rest.split(",")) < settings.PATROL_REST_DAYS_PER_WEEK:
        return None, (f"每周休息日少于 {settings.PATROL_REST_DAYS_PER_WEEK} 天"
                      f"（每周工时上限 {settings.PATROL_MAX_HOURS_WEEK:g} 小时）")
    if rest and len(rest.split(",")) == 7:
        return None, "休息日不能是整周"
    active = parse_active(row.get("active", ""))
    if active is None:
        return None, f"状态 {row.get('active', '')!r} 无法识别（应为 在岗 或 停用）"
    return {"id": oid, "name": name, "unit_id": uid, "hospital_id": hid, "phone": phone, "active": active,
            "shift": shift, "rest_days": rest}, ""


# --------------------------------------------------------------------------- import


def _table(model: type) -> Table:
    """The Core table of a mapped class (typed as a Table for insert/update/delete)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


@dataclass
class _Spec:
    table: Table
    key: tuple[str, ...]
    check: Checker


#: Stored fields that come from optional file columns: when a file lacks all of a field's columns, an update
#: keeps the stored value (a file of corrected coordinates does not blank the registration hours).
_SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "hospitals": {"full_name": ("full_name",), "grade": ("grade",), "district": ("district",),
                  "stationed_officers": ("stationed_officers",), "reg_open": ("reg_hours", "reg_open"),
                  "reg_close": ("reg_hours", "reg_close")},
    "entrances": {},
    "units": {"district": ("district", "hospital"), "available_per_day": ("available_per_day",)},
    "roster": {"phone": ("phone",), "shift": ("shift",), "rest_days": ("rest_days",), "active": ("active",)},
}

_SPECS: dict[str, _Spec] = {
    "hospitals": _Spec(_table(Hospital), ("id",), _check_hospital),
    "entrances": _Spec(_table(HospitalEntrance), ("hospital_id", "name"), _check_entrance),
    "units": _Spec(_table(PoliceUnit), ("id",), _check_unit),
    "roster": _Spec(_table(Officer), ("id",), _check_officer),
}


def _context(conn: Connection, kind: str, crs: str) -> dict:
    ctx: dict[str, Any] = {"crs": crs}
    if kind in ("entrances", "units", "roster"):
        h = pd.DataFrame(conn.execute(select(Hospital.id, Hospital.name, Hospital.full_name, Hospital.lon,
                                             Hospital.lat, Hospital.district)).all(),
                         columns=["hospital_id", "name", "full_name", "lon", "lat", "district"])
        ctx["hospitals"] = h
        ctx["hospital_ids"] = set(h["hospital_id"])
        ctx["hospital_points"] = {r.hospital_id: (r.lon, r.lat) for r in h.itertuples(index=False)}
        ctx["hospital_district"] = dict(zip(h["hospital_id"], h["district"], strict=True))
        if h.empty:
            raise ImportError_("存储中还没有医院，请先导入医院名单（python -m planning hospitals import 文件）")
    if kind == "roster":
        rows = conn.execute(select(PoliceUnit.id, PoliceUnit.name, PoliceUnit.kind, PoliceUnit.hospital_id)).all()
        ctx["units"] = {r.id: {"kind": r.kind, "hospital_id": r.hospital_id} for r in rows}
        names: dict[str, str | None] = {}
        for r in rows:
            key = re.sub(r"\s", "", r.name)
            names[key] = None if key in names else r.id  # an ambiguous name matches nothing
        ctx["unit_names"] = {k: v for k, v in names.items() if v is not None}
        if not rows:
            raise ImportError_("存储中还没有警力单位，请先导入警力单位（python -m planning units import 文件）")
    return ctx


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) < 1e-7  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
    return a == b


def _import_grid(
    conn: Connection, kind: str, grid: pd.DataFrame, result: ReferenceResult, *, crs: str,
) -> tuple[list[dict], pd.DataFrame]:
    """Check and write the rows of one grid; returns the accepted records and the rejected rows."""
    spec = _SPECS[kind]
    table = _find_header(grid, kind, load_reference_header_map(kind))
    result.header_row = table.header_row + 1
    result.column_mapping = {f: table.headers[j] for f, j in table.cols.items() if j < table.width}
    result.unmapped_columns = [h for j, h in enumerate(table.headers)
                               if j not in table.cols.values() and h and not h.startswith("列")]
    ctx = _context(conn, kind, crs)
    stored = {tuple(m[k] for k in spec.key): m for m in conn.execute(select(spec.table)).mappings().all()}
    if kind == "hospitals":
        ent = conn.execute(select(HospitalEntrance.hospital_id, HospitalEntrance.name, HospitalEntrance.lon,
                                  HospitalEntrance.lat)).all()
        stored_entrances: dict[str, list] = {}
        for e in ent:
            stored_entrances.setdefault(e.hospital_id, []).append((e.name, e.lon, e.lat))
    absent = {c for c, srcs in _SOURCES[kind].items() if not any(f in table.cols for f in srcs)}
    seen: set[tuple] = set()
    rejected: list[list] = []
    accepted: list[dict] = []
    body = grid.iloc[table.header_row + 1 :]
    for rec_no, cells in zip(body.index, body.itertuples(index=False, name=None), strict=True):
        values = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip() for v in cells]
        if not any(values):
            continue  # blank rows are not data rows
        result.total += 1
        row_no = int(rec_no) + 1
        raw = (values + [""] * table.width)[: table.width]

        def reject(why: str, raw: list[str] = raw, row_no: int = row_no) -> None:
            rejected.append([row_no, why, *raw])

        if any(values[table.width :]):
            reject("列数多于表头，可能有未加引号的逗号")
            continue
        if any(len(v) > settings.MAX_CELL_CHARS for v in values):
            reject(f"单元格超过 {settings.MAX_CELL_CHARS} 个字符")
            continue
        if any("\ufffd" in v for v in values):
            reject("含无法识别的字符（编码错误）")
            continue
        row = {f: values[j] if j < len(values) else "" for f, j in table.cols.items()}
        rec, why = spec.check(row, ctx)
        if rec is None:
            reject(why)
            continue
        key = tuple(rec[k] for k in spec.key)
        if key in seen:
            result.duplicates += 1  # repeated earlier in the file: the first is kept
            continue
        seen.add(key)
        old = stored.get(key)
        entrances = rec.pop("_entrances", None)
        if old is not None:
            rec = {c: v for c, v in rec.items() if c not in absent}
        changed_entrances = (kind == "hospitals" and entrances is not None
                             and sorted(entrances) != sorted(stored_entrances.get(key[0], [])))
        if old is not None and not changed_entrances and all(_same(old[c], v) for c, v in rec.items()):
            result.duplicates += 1  # the store already holds exactly this row
            continue
        if old is None:
            conn.execute(insert(spec.table).values(**rec))
            result.inserted += 1
        else:
            cond = [spec.table.c[k] == rec[k] for k in spec.key]
            conn.execute(update(spec.table).where(*cond).values(**rec))
            result.updated += 1
        if changed_entrances:
            _replace_entrances(conn, key[0], entrances, stored_entrances.get(key[0], []))
            result.entrances_written += len(entrances)
        accepted.append(rec)
    result.accepted = result.inserted + result.updated
    frame = pd.DataFrame(rejected, columns=["行号", "原因", *table.headers])
    result.rejected = len(frame)
    result.rejected_rows = frame
    return accepted, frame


def _replace_entrances(conn: Connection, hospital_id: str, entrances: list, old: list) -> None:
    """Make ``entrances`` the hospital's whole entrance list (an 出入口 cell lists them all)."""
    t = _table(HospitalEntrance)
    keep = {e[0] for e in entrances}
    gone = [name for name, *_ in old if name not in keep]
    if gone:
        conn.execute(delete(t).where(t.c.hospital_id == hospital_id, t.c.name.in_(gone)))
    have = {name for name, *_ in old}
    for name, lon, lat in entrances:
        if name in have:
            conn.execute(update(t).where(t.c.hospital_id == hospital_id, t.c.name == name).values(lon=lon, lat=lat))
        else:
            conn.execute(insert(t).values(hospital_id=hospital_id, name=name, lon=lon, lat=lat))


def _write_quarantine(rejected: pd.DataFrame, batch_id: int, kind: str, filename: str) -> str:
    from core.safeio import frame_to_csv_bytes

    qdir = settings.VAR_DIR / "quarantine"
    qdir.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w\u4e00-\u9fa5.-]+", "_", Path(filename).stem)[:80]
    path = qdir / f"batch{batch_id}_{kind}_{stem}_rejected.csv"
    path.write_bytes(frame_to_csv_bytes(rejected))
    return str(path)


def _one(
    conn: Connection, kind: str, data: bytes, name: str, *, crs: str, sheet: str | None, username: str,
) -> ReferenceResult:
    grid, enc = read_grid(data, sheet=sheet)
    if grid.empty or not (grid.fillna("").astype(str) != "").any().any():
        raise ImportError_("文件是空的")
    result = ReferenceResult(kind=kind, filename=name, crs=crs if kind in ("hospitals", "entrances") else "",
                             encoding=enc)
    batches = _table(ImportBatch)
    batch_id = conn.execute(insert(batches).values(
        filename=name[:300], sha256=hashlib.sha256(data).hexdigest(), source=kind, crs=result.crs,
        started_at=dt.datetime.now(), total=0, accepted=0, rejected=0, duplicates=0, quarantine_path="",
        username=username[:64],
    )).inserted_primary_key[0]  # type: ignore[index]
    _accepted, rejected = _import_grid(conn, kind, grid, result, crs=crs)
    result.batch_id = int(batch_id)
    if len(rejected):
        result.quarantine_path = _write_quarantine(rejected, result.batch_id, kind, name)
    conn.execute(update(batches).where(batches.c.id == batch_id).values(
        total=result.total, accepted=result.accepted, rejected=result.rejected, duplicates=result.duplicates,
        quarantine_path=result.quarantine_path or "", finished_at=dt.datetime.now(),
    ))
    if not result.balanced():  # pragma: no cover - invariant
        raise RuntimeError(f"Import counts do not add up: {result.summary()}")
    return result


def _audit(engine: Engine, result: ReferenceResult, username: str, data: bytes) -> None:
    from core.trust.audit import record

    record("import", username=username, engine=engine, data=data,
           detail=(f"{KIND_LABELS[result.kind]} {result.filename}: 共{result.total} 接收{result.accepted}"
                   f"（新增{result.inserted} 更新{result.updated}） 拒绝{result.rejected} 重复{result.duplicates}"))


def import_reference(
    kind: str,
    src: str | Path | bytes,
    *,
    engine: Engine | None = None,
    crs: str | None = None,
    sheet: str | None = None,
    filename: str | None = None,
    username: str = "",
    entrances: str | Path | bytes | None = None,
    entrances_filename: str | None = None,
) -> ReferenceResult:
    """Import one reference file (``hospitals``, ``entrances``, ``units`` or ``roster``) into the store.

    Parameters
    ----------
    kind
        Which file: see :data:`KINDS`.
    src
        Path of a CSV/XLSX file, or its bytes (an upload).
    engine
        Store engine; default the configured store.
    crs
        Coordinate system of the file's coordinates (hospitals, entrances): ``wgs84`` (default), ``gcj02``
        or ``bd09``; a 坐标系 column overrides it row by row.
    sheet
        XLSX sheet; default the first.
    filename
        Name to record for byte input.
    username
        Who imports (recorded in the batch and the audit trail).
    entrances
        With ``kind="hospitals"``: an entrance file imported in the same transaction, after the hospitals.
        Without it, an XLSX hospital file's sheet named 出入口 is imported as the entrance list.
    entrances_filename
        Name to record for byte input of ``entrances``.

    Returns
    -------
    ReferenceResult
        Counts (``accepted + rejected + duplicates == total``), the batch id and the quarantine file.

    Raises
    ------
    ImportError_
        When the file as a whole cannot be read or lacks a required column (nothing was imported).
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown reference kind {kind!r}; expected one of {', '.join(KINDS)}.")
    engine = engine or get_engine()
    # Reference data of a bureau makes the store real, as an incident import does; a demo store refuses it.
    storekind.require_real(engine, username=username)
    crs = normalize_crs_name(crs or "wgs84")
    data, name = _read(src, filename)
    extra: tuple[bytes, str, str | None] | None = None
    if kind == "hospitals":
        if entrances is not None:
            edata, ename = _read(entrances, entrances_filename)
            extra = (edata, ename, None)
        elif sheet is None and ENTRANCE_SHEET in _sheet_names(data)[1:]:
            extra = (data, f"{name}#{ENTRANCE_SHEET}", ENTRANCE_SHEET)
    with engine.begin() as conn:
        result = _one(conn, kind, data, name, crs=crs, sheet=sheet, username=username)
        if extra is not None:
            result.entrances = _one(conn, "entrances", extra[0], extra[1], crs=crs, sheet=extra[2],
                                    username=username)
    _audit(engine, result, username, data)
    if result.entrances is not None:
        _audit(engine, result.entrances, username, extra[0])  # type: ignore[index]
    return result


def import_hospitals(src: str | Path | bytes, **kwargs: Any) -> ReferenceResult:
    """:func:`import_reference` of a hospital list."""
    return import_reference("hospitals", src, **kwargs)


def import_units(src: str | Path | bytes, **kwargs: Any) -> ReferenceResult:
    """:func:`import_reference` of a police unit list."""
    return import_reference("units", src, **kwargs)


def import_roster(src: str | Path | bytes, **kwargs: Any) -> ReferenceResult:
    """:func:`import_reference` of an officer roster."""
    return import_reference("roster", src, **kwargs)


def load_entrances(engine: Engine | None = None) -> pd.DataFrame:
    """Hospital entrances: hospital_id, name, lon, lat (WGS-84)."""
    t = _table(HospitalEntrance)
    with (engine or get_engine()).connect() as conn:
        return pd.read_sql(select(t.c.hospital_id, t.c.name, t.c.lon, t.c.lat).order_by(t.c.hospital_id, t.c.id),
                           conn)
