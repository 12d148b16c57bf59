"""Grid forecasters of next-period incident risk, all with one scikit-learn-style interface.

``Model(**params).fit(events, grid=grid, until=T).predict(horizon="month")`` returns a
``(ny, nx)`` array of risk per cell of ``grid`` for the period starting at ``T``; only events
before ``T`` are used. ``events`` is a frame with ``lon``, ``lat``, ``received_at`` or an
already projected :class:`Points`. Methods:

``naive_last``
    Counts of the last period (same length as the horizon).
``kde_retrospective``
    Gaussian kernel density of the last ``window_days`` (retrospective hotspot).
``prospective``
    Prospective hotspotting (Bowers, Johnson & Pease 2004): each past event adds
    ``1/(1 + d_cells) × 1/(1 + Δt_weeks)`` within ``bandwidth_m`` and ``window_days``.
``sepp``
    Self-exciting point process on the grid (Mohler et al. 2011, 2015): per cell
    ``λ_c(t) = μ_c + Σ θ ω e^{−ω (t − t_i)}`` over earlier events of the cell, fitted by EM;
    the background is smoothed spatially (Mohler 2011's variable background, here a
    Gaussian of ``background_bandwidth_m``) because single cells hold few events.
``ensemble``
    Geometric-mean blend of long-run and recent KDE and SEPP surfaces, each scaled to its
    mean; combining stable long-term concentration with near-repeat risk is what the
    literature finds most reliable. The backtest shows whether it wins on a data set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage, signal

from geo._events import local_times, project_events
from geo.forecast import horizon_end
from geo.grid import Grid

_NS_PER_DAY = 86400 * 10**9


@dataclass(frozen=True)
class Points:
    """Projected events: metres in ``epsg`` and times as days since the Unix epoch (wall clock)."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    epsg: int

    @classmethod
    def from_events(cls, events: pd.DataFrame, *, epsg: int | None = None) -> Points:
        """Project a frame with ``lon``, ``lat``, ``received_at``; rows with missing values are dropped."""
        x, y, epsg = project_events(events, epsg=epsg)
        times = local_times(events)
        t = times.to_numpy().astype("datetime64[ns]").astype(np.int64) / _NS_PER_DAY
        ok = np.isfinite(x) & np.isfinite(y) & times.notna().to_numpy()
        return cls(x=x[ok], y=y[ok], t=np.asarray(t)[ok].astype(float), epsg=epsg)

    def before(self, day: float) -> Points:
        """The events strictly before ``day``."""
        keep = self.t < day
        return Points(self.x[keep], self.y[keep], self.t[keep], self.epsg)

    def __len__(self) -> int:
        return int(self.t.size)


def day_number(ts) -> float:
    """A timestamp (naive wall clock or tz-aware) as days since the Unix epoch on its wall clock."""
    t = pd.Timestamp(ts)
    if t.tzinfo is not None:
        from geo.forecast import to_local_naive

        t = to_local_naive(t)
    return t.value / _NS_PER_DAY


