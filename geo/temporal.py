"""When trouble concentrates: hour × weekday profiles, peak windows, uniformity and trend tests.

Peak windows follow the highest-density-region idea used for circular time data: the day
is cut into bins of ``resolution_min`` minutes, the busiest bins are taken until they hold
``share`` of the incidents (the smallest total time that does so), neighbouring picks
separated by at most ``merge_gap_min`` are joined, and if more than ``max_windows`` remain
the two closest are joined until they fit. Windows are circular: ``"23:30-01:00"`` wraps
past midnight. Each returned window set therefore holds at least ``share`` of incidents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from core import settings
from geo._events import local_times

MINUTES_PER_DAY = 1440


def hour_weekday_profile(events: pd.DataFrame, *, weights: np.ndarray | None = None) -> pd.DataFrame:
    """Counts of incidents per weekday (rows 0=Monday..6) and hour of day (columns 0..23).

    Parameters
    ----------
    events
        Frame with a ``received_at`` column (local wall-clock time is used).
    weights
        Optional weight per event (e.g. severity); default counts.

    Returns
    -------
    pandas.DataFrame
        7 × 24 table of floats indexed by ``weekday``, columns named ``hour``.
    """
    t = local_times(events)
    idx = (t.dt.day_of_week.to_numpy() * 24 + t.dt.hour.to_numpy()).astype(np.int64)
    w = None if weights is None else np.asarray(weights, dtype=float)
    counts = np.bincount(idx, weights=w, minlength=168).astype(float).reshape(7, 24)
    out = pd.DataFrame(counts, index=pd.RangeIndex(7, name="weekday"), columns=pd.RangeIndex(24, name="hour"))
    return out


def minute_of_day(events: pd.DataFrame) -> np.ndarray:
    """Minute of the (wall-clock) day of each event, as floats in [0, 1440)."""
    t = local_times(events)
    return (t.dt.hour * 60 + t.dt.minute + t.dt.second / 60.0).to_numpy(dtype=float)


def _fmt(minute: int) -> str:
    minute = int(minute)
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _resolution(resolution_min: int | None, n: int) -> int:
    """Bin width: as given, else ``settings.PEAK_RESOLUTION_MIN`` coarsened for small samples.

    A handful of incidents in 15-minute bins gives scattered one-bin "windows"; below 200
    incidents 30-minute bins and below 50 one-hour bins keep the windows readable.
    """
    if resolution_min is not None:
        return int(resolution_min)
    base = int(settings.PEAK_RESOLUTION_MIN)
    if n < 50:
        return max(base, 60)
    if n < 200:
        return max(base, 30)
    return base


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Circular runs of True as (start_bin, length) pairs."""
    nb = mask.size
    if mask.all():
        return [(0, nb)]
    if not mask.any():
        return []
    # Start scanning just after a False bin so that no run is cut at the array end.
    shift = int(np.flatnonzero(~mask)[0]) + 1
    rolled = np.roll(mask, -shift)
    runs = []
    i = 0
    while i < nb:
        if rolled[i]:
            j = i
            while j < nb and rolled[j]:
                j += 1
            runs.append(((i + shift) % nb, j - i))
            i = j
        else:
            i += 1
    return runs


def peak_window_table(
    minutes: np.ndarray,
    *,
    share: float | None = None,
    resolution_min: int | None = None,
    merge_gap_min: int = 30,
    max_windows: int = 3,
    weights: np.ndarray | None = None,
) -> pd.DataFrame:
    """Peak windows of minute-of-day values with their counts.

    Parameters
    ----------
    minutes
        Minute of day of each event (see :func:`minute_of_day`).
    share
        Share of incidents the windows must hold together; default ``settings.PEAK_SHARE``.
    resolution_min
        Bin width in minutes (must divide 1440); default ``settings.PEAK_RESOLUTION_MIN``
        (15), coarsened to 30 below 200 and to 60 below 50 incidents.
    merge_gap_min
        Picked bins separated by at most this many minutes are joined into one window.
    max_windows
        At most this many windows are returned (closest windows are joined).
    weights
        Optional weight per event.

    Returns
    -------
    pandas.DataFrame
        One row per window, ordered by start: ``window`` ("HH:MM-HH:MM"), ``start_min``,
        ``end_min`` (may exceed 1440 when wrapping), ``minutes``, ``count``, ``share``.
    """
    share = settings.PEAK_SHARE if share is None else float(share)
    res = _resolution(resolution_min, np.size(minutes))
    if not 0 < share <= 1:
        raise ValueError(f"`share` must be in (0, 1], got {share!r}.")
    if res <= 0 or MINUTES_PER_DAY % res:
        raise ValueError(f"`resolution_min` must be a positive divisor of 1440, got {res!r}.")
    if max_windows < 1:
        raise ValueError(f"`max_windows` must be at least 1, got {max_windows!r}.")
    cols = ["window", "start_min", "end_min", "minutes", "count", "share"]
    return pd.DataFrame(_peak_rows(minutes, share=share, res=res, merge_gap_min=merge_gap_min,
                                   max_windows=max_windows, weights=weights), columns=cols)


