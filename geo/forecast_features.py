"""Per-cell features of past counts for learned grid forecasts (no smoothing of the own cell).

:func:`cell_features` describes every grid cell at a forecast origin from the events before
it only: own-cell counts over several windows (1, 3, 6, 12 months and all history), decayed
counts (near-repeat and long memory), recency, counts of the two rings of neighbouring cells and of a wider ring (3–4 cells away),
and the same period one year earlier (seasonality). The matrix is what
:class:`geo.forecast_models.GradientBoostedCounts` learns from; it is built with bincounts and
small convolutions, so one origin costs milliseconds even on a city-wide grid.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from geo.grid import Grid

#: Own-cell count windows in days (None = all history).
WINDOWS: tuple[float | None, ...] = (30.0, 91.0, 182.0, 365.0, None)
#: Half-lives (days) of the decayed own-cell counts: near repeats (7, 30) and long memory (180, 730).
HALF_LIVES: tuple[float, ...] = (7.0, 30.0, 180.0, 730.0)

_RING1 = np.ones((3, 3))
_RING1[1, 1] = 0.0
_RING2 = np.ones((5, 5))
_RING2[1:4, 1:4] = 0.0
_RING_WIDE = np.ones((9, 9))
_RING_WIDE[2:7, 2:7] = 0.0


def feature_names() -> list[str]:
    """Column names of :func:`cell_features`, in order."""
    names = [f"own_{'all' if w is None else int(w)}d" for w in WINDOWS]
    names += [f"own_decay_{int(h)}d" for h in HALF_LIVES]
    names += ["days_since_last", "ring1_365d", "ring2_365d", "ring1_all", "ring2_all", "ring_wide_all",
              "ring1_decay_30d",
              "own_last_year_period", "ring1_last_year_period", "city_season_ratio"]
    return names


def cell_features(grid: Grid, cells: np.ndarray, times: np.ndarray, origin: float, length_days: float,
                  *, first_day: float | None = None) -> np.ndarray:
    """Feature matrix ``(n_cells, n_features)`` of every grid cell at ``origin``.

    Parameters
    ----------
    grid
        The grid; ``cells`` are flat indices into it.
    cells, times
        Cell index and time (days since the epoch) of each event; events at or after
        ``origin`` are ignored, so the features cannot see the forecast period.
    origin
        Forecast origin (days since the epoch).
    length_days
        Length of the forecast period (the seasonal features look at the same period a year earlier).
    first_day
        Start of the record (default: the first event); all-history rates are per day since then.

    Returns
    -------
    numpy.ndarray
        Rates per day (counts divided by the window), decayed counts, recency in days and the
        city-wide seasonal ratio, as columns named by :func:`feature_names`.
    """
    past = times < origin
    c, t = cells[past], times[past]
    n = grid.n_cells
    age = origin - t
    start = float(np.min(times)) if first_day is None else float(first_day)
    span_all = max(origin - start, 1.0)
    cols: list[np.ndarray] = []

    def count(mask: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        cc = c if mask is None else c[mask]
        return np.bincount(cc, weights=weights, minlength=n).astype(float)

    windows = {}
    for w in WINDOWS:
        if w is None:
            windows[w] = count() / span_all
        else:
            windows[w] = count(age <= w) / min(w, span_all)
        cols.append(windows[w])
    for h in HALF_LIVES:
        cols.append(count(weights=np.exp(-np.log(2.0) * age / h)))
    last = np.full(n, np.nan)
    if c.size:
        latest = np.full(n, -np.inf)
        np.maximum.at(latest, c, t)
        seen = np.isfinite(latest)
        last[seen] = origin - latest[seen]
    last[np.isnan(last)] = span_all + 365.0  # never seen: older than the record
    cols.append(last)

    def ring(values: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return ndimage.correlate(values.reshape(grid.ny, grid.nx), kernel, mode="constant").ravel()

    cols += [ring(windows[365.0], _RING1), ring(windows[365.0], _RING2),
             ring(windows[None], _RING1), ring(windows[None], _RING2), ring(windows[None], _RING_WIDE)]
    cols.append(ring(count(age <= 120, np.exp(-np.log(2.0) * age[age <= 120] / 30.0)), _RING1))
    # Seasonality: the same period one year earlier, own cell and first ring, and the city-wide
    # ratio of that period's count to the average period of that year.
    a0, a1 = 365.0 - length_days, 365.0
    same = (age > a0) & (age <= a1)
    own_ly = count(same)
    cols += [own_ly, ring(own_ly, _RING1)]
    year = age <= 365.0
    ratio = (same.sum() / max(length_days, 1.0)) / (year.sum() / 365.0) if year.sum() and span_all >= 365 else 1.0
    cols.append(np.full(n, float(ratio)))
    return np.column_stack(cols)