class GridForecaster:
    """Base class: stores the fitted grid, points and origin; subclasses implement ``_predict``."""

    name = "base"

    def fit(self, events: pd.DataFrame | Points, *, grid: Grid | None = None, until=None,
            cell_size: float = 100.0) -> GridForecaster:
        """Learn from the events before ``until`` (default: after the last event).

        Parameters
        ----------
        events
            Frame with ``lon``, ``lat``, ``received_at`` or projected :class:`Points`.
        grid
            Grid to forecast on; default one fitted to the events with ``cell_size``.
        until
            Forecast origin (timestamp); events at or after it are ignored.
        """
        pts = events if isinstance(events, Points) else Points.from_events(
            events, epsg=None if grid is None else grid.epsg)
        if grid is None:
            grid = Grid.from_points(pts.x, pts.y, epsg=pts.epsg, cell_size=cell_size)
        if grid.epsg != pts.epsg:
            raise ValueError(f"`grid` is in EPSG:{grid.epsg} but the points are in EPSG:{pts.epsg}.")
        origin = float(np.max(pts.t)) + 1e-9 if until is None else day_number(until)
        self.grid_ = grid
        self.origin_ = origin
        self.origin_ts_ = pd.Timestamp(round(origin * _NS_PER_DAY))
        self.points_ = pts.before(origin)
        cells = grid.locate(self.points_.x, self.points_.y)
        keep = cells >= 0
        self.cells_ = cells[keep]
        self.times_ = self.points_.t[keep]
        self._fit()
        return self

    def _fit(self) -> None:
        """Estimate parameters from ``self.cells_`` and ``self.times_`` (optional)."""

    def predict(self, *, horizon: str | int = "month") -> np.ndarray:
        """Risk per cell, shaped ``(ny, nx)``, for the period of ``horizon`` after the origin."""
        if not hasattr(self, "grid_"):
            raise ValueError(f"{type(self).__name__} is not fitted; call fit(events, ...) first.")
        end = horizon_end(self.origin_ts_, horizon)
        length_days = (end - self.origin_ts_) / pd.Timedelta(days=1)
        return self._predict(float(length_days))

    def _predict(self, length_days: float) -> np.ndarray:
        raise NotImplementedError

    def _counts(self, since_days: float | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        keep = np.ones(self.cells_.size, dtype=bool)
        if since_days is not None:
            keep = self.times_ >= self.origin_ - since_days
        w = None if weights is None else weights[keep]
        g = self.grid_
        return np.bincount(self.cells_[keep], weights=w, minlength=g.n_cells).astype(float).reshape(g.ny, g.nx)


class NaiveLast(GridForecaster):
    """Last period's counts per cell (the naive baseline)."""

    name = "naive_last"

    def _predict(self, length_days: float) -> np.ndarray:
        return self._counts(since_days=length_days)


class NaiveAll(GridForecaster):
    """All past events per cell (the long-run count a clerk gets from a spreadsheet).

    Scaled to the horizon (events per day of history × period length), so it reads as expected
    counts; the ranking, which is what PAI and hit rate score, is the raw count's.
    """

    name = "naive_all"

    def _predict(self, length_days: float) -> np.ndarray:
        span = max(self.origin_ - float(self.points_.t.min()), 1.0) if self.cells_.size else 1.0
        return self._counts() * (length_days / span)


class Naive12m(GridForecaster):
    """Events per cell over the last 12 months (365 days), scaled to the horizon."""

    name = "naive_12m"

    def _predict(self, length_days: float) -> np.ndarray:
        return self._counts(since_days=365.0) * (length_days / 365.0)


class NaiveDecay(GridForecaster):
    """Exponentially decayed counts per cell; the half-life is chosen on training periods only.

    For each of the ``n_select`` periods (of ``period_days``) before the origin, each candidate
    half-life's decayed counts as of that period's start rank the cells, and the half-life with
    the best mean hit rate at ``coverage`` % of the cells near past events wins (ties go to the
    longer half-life, the steadier map). Only events before the origin are used.

    Parameters
    ----------
    half_lives
        Candidate half-lives in days.
    n_select
        Training periods used to choose the half-life.
    period_days
        Length of a training period (30 for monthly forecasts, 7 for weekly).
    coverage
        Area share (percent) scored when choosing.
    """

    name = "naive_decay"

    def __init__(self, *, half_lives: tuple[float, ...] = (30.0, 91.0, 182.0, 365.0, 730.0, 1460.0),
                 n_select: int = 6, period_days: float = 30.0, coverage: float = 5.0):
        self.half_lives = half_lives
        self.n_select = n_select
        self.period_days = period_days
        self.coverage = coverage

    def _decayed(self, origin: float, half_life: float) -> np.ndarray:
        past = self.times_ < origin
        w = np.exp(-np.log(2.0) * (origin - self.times_[past]) / half_life)
        return np.bincount(self.cells_[past], weights=w, minlength=self.grid_.n_cells)

    def _fit(self) -> None:
        from geo.forecast_choice import coverage_metrics

        g = self.grid_
        hl = sorted(self.half_lives)
        scores = np.zeros(len(hl))
        used = 0
        start_t = float(self.times_.min()) if self.times_.size else self.origin_
        for i in range(1, self.n_select + 1):
            a = self.origin_ - i * self.period_days
            if a - start_t < 2 * self.period_days:
                break
            in_p = (self.times_ >= a) & (self.times_ < a + self.period_days)
            if not in_p.any():
                continue
            actual = np.bincount(self.cells_[in_p], minlength=g.n_cells).astype(float)
            seen = np.bincount(self.cells_[self.times_ < a], minlength=g.n_cells).reshape(g.ny, g.nx) > 0
            area = ndimage.binary_dilation(seen, structure=np.ones((3, 3), bool)).ravel()
            for j, h in enumerate(hl):
                risk = self._decayed(a, h)[area]
                scores[j] += coverage_metrics(risk, actual[area], coverage=self.coverage,
                                              total=float(in_p.sum()))["hit_rate"]
            used += 1
        # Ties (within 1e-9) go to the longest half-life: reversed argmax.
        self.half_life_ = float(hl[len(hl) - 1 - int(np.argmax(scores[::-1]))]) if used else float(hl[-1])
        self.selection_scores_ = dict(zip(hl, (scores / max(used, 1)).tolist(), strict=True))

    def _predict(self, length_days: float) -> np.ndarray:
        d = self._decayed(self.origin_, self.half_life_)
        # Decayed counts integrate to about half_life / ln 2 days of events.
        return (d * (length_days * np.log(2.0) / self.half_life_)).reshape(self.grid_.ny, self.grid_.nx)


class KDERetrospective(GridForecaster):
    """Gaussian KDE of the events of the last ``window_days`` (retrospective hotspot map).

    Parameters
    ----------
    bandwidth_m
        Kernel standard deviation in metres.
    window_days
        Training window; None uses all history.
    """

    name = "kde_retrospective"

    def __init__(self, *, bandwidth_m: float = 200.0, window_days: float | None = 365.0):
        self.bandwidth_m = bandwidth_m
        self.window_days = window_days

    def _predict(self, length_days: float) -> np.ndarray:
        counts = self._counts(since_days=self.window_days)
        sigma = self.bandwidth_m / self.grid_.cell_size
        smooth = ndimage.gaussian_filter(counts, sigma=sigma, mode="constant", truncate=4.0)
        span = self.window_days if self.window_days is not None else max(self.origin_ - self.times_.min(), 1.0)
        return smooth * (length_days / span)


class ProspectiveHotspot(GridForecaster):
    """Prospective hotspotting (Bowers, Johnson & Pease 2004).

    Parameters
    ----------
    bandwidth_m
        Spatial reach; weight ``1/(1 + d/cell)`` up to this distance.
    window_days
        Temporal reach; weight ``1/(1 + Δt/time_unit_days)``.
    time_unit_days
        Time unit of the decay (a week in the original).
    """

    name = "prospective"

    def __init__(self, *, bandwidth_m: float = 400.0, window_days: float = 56.0, time_unit_days: float = 7.0):
        self.bandwidth_m = bandwidth_m
        self.window_days = window_days
        self.time_unit_days = time_unit_days

    def _predict(self, length_days: float) -> np.ndarray:
        g = self.grid_
        r = int(np.floor(self.bandwidth_m / g.cell_size))
        dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
        d = np.hypot(dx, dy)
        kernel = np.where(d * g.cell_size <= self.bandwidth_m, 1.0 / (1.0 + d), 0.0)
        age = self.origin_ - self.times_
        keep = age <= self.window_days
        w = 1.0 / (1.0 + np.floor(age[keep] / self.time_unit_days))
        counts = np.bincount(self.cells_[keep], weights=w, minlength=g.n_cells).reshape(g.ny, g.nx)
        if not counts.any():
            return np.zeros((g.ny, g.nx))
        risk = signal.fftconvolve(counts, kernel, mode="same")
        return np.maximum(risk, 0.0)


def _gaussian_cell_kernel(cells: np.ndarray, nx: int, sigma: float, truncate: float = 4.0):
    """Sparse matrix of ``ndimage.gaussian_filter`` weights between the given flat cells.

    ``(K @ v)[a]`` equals ``gaussian_filter(V, sigma, mode="constant", truncate=truncate)`` at cell
    ``a`` when ``V`` holds ``v`` at the cells and zeros elsewhere.
    """
    from scipy import sparse
    from scipy.spatial import cKDTree

    n = cells.size
    if sigma <= 0 or n == 0:
        return sparse.identity(n, format="csr")
    r = int(truncate * sigma + 0.5)
    g1 = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    g1 /= g1.sum()
    rows, cols = np.divmod(cells, nx)
    pairs = cKDTree(np.column_stack([rows, cols])).query_pairs(r=r, p=np.inf, output_type="ndarray")
    i = np.r_[pairs[:, 0], pairs[:, 1], np.arange(n)] if pairs.size else np.arange(n)
    j = np.r_[pairs[:, 1], pairs[:, 0], np.arange(n)] if pairs.size else np.arange(n)
    w = g1[rows[i] - rows[j] + r] * g1[cols[i] - cols[j] + r]
    return sparse.csr_matrix((w, (i, j)), shape=(n, n))


class SEPP(GridForecaster):
    """Grid self-exciting point process (Mohler et al. 2015) fitted by expectation–maximisation.

    Parameters
    ----------
    window_days
        Training window.
    background_bandwidth_m
        Gaussian smoothing of the background rate across cells.
    max_parents
        Earlier events of the same cell considered as possible parents (keeps EM linear).
    n_iter
        EM iterations.
    theta0, omega0
        Starting branching ratio and decay rate (per day).
    """

    name = "sepp"

    def __init__(self, *, window_days: float = 365.0, background_bandwidth_m: float = 150.0, max_parents: int = 30,
                 n_iter: int = 30, theta0: float = 0.2, omega0: float = 0.1):
        self.window_days = window_days
        self.background_bandwidth_m = background_bandwidth_m
        self.max_parents = max_parents
        self.n_iter = n_iter
        self.theta0 = theta0
        self.omega0 = omega0

    def _fit(self) -> None:
        g = self.grid_
        keep = self.times_ >= self.origin_ - self.window_days
        cells, times = self.cells_[keep], self.times_[keep]
        order = np.lexsort((times, cells))
        cells, times = cells[order], times[order]
        n = cells.size
        span = float(self.window_days)
        sigma = self.background_bandwidth_m / g.cell_size
        theta, omega = float(self.theta0), float(self.omega0)
        # Lagged parent pairs: event i and its L-th predecessor in the same cell.
        lags = []
        for lag in range(1, self.max_parents + 1):
            if lag >= n:
                break
            same = cells[lag:] == cells[:-lag]
            if not same.any():
                break
            child = np.flatnonzero(same) + lag
            lags.append((child, times[child] - times[child - lag]))
        child = np.concatenate([c for c, _ in lags]) if lags else np.zeros(0, dtype=np.int64)
        dt = np.concatenate([d for _, d in lags]) if lags else np.zeros(0)
        # The EM needs the smoothed background only at the occupied cells: a sparse kernel matrix
        # among them (the same separable kernel as ndimage.gaussian_filter) instead of smoothing
        # the whole, possibly city-wide, grid in every iteration.
        ucells, inv = np.unique(cells, return_inverse=True)
        smooth = _gaussian_cell_kernel(ucells, g.nx, sigma)
        mu_u = smooth @ np.bincount(inv, minlength=ucells.size).astype(float) * (1 - theta) / span
        p_bg = np.ones(n)
        for _ in range(self.n_iter if n else 0):
            trig = theta * omega * np.exp(-omega * dt)
            mu_i = np.maximum(mu_u[inv], 1e-12)
            lam = mu_i + np.bincount(child, weights=trig, minlength=n)
            p_bg = mu_i / lam
            p_pair = trig / lam[child]
            n_trig = p_pair.sum()
            # M-step (edge-corrected branching ratio: a parent near the origin had little time to trigger).
            compensator = (1.0 - np.exp(-omega * (self.origin_ - times))).sum()
            theta = float(np.clip(n_trig / max(compensator, 1e-9), 0.0, 0.95))
            omega = float(np.clip(n_trig / max((p_pair * dt).sum(), 1e-9), 1e-3, 10.0))
            mu_u = smooth @ np.bincount(inv, weights=p_bg, minlength=ucells.size) / span
        bg = np.bincount(cells, weights=p_bg, minlength=g.n_cells).astype(float).reshape(g.ny, g.nx)
        mu = ndimage.gaussian_filter(bg, sigma=sigma, mode="constant", truncate=4.0) / span
        self.mu_ = mu
        self.theta_ = theta
        self.omega_ = omega
        self._cells_w, self._times_w = cells, times

    def _predict(self, length_days: float) -> np.ndarray:
        g = self.grid_
        age = self.origin_ - self._times_w
        excite = self.theta_ * (np.exp(-self.omega_ * age) - np.exp(-self.omega_ * (age + length_days)))
        trig = np.bincount(self._cells_w, weights=excite, minlength=g.n_cells).reshape(g.ny, g.nx)
        return self.mu_ * length_days + trig


class Ensemble(GridForecaster):
    """Blend of long-run KDE, recent KDE and SEPP, each scaled to its mean (weighted geometric mean).

    Parameters
    ----------
    long_bandwidth_m, long_window_days
        Long-run KDE (stable concentration).
    recent_bandwidth_m, recent_window_days
        Recent KDE (shifts and flare-ups).
    weights
        Exponents of the long-run, recent and SEPP surfaces.
    """

    name = "ensemble"

    def __init__(self, *, long_bandwidth_m: float = 150.0, long_window_days: float | None = None,
                 recent_bandwidth_m: float = 250.0, recent_window_days: float = 120.0,
                 weights: tuple[float, float, float] = (0.5, 0.25, 0.25)):
        self.long_bandwidth_m = long_bandwidth_m
        self.long_window_days = long_window_days
        self.recent_bandwidth_m = recent_bandwidth_m
        self.recent_window_days = recent_window_days
        self.weights = weights

    def _fit(self) -> None:
        self.sepp_ = SEPP()
        self.sepp_.grid_, self.sepp_.origin_ = self.grid_, self.origin_
        self.sepp_.cells_, self.sepp_.times_ = self.cells_, self.times_
        self.sepp_._fit()

    def _predict(self, length_days: float) -> np.ndarray:
        parts = []
        for bw, win in ((self.long_bandwidth_m, self.long_window_days),
                        (self.recent_bandwidth_m, self.recent_window_days)):
            kde = KDERetrospective(bandwidth_m=bw, window_days=win)
            kde.grid_, kde.origin_, kde.cells_, kde.times_ = self.grid_, self.origin_, self.cells_, self.times_
            parts.append(kde._predict(length_days))
        parts.append(self.sepp_._predict(length_days))
        total = float(parts[-1].sum())
        log_blend = np.zeros_like(parts[0])
        for w, p in zip(self.weights, parts, strict=True):
            m = p.mean()
            log_blend += w * np.log(p / m + 1e-6) if m > 0 else 0.0
        blend = np.exp(log_blend)
        # Scale to the SEPP's expected total so the output reads as expected counts.
        return blend * (total / blend.sum()) if blend.sum() > 0 else blend


class PoissonStack(GridForecaster):
    """Learned blend: Poisson regression of next-period counts on multi-scale KDE and SEPP surfaces.

    For each of the ``n_train`` periods before the origin, features are computed from the
    history before that period — log Gaussian KDEs at several bandwidths and windows and the
    log SEPP forecast — and a :class:`sklearn.linear_model.PoissonRegressor` (log link, so a
    learned weighted geometric mean) is fitted to the period's counts over the cells near past
    events. This picks the bandwidths and memory that suit the data set instead of fixing them.

    Parameters
    ----------
    bandwidths_m
        KDE bandwidths (metres).
    windows_days
        KDE windows in days (None = all history).
    n_train
        Past periods used as training examples.
    period_days
        Length of a training period; default the forecast horizon's length at predict time
        is unknown at fit, so 30 days (a month) unless given.
    alpha
        L2 penalty of the Poisson regression.
    """

    name = "poisson_stack"

    def __init__(self, *, bandwidths_m: tuple[float, ...] = (50.0, 100.0, 200.0, 400.0),
                 windows_days: tuple[float | None, ...] = (30.0, 90.0, 365.0, None), n_train: int = 6,
                 period_days: float = 30.0, alpha: float = 1e-4):
        self.bandwidths_m = bandwidths_m
        self.windows_days = windows_days
        self.n_train = n_train
        self.period_days = period_days
        self.alpha = alpha

    def _features(self, origin: float, length_days: float) -> np.ndarray:
        g = self.grid_
        past = self.times_ < origin
        cells, times = self.cells_[past], self.times_[past]
        feats = []
        for win in self.windows_days:
            keep = np.ones(cells.size, bool) if win is None else times >= origin - win
            counts = np.bincount(cells[keep], minlength=g.n_cells).astype(float).reshape(g.ny, g.nx)
            span = win if win is not None else max(origin - self.times_.min(), 1.0)
            for bw in self.bandwidths_m:
                kde = ndimage.gaussian_filter(counts, sigma=bw / g.cell_size, mode="constant", truncate=4.0)
                feats.append(np.log(kde.ravel() * length_days / span + 1e-4))
        sepp = SEPP(n_iter=15)
        sepp.grid_, sepp.origin_, sepp.cells_, sepp.times_ = g, origin, cells, times
        sepp._fit()
        feats.append(np.log(sepp._predict(length_days).ravel() + 1e-4))
        return np.column_stack(feats)

    def _area(self, origin: float) -> np.ndarray:
        g = self.grid_
        counts = np.bincount(self.cells_[self.times_ < origin], minlength=g.n_cells).reshape(g.ny, g.nx)
        return ndimage.binary_dilation(counts > 0, structure=np.ones((3, 3), bool)).ravel()

    def _fit(self) -> None:
        from sklearn.linear_model import PoissonRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        g = self.grid_
        xs, ys = [], []
        for i in range(1, self.n_train + 1):
            start = self.origin_ - i * self.period_days
            if start - self.times_.min() < 60:  # too little history before this training period
                break
            area = self._area(start)
            in_period = (self.times_ >= start) & (self.times_ < start + self.period_days)
            target = np.bincount(self.cells_[in_period], minlength=g.n_cells).astype(float)
            xs.append(self._features(start, self.period_days)[area])
            ys.append(target[area])
        self.model_ = None
        if xs and np.concatenate(ys).sum() > 0:
            self.model_ = make_pipeline(StandardScaler(), PoissonRegressor(alpha=self.alpha, solver="newton-cholesky", max_iter=100))
            self.model_.fit(np.vstack(xs), np.concatenate(ys))

    def _predict(self, length_days: float) -> np.ndarray:
        g = self.grid_
        feats = self._features(self.origin_, length_days)
        if self.model_ is None:  # no training periods: fall back to the long-run KDE feature
            return np.exp(feats[:, -2]).reshape(g.ny, g.nx)
        pred = self.model_.predict(feats) * (length_days / self.period_days)
        return pred.reshape(g.ny, g.nx)


def _training_hit_rate(model: GridForecaster, period_days: float, *, n_periods: int = 6,
                       coverage: float = 5.0) -> float:
    """Mean hit rate of ``model``'s settings over the ``n_periods`` periods before its origin.

    The model is refitted at each earlier origin on the events before it (its fitted
    attributes are left as they were), so the score uses training data only.
    """
    from geo.forecast_choice import coverage_metrics

    g = model.grid_
    cells, times, origin = model.cells_, model.times_, model.origin_
    start_t = float(times.min()) if times.size else origin
    scores = []
    for i in range(1, n_periods + 1):
        a = origin - i * period_days
        if a - start_t < 2 * period_days:
            break
        in_p = (times >= a) & (times < a + period_days)
        if not in_p.any():
            continue
        clone = type(model)(**{k: v for k, v in vars(model).items() if not k.endswith("_") and not k.startswith("_")})
        past = times < a
        clone.grid_, clone.origin_, clone.origin_ts_ = g, a, pd.Timestamp(round(a * _NS_PER_DAY))
        clone.points_, clone.cells_, clone.times_ = model.points_, cells[past], times[past]
        clone._fit()
        risk = clone._predict(period_days).ravel()
        actual = np.bincount(cells[in_p], minlength=g.n_cells).astype(float)
        seen = np.bincount(cells[past], minlength=g.n_cells).reshape(g.ny, g.nx) > 0
        area = ndimage.binary_dilation(seen, structure=np.ones((3, 3), bool)).ravel()
        scores.append(coverage_metrics(risk[area], actual[area], coverage=coverage,
                                       total=float(in_p.sum()))["hit_rate"])
    return float(np.mean(scores)) if scores else float("nan")


class BoostedCounts(GridForecaster):
    """Gradient-boosted Poisson regression of next-period counts on each cell's own past counts.

    Training examples are the cells at each of ``n_train`` rolling origins before the forecast
    origin (calendar months back for monthly forecasts, weeks for weekly ones); the target is
    the count in the ``target_periods`` periods after that training origin, all ending before
    the forecast origin, so nothing after the origin is seen. Features
    (:func:`geo.forecast_features.cell_features`): unsmoothed own-cell counts over 1, 3, 6, 12
    months and all history, decayed counts (near repeats and long memory), days since the
    last event, counts in neighbour rings, and the same period a year earlier. The model is
    :class:`sklearn.ensemble.HistGradientBoostingRegressor` with ``loss="poisson"`` and
    monotone constraints (more past events never lower the risk; a longer quiet spell never
    raises it), which keeps it from learning noise on sparse data.

    The forecast is shrunk toward counting: a weighted geometric mean of the model's surface
    and the strongest baseline on the training periods (decayed counts of :class:`NaiveDecay`,
    half-life chosen on training periods, or the retrospective KDE), each as shares of its
    total, with weight ``shrink`` on the baseline. On the shipped real sets the
    blend beats both parts (docs/forecast.md): the model adds neighbourhood, recency and season;
    the counts hold the persistent micro-places the model blurs when positives are few.

    Cells more than two cells from any past event are not modelled (risk 0). Cells with no
    event of their own are subsampled in training (share ``empty_share`` of those without a
    target event; their predicted rate is multiplied by ``empty_share``, the case-control
    correction for rare events, which avoids slow weighted binning).

    Parameters
    ----------
    horizon
        Period the model is trained for (``"month"`` or ``"week"``); other horizons at predict
        time are scaled by their length.
    n_train
        Training origins before the forecast origin.
    target_periods
        Periods averaged into each training target (more periods: more, steadier examples;
        the training origins then end ``target_periods`` periods before the forecast origin).
    shrink
        Weight of the decayed counts in the geometric blend (0 = the model alone, 1 = counting).
    partner
        Baseline whose surface the model is shrunk toward: ``"best"`` (default) takes whichever
        of ``naive_decay`` and ``kde_retrospective`` had the higher hit rate at 5 % over the six
        periods before the origin (training data only); or a method name.
    max_bins
        Histogram bins of the regressor.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Passed to the boosting regressor.
    monotone
        Use the monotone constraints.
    empty_share
        Share of training rows kept among cells with no own history and no target event.
    random_state
        Seed of the subsampling and of the regressor.
    n_threads
        OpenMP threads for the regressor (1 is fastest on a shared two-core machine).
    """

    name = "boosted_counts"

    def __init__(self, *, horizon: str = "month", n_train: int = 8, target_periods: int = 3, shrink: float = 0.5,
                 partner: str = "best", max_bins: int = 63,
                 max_iter: int = 60, learning_rate: float = 0.15, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 100, l2_regularization: float = 1.0, monotone: bool = True,
                 empty_share: float = 0.05, random_state: int = 0, n_threads: int | None = 1):
        self.horizon = horizon
        self.n_train = n_train
        self.target_periods = target_periods
        self.shrink = shrink
        self.partner = partner
        self.max_bins = max_bins
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.monotone = monotone
        self.empty_share = empty_share
        self.random_state = random_state
        self.n_threads = n_threads

    def _step(self, k: int) -> pd.Timestamp:
        if self.horizon == "month":
            return self.origin_ts_ - pd.DateOffset(months=k)
        if self.horizon == "week":
            return self.origin_ts_ - pd.Timedelta(days=7 * k)
        raise ValueError(f"`horizon` must be 'month' or 'week', got {self.horizon!r}.")

    def _fit(self) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor

        from geo.forecast_features import cell_features, feature_names

        g = self.grid_
        self.model_ = None
        self.first_day_ = float(self.times_.min()) if self.times_.size else self.origin_
        period = 7.0 if self.horizon == "week" else 30.0
        names = ("naive_decay", "kde_retrospective") if self.partner == "best" else (self.partner,)
        best_score = -np.inf
        for name in names:
            partner = NaiveDecay(period_days=period) if name == "naive_decay" else make_model(name)
            partner.grid_, partner.origin_, partner.origin_ts_ = g, self.origin_, self.origin_ts_
            partner.points_, partner.cells_, partner.times_ = self.points_, self.cells_, self.times_
            partner._fit()
            if len(names) == 1:
                score = 0.0
            elif name == "naive_decay":  # its half-life selection already scored it on those periods
                score = max(partner.selection_scores_.values())
            else:
                score = _training_hit_rate(partner, period)
            if score > best_score:  # ties keep the first (the counts)
                best_score, self.counts_model_ = score, partner
        if not self.times_.size:
            return
        seen = np.bincount(self.cells_, minlength=g.n_cells).reshape(g.ny, g.nx) > 0
        self.candidates_ = ndimage.binary_dilation(seen, structure=np.ones((3, 3), bool), iterations=2).ravel()
        rng = np.random.default_rng(self.random_state)
        xs, ys = [], []
        span = self.target_periods
        for k in range(span, self.n_train + span):
            a_ts = self._step(k)
            a = day_number(a_ts)
            b = day_number(self._step(k - span))
            if a - self.first_day_ < 90:  # too little history before this training origin
                break
            length = day_number(horizon_end(a_ts, self.horizon)) - a
            x = cell_features(g, self.cells_, self.times_, a, length, first_day=self.first_day_)[self.candidates_]
            in_p = (self.times_ >= a) & (self.times_ < b)
            y = np.bincount(self.cells_[in_p], minlength=g.n_cells).astype(float)[self.candidates_] / span
            busy = (y > 0) | (x[:, 4] > 0)  # a target event or any own history
            keep = busy | (rng.random(y.size) < self.empty_share)
            xs.append(x[keep])
            ys.append(y[keep])
        if not xs or np.concatenate(ys).sum() <= 0:
            return
        names = feature_names()
        cst = [-1 if n == "days_since_last" else 0 if n == "city_season_ratio" else 1 for n in names]
        self.model_ = HistGradientBoostingRegressor(
            loss="poisson", max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf, max_bins=self.max_bins,
            l2_regularization=self.l2_regularization, early_stopping=False,
            monotonic_cst=cst if self.monotone else None, random_state=self.random_state)
        # No sample weights (weighted binning is several times slower): the subsampled empty
        # rows are corrected at predict time instead (case-control correction of rare rates).
        x_all, y_all, w_all = np.vstack(xs), np.concatenate(ys), None
        if self.n_threads is not None:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=self.n_threads):
                self.model_.fit(x_all, y_all, sample_weight=w_all)
        else:
            self.model_.fit(x_all, y_all, sample_weight=w_all)
        self.n_train_rows_ = int(y_all.size)

    def _predict(self, length_days: float) -> np.ndarray:
        from geo.forecast_features import cell_features

        g = self.grid_
        if self.model_ is None:  # no usable training periods: long-run counts
            return NaiveAll._predict(self, length_days)  # type: ignore[arg-type]
        train_len = day_number(horizon_end(self.origin_ts_, self.horizon)) - self.origin_
        x = cell_features(g, self.cells_, self.times_, self.origin_, train_len, first_day=self.first_day_)
        risk = np.zeros(g.n_cells)
        if self.n_threads is not None:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=self.n_threads):
                risk[self.candidates_] = self.model_.predict(x[self.candidates_])
        else:
            risk[self.candidates_] = self.model_.predict(x[self.candidates_])
        # Cells without own history were undersampled (non-events kept at ``empty_share``):
        # their fitted rate is about 1/empty_share too high for rare events.
        no_history = x[:, 4] <= 0
        risk[no_history] *= self.empty_share
        risk *= length_days / train_len
        if self.shrink > 0:
            counts = self.counts_model_._predict(length_days).ravel()
            total = risk.sum()
            if total > 0 and counts.sum() > 0:
                blend = (risk / total) ** (1.0 - self.shrink) * (counts / counts.sum() + 1e-9) ** self.shrink
                risk = blend * (total / blend.sum())
        return risk.reshape(g.ny, g.nx)


#: Forecast methods by name (the names used by the backtest and the CLI).
METHODS: dict[str, type[GridForecaster]] = {
    cls.name: cls for cls in (NaiveLast, NaiveAll, Naive12m, NaiveDecay, KDERetrospective, ProspectiveHotspot, SEPP,
                               Ensemble, PoissonStack, BoostedCounts)
}


#: Every method name, ``auto`` included (its class, :class:`geo.forecast_auto.AutoForecaster`, sits above the backtest
#: it runs; build it with :func:`geo.forecast_auto.make_forecaster`).
ALL_METHODS: tuple[str, ...] = (*METHODS, "auto")


def make_model(name: str, **params) -> GridForecaster:
    """A forecaster by method name (every method but ``auto``)."""
    if name not in METHODS:
        raise ValueError(f"Unknown forecast method {name!r}; expected one of {sorted(METHODS)}.")
    return METHODS[name](**params)

