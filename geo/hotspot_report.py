"""One hotspot refresh: grid Gi*, clusters, time profiles and emerging categories, and its GeoJSON.

This is what the dashboard's hotspot page and ``python -m planning hotspots`` compute from
the incidents of a period; every number comes from :mod:`geo.hotspots`,
:mod:`geo.temporal` and :mod:`geo.spacetime`.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from core import settings
from geo._events import local_times, project_events
from geo.hotspots import GiStarResult, find_clusters, gi_star_grid
from geo.spacetime import EMERGING_LABELS_ZH, EmergingResult, emerging_hotspots
from geo.temporal import profiles_by, window_labels


@dataclass
class HotspotRefresh:
    """Everything a hotspot view shows for one period.

    Attributes
    ----------
    gi
        Grid Gi* result.
    clusters
        Density-based clusters (:func:`geo.hotspots.find_clusters`).
    hot_cells
        Significant hot cells with ``peak_windows``, ``category_mix`` and emerging ``category``.
    profiles
        Weekday × hour counts per hospital (long format).
    peak_windows
        Peak windows per hospital (``hospital_id -> list of "HH:MM-HH:MM"``).
    emerging
        Emerging hot spot result, or None when the period is under two months.
    """

    gi: GiStarResult
    clusters: gpd.GeoDataFrame
    hot_cells: gpd.GeoDataFrame
    profiles: pd.DataFrame
    peak_windows: dict[str, list[str]]
    emerging: EmergingResult | None


def _groups(keys: np.ndarray, values_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted order, unique keys and start offsets of each group of ``keys``."""
    order = np.argsort(keys, kind="stable")
    uniq, starts = np.unique(keys[order], return_index=True)
    return order, uniq, np.r_[starts, values_len]


def hotspot_refresh(
    events: pd.DataFrame,
    *,
    hospitals: pd.DataFrame | None = None,
    cell_size: float | None = None,
    emerging: bool = True,
) -> HotspotRefresh:
    """Compute Gi*, clusters, profiles, peak windows and (for ≥ 2 months) emerging categories.

    Parameters
    ----------
    events
        Incidents as returned by :func:`core.db.load_incidents`.
    hospitals
        Hospitals frame, used to name the hospital of clusters when incidents carry none.
    cell_size
        Grid cell edge in metres; default ``settings.GRID_SIZE_M``.
    emerging
        Whether to compute emerging hot spot categories.

    Notes
    -----
    Incidents flagged ``approximate`` (complaints placed at the hospital they name) have no
    location of their own: they are left out of Gi*, clusters and emerging categories, which
    would otherwise show a false hotspot on every hospital's reference point, but they count in
    the hospitals' time profiles and peak windows.
    """
    cell_size = settings.GRID_SIZE_M if cell_size is None else float(cell_size)
    all_events = events
    if "approximate" in events.columns:
        events = events[~events["approximate"].fillna(False).astype(bool).to_numpy()].reset_index(drop=True)
    if events.empty:
        raise ValueError("`events` holds no incident with its own location (all are approximate or none).")
    xy = project_events(events)
    x, y, _ = xy
    gi = gi_star_grid(events, cell_size=cell_size, xy=xy, cells="significant")
    clusters = find_clusters(events, hospitals=hospitals, xy=xy)
    cell_of = gi.grid.locate(x, y)
    hot = gi.hot.copy()
    hot_index = {cid: i for i, cid in enumerate(hot["cell_id"])}
    t = local_times(events)
    minutes = (t.dt.hour * 60 + t.dt.minute).to_numpy(dtype=float)
    cat_codes, cat_names = (None, None)
    if "category" in events.columns:
        cat_codes, cat_names = pd.factorize(events["category"].astype("string").fillna("其他"))
    windows: list[list[str]] = [[] for _ in range(len(hot))]
    mixes: list[dict] = [{} for _ in range(len(hot))]
    if len(hot):
        # Work on integer flat cell indices: string ids for a million events are slow.
        hot_flat = np.flatnonzero((gi.area & (np.nan_to_num(gi.p_fdr, nan=1.0) < gi.alpha)
                                   & (np.nan_to_num(gi.z) > 0)).ravel())
        is_hot = np.zeros(gi.grid.n_cells, dtype=bool)
        is_hot[hot_flat] = True
        sel = np.flatnonzero((cell_of >= 0) & is_hot[np.maximum(cell_of, 0)])
        order, uniq, bounds = _groups(cell_of[sel], sel.size)
        uniq_ids = gi.grid.cell_ids(uniq)
        for g, cid in enumerate(uniq_ids):
            members = sel[order[bounds[g]:bounds[g + 1]]]
            i = hot_index[str(cid)]
            windows[i] = window_labels(minutes[members])
            if cat_codes is not None:
                c = np.bincount(cat_codes[members], minlength=len(cat_names))
                mixes[i] = {str(cat_names[j]): int(c[j]) for j in np.flatnonzero(c)}
    hot["peak_windows"] = windows
    hot["category_mix"] = mixes
    em = None
    months = (t.dt.year * 12 + t.dt.month).to_numpy()
    if emerging and len(months) and months.min() != months.max():
        em = emerging_hotspots(events, grid=gi.grid, xy=xy)
        cat = em.table.set_index("cell_id")["category"]
        hot["emerging"] = hot["cell_id"].map(cat).fillna("no_pattern")
    else:
        hot["emerging"] = "no_pattern"
    hot["emerging_zh"] = hot["emerging"].map(EMERGING_LABELS_ZH)
    profiles = pd.DataFrame(columns=["hospital_id", "weekday", "hour", "count"])
    peaks: dict[str, list[str]] = {}
    if "hospital_id" in all_events.columns:
        profiles = profiles_by(all_events, by="hospital_id")
        t_all = local_times(all_events)
        minutes_all = (t_all.dt.hour * 60 + t_all.dt.minute).to_numpy(dtype=float)
        codes, names = pd.factorize(all_events["hospital_id"].astype("string"))
        ok = np.flatnonzero(codes >= 0)
        if ok.size:
            order, uniq, bounds = _groups(codes[ok], ok.size)
            for g, h in enumerate(uniq):
                members = ok[order[bounds[g]:bounds[g + 1]]]
                peaks[str(names[h])] = window_labels(minutes_all[members])
    return HotspotRefresh(gi=gi, clusters=clusters, hot_cells=hot, profiles=profiles, peak_windows=peaks,
                          emerging=em)


