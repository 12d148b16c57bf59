"""Space–time patterns: near-repeat Knox table, ST-DBSCAN clusters, emerging hot spots.

Knox near-repeat table (Knox 1964; Ratcliffe's Near Repeat Calculator)
    Pairs of events are counted by distance band × time band. Under the null of no
    space–time interaction the times are exchangeable, so the expectation comes from Monte
    Carlo permutations of the times over the fixed locations (spatial pairs are found once with
    a KD-tree, only their time gaps change). ``expected`` is the permutation mean, ``ratio`` =
    observed / expected (the NRC's "Knox ratio"), ``p`` = (1 + #{sim ≥ obs}) / (1 + permutations).
    ``expected_exact`` is the closed-form permutation expectation S_d·T_τ / (n(n−1)/2).

ST-DBSCAN (Birant & Kut 2007)
    Two events are neighbours when they are within ``eps_m`` metres *and* ``eps_hours`` of each
    other; clusters are DBSCAN on that neighbourhood graph.

Emerging hot spots (after ArcGIS Pro "Emerging Hot Spot Analysis")
    Gi* is computed on the same grid for every month (FDR per month); a cell is a hot bin in a
    month when its z > 0 and it is significant. The Mann–Kendall test on the cell's monthly Gi*
    z-scores gives the trend of intensity. With T months, ``h`` hot months, "90 %" meaning
    ``h ≥ 0.9·T``, categories are checked in this order:

    ``new``           only the final month is hot;
    ``consecutive``   one uninterrupted run of ≥ 2 hot months ending at the final month, no hot
                      month before it, and fewer than 90 % hot;
    ``intensifying``  ≥ 90 % hot including the final month, significant upward trend;
    ``persistent``    ≥ 90 % hot including the final month, no significant trend;
    ``diminishing``   ≥ 90 % hot including the final month, significant downward trend;
    ``sporadic``      final month hot, < 90 % hot, never a significant cold month;
    ``oscillating``   final month hot, < 90 % hot, at least one significant cold month;
    ``historical``    final month not hot, ≥ 90 % of the months hot;
    ``no_pattern``    everything else (including cells never hot).

    Simplification: ArcGIS's space–time cube also counts neighbours in the previous time
    steps; here each month is its own spatial Gi* surface.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse, stats
from scipy.spatial import cKDTree
from sklearn.cluster import DBSCAN

from core import settings
from geo import crs
from geo._events import local_times, project_events
from geo.grid import Grid
from geo.hotspots import _projected, fdr_adjust, gi_star_cells, study_area_mask
from geo.temporal import window_labels

# --------------------------------------------------------------------------- Knox


@dataclass
class KnoxTable:
    """Near-repeat Knox table.

    Attributes
    ----------
    table
        One row per distance band × time band: ``distance_band, time_band, d_lo, d_hi (m), t_lo,
        t_hi (days), observed, expected, expected_exact, ratio, p``.
    n
        Number of events.
    permutations
        Monte Carlo permutations used.
    """

    table: pd.DataFrame
    n: int
    permutations: int
    params: dict = field(default_factory=dict)

    def observed(self) -> np.ndarray:
        """Observed counts as a (distance bands × time bands) array."""
        return self._grid("observed")

    def _grid(self, col: str) -> np.ndarray:
        nd = self.table["distance_band"].nunique()
        return self.table[col].to_numpy().reshape(nd, -1)


def _band_labels(edges: np.ndarray, unit: str) -> list[str]:
    return [f"{edges[i]:g}-{edges[i + 1]:g} {unit}" for i in range(edges.size - 1)]


def knox_table(
    events: pd.DataFrame,
    *,
    distance_bands_m=(0, 100, 200, 300, 400, 500),
    time_bands_days=(0, 7, 14, 21, 28),
    permutations: int = 99,
    random_state: int | None = 0,
) -> KnoxTable:
    """Knox near-repeat table with Monte Carlo inference.

    Parameters
    ----------
    events
        Frame with ``lon``, ``lat``, ``received_at``.
    distance_bands_m
        Increasing band edges in metres; a pair at distance ``d`` is in band ``[lo, hi)``.
    time_bands_days
        Increasing band edges in days; gap ``Δt`` in ``[lo, hi)``.
    permutations
        Number of random permutations of the times.
    random_state
        Seed of the permutations.

    Returns
    -------
    KnoxTable
    """
    d_edges = np.asarray(distance_bands_m, dtype=float)
    t_edges = np.asarray(time_bands_days, dtype=float)
    for name, e in (("distance_bands_m", d_edges), ("time_bands_days", t_edges)):
        if e.size < 2 or np.any(np.diff(e) <= 0) or e[0] < 0:
            raise ValueError(f"`{name}` must be at least two increasing non-negative edges, got {e.tolist()}.")
    if permutations < 1:
        raise ValueError(f"`permutations` must be at least 1, got {permutations!r}.")
    x, y, _ = project_events(events)
    t = local_times(events)
    ok = np.isfinite(x) & np.isfinite(y) & t.notna().to_numpy()
    x, y = x[ok], y[ok]
    days = t[ok].to_numpy().astype("datetime64[ns]").astype(np.int64) / 86400e9
    n = x.size
    nd, nt = d_edges.size - 1, t_edges.size - 1
    if n < 2:
        raise ValueError("`events` needs at least two events with coordinates and times.")
    tree = cKDTree(np.column_stack([x, y]))
    pairs = tree.query_pairs(r=float(d_edges[-1]), output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    dist = np.hypot(x[i] - x[j], y[i] - y[j])
    dband = np.searchsorted(d_edges, dist, side="right") - 1
    keep = (dband >= 0) & (dband < nd)
    i, j, dband = i[keep], j[keep], dband[keep]

    def counts(tt: np.ndarray) -> np.ndarray:
        gap = np.abs(tt[i] - tt[j])
        tband = np.searchsorted(t_edges, gap, side="right") - 1
        ok_t = (tband >= 0) & (tband < nt)
        return np.bincount(dband[ok_t] * nt + tband[ok_t], minlength=nd * nt).reshape(nd, nt).astype(float)

    observed = counts(days)
    rng = np.random.default_rng(random_state)
    sims = np.empty((permutations, nd, nt))
    for k in range(permutations):
        sims[k] = counts(days[rng.permutation(n)])
    expected = sims.mean(axis=0)
    p = (1.0 + (sims >= observed[None]).sum(axis=0)) / (1.0 + permutations)
    # Exact permutation expectation: spatial pairs per band × share of all time pairs in each time band.
    s_d = np.bincount(dband, minlength=nd).astype(float)
    sorted_days = np.sort(days)
    t_pairs = np.array([_pairs_within(sorted_days, t_edges[b + 1]) - _pairs_within(sorted_days, t_edges[b])
                        for b in range(nt)], dtype=float)
    exact = s_d[:, None] * t_pairs[None, :] / (n * (n - 1) / 2.0)
    d_lab, t_lab = _band_labels(d_edges, "m"), _band_labels(t_edges, "d")
    rows = []
    for a in range(nd):
        for b in range(nt):
            e = expected[a, b]
            rows.append({
                "distance_band": d_lab[a], "time_band": t_lab[b],
                "d_lo": d_edges[a], "d_hi": d_edges[a + 1], "t_lo": t_edges[b], "t_hi": t_edges[b + 1],
                "observed": observed[a, b], "expected": e, "expected_exact": exact[a, b],
                "ratio": observed[a, b] / e if e > 0 else float("nan"), "p": p[a, b],
            })
    return KnoxTable(table=pd.DataFrame(rows), n=int(n), permutations=int(permutations),
                     params={"random_state": random_state})


def _pairs_within(sorted_t: np.ndarray, gap: float) -> int:
    """Number of pairs with time gap strictly below ``gap`` (for ``gap=0``: none)."""
    if gap <= 0:
        return 0
    hi = np.searchsorted(sorted_t, sorted_t + gap, side="left")
    return int((hi - np.arange(sorted_t.size) - 1).sum())


# --------------------------------------------------------------------------- ST-DBSCAN

STCLUSTER_COLUMNS = ["cluster_id", "hospital_id", "count", "lon", "lat", "start", "end", "peak_windows",
                     "category_mix", "geometry"]


def st_dbscan(
    events: pd.DataFrame,
    *,
    eps_m: float = 100.0,
    eps_hours: float = 72.0,
    min_samples: int = 5,
) -> tuple[np.ndarray, gpd.GeoDataFrame]:
    """Space–time DBSCAN clusters (separate space and time thresholds).

    Parameters
    ----------
    events
        Frame with ``lon``, ``lat``, ``received_at``; optional ``category``, ``hospital_id``.
    eps_m, eps_hours
        Two events are neighbours when within both thresholds.
    min_samples
        Neighbours (the event included) for a core event.

    Returns
    -------
    labels, clusters
        Cluster label per event (-1 noise) and a GeoDataFrame (EPSG:4326) per cluster, largest
        first: ``cluster_id, hospital_id, count, lon, lat, start, end, peak_windows,
        category_mix, geometry`` (convex hull, or a small disc around coincident points).
    """
    if eps_m <= 0 or eps_hours <= 0:
        raise ValueError(f"`eps_m` and `eps_hours` must be positive, got {eps_m!r} and {eps_hours!r}.")
    if min_samples < 1:
        raise ValueError(f"`min_samples` must be at least 1, got {min_samples!r}.")
    empty = gpd.GeoDataFrame({c: [] for c in STCLUSTER_COLUMNS[:-1]}, geometry=[], crs="EPSG:4326")
    labels = np.full(len(events), -1, dtype=np.int64)
    if len(events) == 0:
        return labels, empty
    x, y, epsg = project_events(events)
    times = local_times(events)
    hours = times.to_numpy().astype("datetime64[ns]").astype(np.int64) / 3600e9
    ok = np.isfinite(x) & np.isfinite(y) & times.notna().to_numpy()
    pos = np.flatnonzero(ok)
    xs, ys, hs = x[ok], y[ok], hours[ok]
    n = xs.size
    # Scaled 3-D coordinates: both thresholds become 1, so candidates lie within √2.
    tree = cKDTree(np.column_stack([xs / eps_m, ys / eps_m, hs / eps_hours]))
    pairs = tree.query_pairs(r=np.sqrt(2.0) + 1e-9, output_type="ndarray")
    if pairs.size:
        i, j = pairs[:, 0], pairs[:, 1]
        near = (np.hypot(xs[i] - xs[j], ys[i] - ys[j]) <= eps_m) & (np.abs(hs[i] - hs[j]) <= eps_hours)
        i, j = i[near], j[near]
    else:
        i = j = np.zeros(0, dtype=np.int64)
    # Precomputed neighbourhoods: stored entries at distance 0.5 ≤ eps=1 are neighbours.
    graph = sparse.csr_matrix((np.full(2 * i.size, 0.5), (np.r_[i, j], np.r_[j, i])), shape=(n, n))
    lab = DBSCAN(eps=1.0, min_samples=min_samples, metric="precomputed").fit(graph).labels_
    if (lab < 0).all():
        return labels, empty
    sizes = np.bincount(lab[lab >= 0])
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    lab = np.where(lab >= 0, rank[np.maximum(lab, 0)], -1)
    labels[pos] = lab
    t_ok = times[ok].reset_index(drop=True)
    minutes = (t_ok.dt.hour * 60 + t_ok.dt.minute).to_numpy(dtype=float)
    cats = events["category"].astype("string").to_numpy()[ok] if "category" in events.columns else None
    hosp = events["hospital_id"].astype("string").to_numpy()[ok] if "hospital_id" in events.columns else None
    rows, hulls = [], []
    for cid in range(order.size):
        m = lab == cid
        hull = shapely.MultiPoint(np.column_stack([xs[m], ys[m]])).convex_hull
        if hull.area <= 0:
            hull = hull.buffer(max(eps_m / 4.0, 5.0))
        hulls.append(hull)
        lon_c, lat_c = crs.unproject(np.array([xs[m].mean()]), np.array([ys[m].mean()]), epsg)
        mix = {} if cats is None else {str(k): int(v) for k, v in pd.Series(cats[m]).fillna("其他").value_counts().items()}
        h_id = None
        if hosp is not None:
            vc = pd.Series(hosp[m]).dropna().value_counts()
            h_id = str(vc.index[0]) if len(vc) else None
        rows.append({
            "cluster_id": cid, "hospital_id": h_id, "count": int(m.sum()),
            "lon": float(lon_c[0]), "lat": float(lat_c[0]),
            "start": t_ok[m].min(), "end": t_ok[m].max(),
            "peak_windows": window_labels(minutes[m]), "category_mix": mix,
        })
    geoms = gpd.GeoSeries(hulls, crs=f"EPSG:{epsg}").to_crs("EPSG:4326")
    frame = gpd.GeoDataFrame(pd.DataFrame(rows, columns=STCLUSTER_COLUMNS[:-1]), geometry=geoms.values,
                             crs="EPSG:4326")
    return labels, frame


# --------------------------------------------------------------------------- emerging hot spots

EMERGING_CATEGORIES: tuple[str, ...] = ("new", "consecutive", "intensifying", "persistent", "diminishing",
                                        "sporadic", "oscillating", "historical", "no_pattern")
#: Chinese names of the categories, for what users see.
EMERGING_LABELS_ZH: dict[str, str] = {
    "new": "新增热点", "consecutive": "连续热点", "intensifying": "加强热点", "persistent": "持续热点",
    "diminishing": "减弱热点", "sporadic": "零散热点", "oscillating": "振荡热点", "historical": "历史热点",
    "no_pattern": "无模式",
}


def classify_series(hot: np.ndarray, cold: np.ndarray, trend: str) -> str:
    """Emerging-hotspot category of one cell from its per-period hot/cold flags and MK trend.

    Parameters
    ----------
    hot, cold
        Boolean flags per period, in time order (significant hot / cold).
    trend
        ``"up"``, ``"down"`` or ``"none"`` (Mann–Kendall on the Gi* z-scores).
    """
    hot = np.asarray(hot, dtype=bool)
    cold = np.asarray(cold, dtype=bool)
    n = hot.size
    if n == 0 or not hot.any():
        return "no_pattern"
    share = hot.sum() / n
    final = bool(hot[-1])
    mostly = share >= 0.9
    if final:
        if hot.sum() == 1:
            return "new"
        run = n - (np.flatnonzero(~hot)[-1] + 1) if (~hot).any() else n
        if run >= 2 and hot.sum() == run and not mostly:
            return "consecutive"
        if mostly:
            return {"up": "intensifying", "down": "diminishing"}.get(trend, "persistent")
        return "oscillating" if cold.any() else "sporadic"
    if mostly:
        return "historical"
    return "no_pattern"


@dataclass
class EmergingResult:
    """Emerging hot spot categories per cell.

    Attributes
    ----------
    cells
        GeoDataFrame (EPSG:4326) of the cells with a pattern (category other than
        ``no_pattern``): ``cell_id, lon, lat, count, category, category_zh, n_hot, final_z, mk_z,
        mk_p, trend, geometry``.
    table
        The same columns without geometry for every study-area cell with an incident.
    periods
        Period start timestamps (months).
    z
        Gi* z per period and reported cell, shape ``(T, len(table))``.
    cell_index
        Flat grid index of each reported cell (the rows of ``table``).
    grid
        The grid.
    """

    cells: gpd.GeoDataFrame
    table: pd.DataFrame
    periods: list[pd.Timestamp]
    z: np.ndarray
    cell_index: np.ndarray
    grid: Grid


def _mk_many(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mann–Kendall z and two-sided p for each column of ``series`` (T × m), no tie correction."""
    t_len = series.shape[0]
    s = np.zeros(series.shape[1])
    for a in range(t_len - 1):
        s += np.sign(series[a + 1:] - series[a]).sum(axis=0)
    var = t_len * (t_len - 1) * (2 * t_len + 5) / 18.0
    z = np.where(s != 0, (s - np.sign(s)) / np.sqrt(var), 0.0) if var > 0 else np.zeros_like(s)
    return z, 2 * stats.norm.sf(np.abs(z))


