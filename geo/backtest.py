"""Rolling-origin backtest of grid forecasts: hit rate, PAI and PEI* at fixed area coverages.

For each origin (the start of each of the last ``n_periods`` complete weeks or months) every
method is fitted on the events before the origin and ranks the cells of the study area; the
top ``c`` % of the area is "flagged". With ``n`` of the period's ``N`` events in the flagged
``a`` of ``A`` cells:

* hit rate = n / N;
* PAI = (n / N) / (a / A) (Chainey, Tompson & Uhlig 2008);
* PEI* = n / n*, where n* is the most events any ``a`` cells held (Hunt 2016, "PEI*").

Cells tied at the cut-off share it: they count with the fraction of the tie that fits, so
ties (common for naive counts) are scored by their expectation, not by an arbitrary order.
The study area is every grid cell within one cell of any recorded event (the same for all
methods); events in other cells are still in N. Metrics are averaged over the periods.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import ndimage

from geo.forecast import horizon_end
from geo.forecast_models import _NS_PER_DAY, METHODS, Points, day_number, make_model
from geo.grid import Grid

#: Area coverages (percent) reported by default.
COVERAGES: tuple[int, ...] = (1, 2, 5, 10)
#: Methods run by default, in report order (``poisson_stack``, the slow one, is opt-in here; the
#: command line runs every method).
DEFAULT_METHODS: tuple[str, ...] = ("naive_last", "kde_retrospective", "prospective", "sepp", "ensemble")
#: The baselines a method must beat to be worth using.
BASELINES: tuple[str, ...] = ("naive_last", "kde_retrospective")


def coverage_metrics(risk: np.ndarray, actual: np.ndarray, *, coverage: float, total: float | None = None) -> dict:
    """Hit rate, PAI and PEI* of one forecast over the study-area cells.

    Parameters
    ----------
    risk, actual
        Forecast risk and observed counts per study-area cell (1-D, same length).
    coverage
        Flagged share of the area in percent.
    total
        N, the period's events (default ``actual.sum()``; pass more to count events outside the area).
    """
    risk = np.asarray(risk, dtype=float)
    actual = np.asarray(actual, dtype=float)
    if risk.shape != actual.shape:
        raise ValueError(f"`risk` and `actual` must have the same shape, got {risk.shape} and {actual.shape}.")
    if not 0 < coverage <= 100:
        raise ValueError(f"`coverage` must be in (0, 100] percent, got {coverage!r}.")
    area = risk.size
    big_n = float(actual.sum() if total is None else total)
    k = max(1, round(area * coverage / 100.0))
    order = np.argsort(-risk, kind="stable")
    thr = risk[order[k - 1]]
    above = risk > thr
    tied = risk == thr
    n_above = int(above.sum())
    hits = actual[above].sum() + actual[tied].sum() * (k - n_above) / tied.sum()
    best = np.sort(actual)[::-1][:k].sum()
    hit_rate = hits / big_n if big_n > 0 else float("nan")
    return {
        "hit_rate": float(hit_rate),
        "pai": float(hit_rate / (k / area)) if big_n > 0 else float("nan"),
        "pei": float(hits / best) if best > 0 else float("nan"),
        "cells": k,
        "hits": float(hits),
    }


def rolling_origins(t_days: np.ndarray, *, horizon: str = "month", n_periods: int = 6) -> list[pd.Timestamp]:
    """Starts of the last ``n_periods`` complete periods (calendar months, or weeks from Monday) in the data."""
    if n_periods < 1:
        raise ValueError(f"`n_periods` must be at least 1, got {n_periods!r}.")
    if horizon not in ("week", "month"):
        raise ValueError(f"`horizon` must be 'week' or 'month', got {horizon!r}.")
    first = pd.Timestamp(int(np.min(t_days) * _NS_PER_DAY))
    end = pd.Timestamp(int(np.max(t_days) * _NS_PER_DAY)) + pd.Timedelta(minutes=1)
    if horizon == "month":
        o = end.normalize().replace(day=1)
        step = pd.DateOffset(months=1)
    else:
        o = end.normalize() - pd.Timedelta(days=end.day_of_week)
        step = pd.DateOffset(weeks=1)
    # The last period may end a day early: data sets often stop at the last day's last event.
    while horizon_end(o, horizon) > end + pd.Timedelta(days=1):
        o = o - step
    origins = []
    while len(origins) < n_periods and o > first:
        origins.append(o)
        o = o - step
    if not origins:
        raise ValueError("The data span no complete forecast period; use a shorter `horizon`.")
    return origins[::-1]


def study_area(grid: Grid, points: Points, *, buffer_cells: int = 1) -> np.ndarray:
    """Boolean ``(ny, nx)`` mask: cells within ``buffer_cells`` of any event."""
    counts = grid.counts(points.x, points.y)
    mask = counts > 0
    if buffer_cells > 0:
        mask = ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool), iterations=buffer_cells)
    return mask


@dataclass
class BacktestResult:
    """Backtest figures.

    Attributes
    ----------
    summary
        One row per method and coverage: ``method, coverage, hit_rate, pai, pei`` (means over periods).
    by_period
        The same per origin.
    origins
        Forecast origins.
    params
        Cell size, horizon, area size and run time per method.
    """

    summary: pd.DataFrame
    by_period: pd.DataFrame
    origins: list[pd.Timestamp]
    params: dict = field(default_factory=dict)

    def best_method(self, *, coverage: int = 5, metric: str = "pai") -> str:
        """Method with the highest mean ``metric`` at ``coverage``."""
        rows = self.summary[self.summary["coverage"] == coverage]
        return str(rows.loc[rows[metric].idxmax(), "method"])

    def to_dict(self) -> dict:
        """JSON-ready ``{"methods": {name: {"coverage": {"1": {...}}}}, "periods": N, ...}``."""
        methods: dict = {}
        for name, rows in self.summary.groupby("method", sort=False):
            methods[name] = {"coverage": {
                str(int(r.coverage)): {"hit_rate": _num(r.hit_rate), "pai": _num(r.pai), "pei": _num(r.pei)}
                for r in rows.itertuples()
            }, "seconds": round(float(self.params.get("seconds", {}).get(name, float("nan"))), 3)}
        out = {"methods": methods, "periods": len(self.origins),
               "origins": [o.strftime("%Y-%m-%d") for o in self.origins],
               "best_pai_5": self.best_method(coverage=5) if 5 in set(self.summary["coverage"]) else None}
        out.update({k: v for k, v in self.params.items() if k != "seconds"})
        return out


def _num(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 6)


def backtest(
    events: pd.DataFrame | Points,
    *,
    methods: tuple[str, ...] | list[str] | None = None,
    cell_size: float = 100.0,
    horizon: str = "month",
    n_periods: int = 6,
    coverages: tuple[int, ...] = COVERAGES,
    params: dict[str, dict] | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of grid forecast methods.

    Parameters
    ----------
    events
        Frame with ``lon``, ``lat``, ``received_at`` (or projected :class:`Points`).
    methods
        Method names (see :data:`geo.forecast_models.METHODS`); default :data:`DEFAULT_METHODS`.
    cell_size
        Grid cell edge in metres.
    horizon
        ``"week"`` or ``"month"``.
    n_periods
        Number of rolling origins (the last complete periods).
    coverages
        Area coverages in percent.
    params
        Optional keyword parameters per method name.

    Returns
    -------
    BacktestResult
    """
    methods = list(DEFAULT_METHODS if methods is None else methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}; expected some of {sorted(METHODS)}.")
    pts = events if isinstance(events, Points) else Points.from_events(events)
    if len(pts) == 0:
        raise ValueError("`events` holds no usable points (need lon, lat and a time).")
    grid = Grid.from_points(pts.x, pts.y, epsg=pts.epsg, cell_size=cell_size)
    area = study_area(grid, pts).ravel()
    cells = grid.locate(pts.x, pts.y)
    origins = rolling_origins(pts.t, horizon=horizon, n_periods=n_periods)
    params = params or {}
    rows = []
    seconds = dict.fromkeys(methods, 0.0)
    for origin in origins:
        t0, t1 = day_number(origin), day_number(horizon_end(origin, horizon))
        in_period = (pts.t >= t0) & (pts.t < t1)
        total = float(in_period.sum())
        actual = np.bincount(cells[in_period & (cells >= 0)], minlength=grid.n_cells)[area]
        for name in methods:
            start = time.perf_counter()
            model = make_model(name, **params.get(name, {})).fit(pts, grid=grid, until=origin)
            risk = model.predict(horizon=horizon).ravel()[area]
            seconds[name] += time.perf_counter() - start
            for c in coverages:
                m = coverage_metrics(risk, actual, coverage=c, total=total)
                rows.append({"origin": origin, "method": name, "coverage": c, "events": total, **m})
    by_period = pd.DataFrame(rows)
    summary = (by_period.groupby(["method", "coverage"], sort=False)[["hit_rate", "pai", "pei"]]
               .mean().reset_index())
    return BacktestResult(summary=summary, by_period=by_period, origins=origins, params={
        "cell_size": float(cell_size), "horizon": horizon, "area_cells": int(area.sum()),
        "events": len(pts), "epsg": grid.epsg, "seconds": seconds,
    })