def _peak_rows(minutes: np.ndarray, *, share: float, res: int, merge_gap_min: int, max_windows: int,
               weights: np.ndarray | None = None) -> list[tuple]:
    """Rows of :func:`peak_window_table` as tuples (no DataFrame: called per cluster and per cell)."""
    minutes = np.asarray(minutes, dtype=float)
    ok = np.isfinite(minutes)
    w = np.ones(minutes.shape) if weights is None else np.asarray(weights, dtype=float)
    minutes, w = minutes[ok], w[ok]
    total = float(w.sum())
    if total <= 0:
        return []
    nb = MINUTES_PER_DAY // res
    b = (np.floor(minutes / res).astype(np.int64)) % nb
    counts = np.bincount(b, weights=w, minlength=nb)
    order = np.argsort(-counts, kind="stable")
    cum = np.cumsum(counts[order])
    m = int(np.searchsorted(cum, share * total - 1e-9)) + 1
    mask = np.zeros(nb, dtype=bool)
    mask[order[:m]] = True
    # Join picks separated by short gaps: a window with a one-bin hole reads as one window.
    gap_bins = max(int(merge_gap_min) // res, 0)
    for start, length in _runs(~mask):
        if length <= gap_bins and length < nb:
            mask[(start + np.arange(length)) % nb] = True
    runs = _runs(mask)
    while len(runs) > max_windows:
        gaps = _runs(~mask)
        start, length = min(gaps, key=lambda g: g[1])
        mask[(start + np.arange(length)) % nb] = True
        runs = _runs(mask)
    rows = []
    for start, length in sorted(runs):
        bins = (start + np.arange(length)) % nb
        c = float(counts[bins].sum())
        s_min, e_min = start * res, (start + length) * res
        end_label = "24:00" if e_min == MINUTES_PER_DAY else _fmt(e_min % MINUTES_PER_DAY)
        rows.append((f"{_fmt(s_min)}-{end_label}", s_min, e_min, length * res, c, c / total))
    return rows


def window_labels(minutes: np.ndarray, *, share: float | None = None, resolution_min: int | None = None,
                  merge_gap_min: int = 30, max_windows: int = 3) -> list[str]:
    """Peak windows of minute-of-day values as ``"HH:MM-HH:MM"`` labels (fast path of :func:`peak_window_table`)."""
    share = settings.PEAK_SHARE if share is None else float(share)
    res = _resolution(resolution_min, np.size(minutes))
    if not 0 < share <= 1:
        raise ValueError(f"`share` must be in (0, 1], got {share!r}.")
    if res <= 0 or MINUTES_PER_DAY % res:
        raise ValueError(f"`resolution_min` must be a positive divisor of 1440, got {res!r}.")
    return [r[0] for r in _peak_rows(minutes, share=share, res=res, merge_gap_min=merge_gap_min,
                                     max_windows=max_windows)]


def peak_windows(
    events: pd.DataFrame,
    *,
    share: float | None = None,
    resolution_min: int | None = None,
    merge_gap_min: int = 30,
    max_windows: int = 3,
) -> list[str]:
    """Shortest time-of-day windows holding ``share`` of the incidents (weekday-agnostic).

    Parameters
    ----------
    events
        Frame with ``received_at``.
    share, resolution_min, merge_gap_min, max_windows
        See :func:`peak_window_table`.

    Returns
    -------
    list of str
        Windows as ``"HH:MM-HH:MM"`` ordered by start time; empty for no events.
    """
    if len(events) == 0:
        return []
    table = peak_window_table(minute_of_day(events), share=share, resolution_min=resolution_min,
                              merge_gap_min=merge_gap_min, max_windows=max_windows)
    return table["window"].tolist()


@dataclass(frozen=True)
class UniformityTest:
    """Pearson chi-square test that counts are spread evenly over the bins.

    Attributes
    ----------
    statistic, p, dof
        Chi-square statistic, p-value and degrees of freedom.
    counts
        Observed count per bin.
    """

    statistic: float
    p: float
    dof: int
    counts: np.ndarray

    @property
    def uniform_rejected(self) -> bool:
        """True when uniformity is rejected at the 5 % level."""
        return self.p < 0.05


def hour_uniformity_test(events: pd.DataFrame, *, by: str = "hour") -> UniformityTest:
    """Chi-square test that incidents are uniform over hours of day (``by="hour"``) or weekdays (``"weekday"``)."""
    if by not in ("hour", "weekday"):
        raise ValueError(f"`by` must be 'hour' or 'weekday', got {by!r}.")
    t = local_times(events)
    k = 24 if by == "hour" else 7
    values = t.dt.hour.to_numpy() if by == "hour" else t.dt.day_of_week.to_numpy()
    counts = np.bincount(values.astype(np.int64), minlength=k).astype(float)
    if counts.sum() == 0:
        return UniformityTest(statistic=float("nan"), p=float("nan"), dof=k - 1, counts=counts)
    res = stats.chisquare(counts)
    return UniformityTest(statistic=float(res.statistic), p=float(res.pvalue), dof=k - 1, counts=counts)


@dataclass(frozen=True)
class MannKendall:
    """Mann–Kendall monotonic trend test with tie-corrected variance and Sen's slope.

    Attributes
    ----------
    s, var_s, z, p
        MK statistic S, its variance, the continuity-corrected z and the two-sided p-value.
    tau
        Kendall's tau-a of the series against time order.
    slope
        Theil–Sen slope (units per time step).
    n
        Length of the series.
    """

    s: float
    var_s: float
    z: float
    p: float
    tau: float
    slope: float
    n: int

    def trend(self, alpha: float = 0.05) -> str:
        """``"up"``, ``"down"`` or ``"none"`` at level ``alpha``."""
        if not np.isfinite(self.p) or self.p >= alpha:
            return "none"
        return "up" if self.z > 0 else "down"


def mann_kendall(values: np.ndarray) -> MannKendall:
    """Mann–Kendall trend test of a series in time order (Mann 1945; Kendall 1975).

    Variance uses the tie correction ``(n(n-1)(2n+5) - Σ t(t-1)(2t+5)) / 18``.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    if n < 3:
        return MannKendall(s=0.0, var_s=0.0, z=0.0, p=1.0, tau=0.0, slope=0.0, n=n)
    i, j = np.triu_indices(n, k=1)
    diff = x[j] - x[i]
    s = float(np.sign(diff).sum())
    _, ties = np.unique(x, return_counts=True)
    var_s = (n * (n - 1) * (2 * n + 5) - float((ties * (ties - 1) * (2 * ties + 5)).sum())) / 18.0
    z = 0.0 if var_s <= 0 else (s - np.sign(s)) / np.sqrt(var_s)
    p = float(2 * stats.norm.sf(abs(z)))
    slope = float(np.median(diff / (j - i)))
    return MannKendall(s=s, var_s=var_s, z=float(z), p=p, tau=s / (n * (n - 1) / 2), slope=slope, n=n)


@dataclass(frozen=True)
class MonthlyTrend:
    """Monthly counts with a Mann–Kendall trend test.

    Attributes
    ----------
    counts
        Incidents per calendar month (index: month start timestamps, gaps filled with 0).
    test
        :class:`MannKendall` result on ``counts``.
    """

    counts: pd.Series
    test: MannKendall

    @property
    def direction(self) -> str:
        """``"up"``, ``"down"`` or ``"none"`` at the 5 % level."""
        return self.test.trend()


def monthly_trend(events: pd.DataFrame, *, start=None, end=None) -> MonthlyTrend:
    """Incidents per month and their Mann–Kendall trend.

    Parameters
    ----------
    events
        Frame with ``received_at``.
    start, end
        Optional first and last month to include (so months with no events count as 0).
    """
    t = local_times(events)
    months = t.dt.to_period("M")
    counts = months.value_counts().sort_index()
    lo = pd.Period(start, "M") if start is not None else (counts.index.min() if len(counts) else None)
    hi = pd.Period(end, "M") if end is not None else (counts.index.max() if len(counts) else None)
    if lo is None or hi is None:
        series = pd.Series(dtype=float, name="count")
    else:
        full = pd.period_range(lo, hi, freq="M")
        series = counts.reindex(full, fill_value=0).astype(float)
        series.index = full.to_timestamp()
        series.name = "count"
    return MonthlyTrend(counts=series, test=mann_kendall(series.to_numpy()))


def profiles_by(events: pd.DataFrame, *, by: str = "hospital_id") -> pd.DataFrame:
    """Weekday × hour counts for every value of column ``by`` (long format, fast for millions of rows).

    Returns
    -------
    pandas.DataFrame
        Columns ``<by>, weekday, hour, count``; 168 rows per group, rows with a missing ``by`` dropped.
    """
    if by not in events.columns:
        raise ValueError(f"`by` column {by!r} is not in `events` (columns: {list(events.columns)}).")
    t = local_times(events)
    keys = events[by].astype("string")
    ok = keys.notna().to_numpy()
    codes, uniques = pd.factorize(keys[ok], sort=True)
    wh = (t.dt.day_of_week * 24 + t.dt.hour).to_numpy()[ok].astype(np.int64)
    counts = np.bincount(codes * 168 + wh, minlength=len(uniques) * 168).astype(float)
    return pd.DataFrame({
        by: np.repeat(np.asarray(uniques, dtype=object), 168),
        "weekday": np.tile(np.repeat(np.arange(7), 24), len(uniques)),
        "hour": np.tile(np.arange(24), 7 * len(uniques)),
        "count": counts,
    })