def _clean(v):
    """JSON-safe Python value."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple | np.ndarray):
        return [_clean(x) for x in v]
    if isinstance(v, np.bool_ | bool):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating | float):
        return None if not np.isfinite(v) else round(float(v), 6)
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if v is None or v is pd.NA:
        return None
    return v


def to_geojson(refresh: HotspotRefresh) -> dict:
    """WGS-84 GeoJSON FeatureCollection of clusters (``kind="cluster"``) and significant Gi* cells
    (``kind="gi_cell"``, hot and cold) with their properties."""
    features = []
    for row in refresh.clusters.itertuples(index=False):
        props = {"kind": "cluster", "cluster_id": row.cluster_id, "hospital_id": row.hospital_id, "count": row.count,
                 "lon": row.lon, "lat": row.lat, "category_mix": row.category_mix, "peak_windows": row.peak_windows,
                 "area_m2": row.area_m2}
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(row.geometry),
                         "properties": _clean(props)})
    sig = refresh.gi.cells[refresh.gi.cells["significant"]]
    hot = refresh.hot_cells.set_index("cell_id")
    for row in sig.itertuples(index=False):
        props = {"kind": "gi_cell", "cell_id": row.cell_id, "count": row.count, "z": row.z, "p": row.p,
                 "p_fdr": row.p_fdr, "bin": row.bin, "lon": row.lon, "lat": row.lat,
                 "peak_windows": [], "category_mix": {}, "emerging": "no_pattern",
                 "emerging_zh": EMERGING_LABELS_ZH["no_pattern"]}
        if row.cell_id in hot.index:
            h = hot.loc[row.cell_id]
            props.update({"peak_windows": h["peak_windows"], "category_mix": h["category_mix"],
                          "emerging": h["emerging"], "emerging_zh": h["emerging_zh"]})
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(row.geometry),
                         "properties": _clean(props)})
    return {"type": "FeatureCollection", "features": features,
            "properties": {"cell_size_m": refresh.gi.grid.cell_size, "fdr_alpha": refresh.gi.alpha}}


def hotspot_geojson(events: pd.DataFrame, *, hospitals: pd.DataFrame | None = None,
                    cell_size: float | None = None) -> dict:
    """:func:`hotspot_refresh` then :func:`to_geojson`."""
    return to_geojson(hotspot_refresh(events, hospitals=hospitals, cell_size=cell_size))
