"""Choose the grid forecast method by evidence on the data at hand (``--method auto``).

:func:`choose_method` runs a rolling-origin backtest (:func:`geo.backtest.backtest`) of the
candidate methods on the events before the forecast origin and picks the one with the best
mean PAI at 5 % of the area over those origins. A learned method is chosen only if it beats
the strongest count baseline by at least ``min_gain`` (relative) in mean PAI; otherwise the
best baseline (counting) is used, and the result says so. Among near-equal methods the simpler
one wins (:data:`SIMPLICITY`). The returned :class:`ForecastChoice` carries the evidence, in
the manner of PySAL ``esda`` results: per-method PAI, hit rate and PEI*, the paired
per-origin difference to the strongest baseline and its seeded bootstrap confidence interval,
and :meth:`ForecastChoice.statement`, the plain-Chinese sentence for the dashboard and PDF.

:class:`AutoForecaster` wraps this as a :class:`~geo.forecast_models.GridForecaster` named
``auto``, so the CLI, planning and the dashboard call it like any other method.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.forecast_choice import (
    AUTO_CANDIDATES,
    AUTO_ORIGINS,
    COVERAGE,
    ForecastChoice,
    choice_from_periods,
    is_baseline,
)
from geo.forecast_models import GridForecaster, Points, make_model


def choose_method(events: pd.DataFrame | Points, *, until=None, horizon: str = "month", cell_size: float = 100.0,
                  n_origins: int = AUTO_ORIGINS, candidates: tuple[str, ...] | list[str] = AUTO_CANDIDATES,
                  coverage: float = COVERAGE, min_gain: float = 0.02, n_boot: int = 2000,
                  random_state: int = 0, params: dict[str, dict] | None = None) -> ForecastChoice:
    """Backtest ``candidates`` on the events before ``until`` and pick the forecast method.

    Parameters
    ----------
    events
        Frame with ``lon``, ``lat``, ``received_at`` or projected :class:`Points`.
    until
        Forecast origin; only events before it are used (default: all events).
    horizon
        ``"month"`` or ``"week"``.
    cell_size
        Grid cell edge in metres.
    n_origins
        Rolling origins (the last complete periods before ``until``) the choice is based on.
    candidates
        Method names; must include at least one baseline (``naive_*`` or ``kde_retrospective``).
    coverage
        Area share (percent) of the comparison.
    min_gain
        Relative PAI margin a learned method needs over the strongest baseline.
    n_boot, random_state
        Bootstrap resamples and seed of the confidence intervals.
    params
        Keyword parameters per method name.

    Returns
    -------
    ForecastChoice
    """
    from geo.backtest import backtest
    from geo.forecast_models import day_number

    candidates = [c for c in candidates if c != "auto"]
    if not any(is_baseline(c) for c in candidates):
        raise ValueError("`candidates` must include a baseline (naive_* or kde_retrospective).")
    pts = events if isinstance(events, Points) else Points.from_events(events)
    if until is not None:
        pts = pts.before(day_number(until))
    if len(pts) == 0:
        raise ValueError("No events before the forecast origin.")
    res = backtest(pts, methods=candidates, cell_size=cell_size, horizon=horizon, n_periods=n_origins,
                   coverages=(coverage,), params=params)
    return choice_from_periods(res.by_period, coverage=coverage, horizon=horizon, min_gain=min_gain, n_boot=n_boot,
                               random_state=random_state, window=_window(pts), cell_size=cell_size)


def _window(pts: Points) -> tuple[pd.Timestamp, pd.Timestamp]:
    ns = 86400 * 10**9
    return pd.Timestamp(round(float(pts.t.min()) * ns)), pd.Timestamp(round(float(pts.t.max()) * ns))


class AutoForecaster(GridForecaster):
    """The method chosen by :func:`choose_method` on the training events, fitted and used.

    After ``fit``, ``choice_`` holds the :class:`ForecastChoice` (evidence and statement) and
    ``model_`` the fitted chosen forecaster.

    Parameters
    ----------
    horizon
        Horizon of the selection backtest (the forecast's own horizon).
    n_origins, candidates, coverage, min_gain, n_boot, random_state
        As in :func:`choose_method`.
    """

    name = "auto"

    def __init__(self, *, horizon: str = "month", n_origins: int = AUTO_ORIGINS,
                 candidates: tuple[str, ...] = AUTO_CANDIDATES, coverage: float = COVERAGE,
                 min_gain: float = 0.02, n_boot: int = 2000, random_state: int = 0):
        self.horizon = horizon
        self.n_origins = n_origins
        self.candidates = candidates
        self.coverage = coverage
        self.min_gain = min_gain
        self.n_boot = n_boot
        self.random_state = random_state

    def _fit(self) -> None:
        params = {"boosted_counts": {"horizon": self.horizon}} if "boosted_counts" in self.candidates else None
        try:
            self.choice_ = choose_method(self.points_, horizon=self.horizon, cell_size=self.grid_.cell_size,
                                         n_origins=self.n_origins, candidates=self.candidates,
                                         coverage=self.coverage, min_gain=self.min_gain, n_boot=self.n_boot,
                                         random_state=self.random_state, params=params)
            method = self.choice_.method
        except ValueError:  # too little history for even one backtest period: count
            self.choice_ = None
            method = "naive_all"
        kw = params.get(method, {}) if params else {}
        model = make_model(method, **kw)
        model.grid_, model.origin_, model.origin_ts_ = self.grid_, self.origin_, self.origin_ts_
        model.points_, model.cells_, model.times_ = self.points_, self.cells_, self.times_
        model._fit()
        self.model_ = model
        self.method_ = method

    def _predict(self, length_days: float) -> np.ndarray:
        return self.model_._predict(length_days)




def make_forecaster(name: str, **params) -> GridForecaster:
    """A forecaster by method name, ``auto`` included (see :data:`geo.forecast_models.ALL_METHODS`)."""
    return AutoForecaster(**params) if name == AutoForecaster.name else make_model(name, **params)
