"""Hospitals: the reference file, nearest-hospital assignment and matching hospital names in text."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from core import settings
from geo.crs import project

DEFAULT_FILE = settings.DATA_DIR / "beijing_hospitals.csv"


def read_hospital_file(path: str | Path | None = None) -> pd.DataFrame:
    """Read a hospital CSV (columns hospital_id, name, full_name, grade, district, lon, lat in WGS-84)."""
    df = pd.read_csv(path or DEFAULT_FILE, dtype={"hospital_id": str})
    missing = {"hospital_id", "name", "lon", "lat"} - set(df.columns)
    if missing:
        raise ValueError(f"Hospital file {path} lacks columns {sorted(missing)}.")
    for col in ("full_name", "grade", "district"):
        df[col] = df[col].fillna("").astype(str) if col in df else ""
    return df


def save_hospitals(engine, hospitals: pd.DataFrame, *, source_note: str = "") -> int:
    """Insert or update hospitals (columns as :func:`read_hospital_file`; optional stationed_officers,
    reg_open, reg_close). Returns the number of rows written."""
    from core.db import Hospital, session_scope

    with session_scope(engine) as s:
        for r in hospitals.to_dict("records"):
            s.merge(Hospital(
                id=str(r["hospital_id"]), name=r["name"], full_name=r.get("full_name", "") or "",
                grade=r.get("grade", "") or "", district=r.get("district", "") or "",
                lon=float(r["lon"]), lat=float(r["lat"]),
                stationed_officers=int(r.get("stationed_officers", 0) or 0),
                reg_open=r.get("reg_open", "07:00") or "07:00", reg_close=r.get("reg_close", "17:00") or "17:00",
                source_note=source_note,
            ))
    return len(hospitals)


def assign_nearest(
    lon: np.ndarray,
    lat: np.ndarray,
    hospitals: pd.DataFrame,
    *,
    radius_m: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hospital within ``radius_m`` of each point, measured in a metric projection.

    Returns
    -------
    hospital_id : ndarray of object
        Hospital id, or None where no hospital lies within the radius (or coordinates are NaN).
    distance_m : ndarray of float
        Distance to that hospital in metres (NaN where none).
    """
    radius_m = settings.HOSPITAL_RADIUS_M if radius_m is None else float(radius_m)
    if radius_m <= 0:
        raise ValueError(f"`radius_m` must be positive, got {radius_m}.")
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ids = np.full(len(lon), None, dtype=object)
    dist = np.full(len(lon), np.nan)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if len(hospitals) == 0 or not ok.any():
        return ids, dist
    hx, hy, epsg = project(hospitals["lon"].to_numpy(float), hospitals["lat"].to_numpy(float))
    px, py, _ = project(lon[ok], lat[ok], epsg)
    d, j = cKDTree(np.column_stack([hx, hy])).query(np.column_stack([px, py]), distance_upper_bound=radius_m)
    within = np.isfinite(d)
    sub_ids = np.full(ok.sum(), None, dtype=object)
    sub_ids[within] = hospitals["hospital_id"].to_numpy()[j[within]]
    ids[ok] = sub_ids
    dist[ok] = np.where(within, d, np.nan)
    return ids, dist


def _norm(name: str) -> str:
    return re.sub(r"[\s（）()·]", "", str(name))


def match_hospital_names(values: pd.Series, hospitals: pd.DataFrame) -> pd.Series:
    """Hospital id for each text naming a hospital (short or full name, or an id), else None.

    Longer names are tried first, so "北京大学第一医院" does not match a shorter name it contains.
    """
    keys: list[tuple[str, str]] = []
    for row in hospitals.itertuples(index=False):
        for n in (row.hospital_id, row.name, getattr(row, "full_name", "")):
            if isinstance(n, str) and n:
                keys.append((_norm(n), row.hospital_id))
    keys.sort(key=lambda kv: -len(kv[0]))
    cache: dict[str, str | None] = {}

    def find(v: object) -> str | None:
        s = _norm(v) if isinstance(v, str) else ""
        if not s:
            return None
        if s not in cache:
            cache[s] = next((hid for k, hid in keys if k == s), None) or next(
                (hid for k, hid in keys if len(k) >= 4 and k in s), None
            )
        return cache[s]

    return values.map(find).astype(object)