def emerging_hotspots(
    events: pd.DataFrame,
    *,
    cell_size: float | None = None,
    start=None,
    end=None,
    alpha: float | None = None,
    trend_alpha: float = 0.05,
    area: str | np.ndarray = "occupied",
    grid: Grid | None = None,
    inference: str = "normal",
    xy: tuple[np.ndarray, np.ndarray, int] | None = None,
) -> EmergingResult:
    """Emerging hot spot category per grid cell from monthly Gi* and the Mann–Kendall trend.

    Parameters
    ----------
    events
        Frame with ``lon``, ``lat``, ``received_at``.
    cell_size
        Grid cell edge (metres); default ``settings.GRID_SIZE_M``.
    start, end
        First and last month (default: those of the data).
    alpha
        FDR level for a significant month; default ``settings.GI_FDR_ALPHA``.
    trend_alpha
        Significance level of the Mann–Kendall trend.
    area
        Study area, as in :func:`geo.hotspots.gi_star_grid` (default: cells with an incident in
        any month, the same cells every month).
    grid
        Grid to use (default fitted to the events).
    inference
        Gi* p-values per month, ``"exact"`` or ``"normal"`` (see :func:`geo.hotspots.gi_star_cells`).
    xy
        Precomputed ``(x, y, epsg)`` projection of ``events``.
    """
    alpha = settings.GI_FDR_ALPHA if alpha is None else float(alpha)
    cell_size = settings.GRID_SIZE_M if cell_size is None else float(cell_size)
    x, y, epsg = _projected(events, xy, grid)
    if grid is None:
        grid = Grid.from_points(x, y, epsg=epsg, cell_size=cell_size, margin_cells=2)
    t = local_times(events)
    # Integer month numbers (year * 12 + month - 1): Period objects are slow for a million rows.
    month_arr = (t.dt.year * 12 + t.dt.month - 1).to_numpy()
    lo = _month_number(start) if start is not None else int(np.nanmin(month_arr))
    hi = _month_number(end) if end is not None else int(np.nanmax(month_arr))
    periods = list(range(lo, hi + 1))
    if not periods:
        raise ValueError("No month between `start` and `end`.")
    total = grid.counts(x, y)
    mask = study_area_mask(total, area)
    keep = np.flatnonzero(mask.ravel())  # sorted flat indices of the study area
    pos = np.full(grid.n_cells, -1, dtype=np.int64)
    pos[keep] = np.arange(keep.size)
    cell_of = grid.locate(x, y)
    area_pos = np.where(cell_of >= 0, pos[np.maximum(cell_of, 0)], -1)
    zs = np.zeros((len(periods), keep.size))
    hs = np.zeros_like(zs, dtype=bool)
    cs = np.zeros_like(zs, dtype=bool)
    for k, per in enumerate(periods):
        m = (month_arr == per) & (area_pos >= 0)
        vals = np.bincount(area_pos[m], minlength=keep.size).astype(float)
        z, p = gi_star_cells(keep, vals, (grid.ny, grid.nx), inference=inference)
        sig = fdr_adjust(p) < alpha
        zs[k] = z
        hs[k] = sig & (z > 0)
        cs[k] = sig & (z < 0)
    # Report cells with at least one incident (a buffered study area may hold empty cells).
    occupied = total.ravel()[keep] > 0
    keep, zs, hs, cs = keep[occupied], zs[:, occupied], hs[:, occupied], cs[:, occupied]
    mk_z, mk_p = _mk_many(zs)
    trend = np.where(mk_p < trend_alpha, np.where(mk_z > 0, "up", "down"), "none")
    cats = np.full(keep.size, "no_pattern", dtype=object)
    for c in np.flatnonzero(hs.any(axis=0)):  # cells never hot have no pattern
        cats[c] = classify_series(hs[:, c], cs[:, c], trend[c])
    cats = cats.tolist()
    table = pd.DataFrame({
        "cell_id": grid.cell_ids(keep), "count": total.ravel()[keep], "category": cats,
        "category_zh": [EMERGING_LABELS_ZH[c] for c in cats], "n_hot": hs.sum(axis=0),
        "final_z": zs[-1], "mk_z": mk_z, "mk_p": mk_p, "trend": trend,
    })
    patterned = np.flatnonzero(table["category"].to_numpy() != "no_pattern")
    centres = grid.bounds_wgs84(keep[patterned])
    data = table.iloc[patterned].drop(columns="cell_id").reset_index(drop=True)
    data.insert(0, "lat", centres["lat"].to_numpy())
    data.insert(0, "lon", centres["lon"].to_numpy())
    starts = [pd.Timestamp(year=p // 12, month=p % 12 + 1, day=1) for p in periods]
    return EmergingResult(cells=grid.to_geodataframe(data, keep[patterned]), table=table, periods=starts,
                          z=zs, cell_index=keep, grid=grid)


def _month_number(value) -> int:
    t = pd.Timestamp(value)
    return t.year * 12 + t.month - 1

