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
from geo.forecast_choice import AUTO_CANDIDATES, AUTO_ORIGINS, coverage_metrics, pick_method
from geo.forecast_models import _NS_PER_DAY, ALL_METHODS, Points, day_number, make_model
from geo.grid import Grid

#: Area coverages (percent) reported by default.
COVERAGES: tuple[int, ...] = (1, 2, 5, 10)
#: The baselines a method must beat to be worth using: counting (``naive_*``) and retrospective KDE.
#: Every summary compares with the strongest of them on the data at hand.
BASELINES: tuple[str, ...] = ("naive_last", "naive_all", "naive_12m", "naive_decay", "kde_retrospective")
#: Methods run by default, in report order (``poisson_stack``, the slow one, is opt-in here; the
#: command line runs every method).
DEFAULT_METHODS: tuple[str, ...] = (*BASELINES, "prospective", "sepp", "ensemble")


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
        """Method with the highest mean ``metric`` at ``coverage`` (baselines included)."""
        rows = self.summary[self.summary["coverage"] == coverage]
        return str(rows.loc[rows[metric].idxmax(), "method"])

    def strongest_baseline(self, *, coverage: int = 5, metric: str = "pai") -> str | None:
        """The baseline (``naive_*`` or ``kde_retrospective``) with the highest mean ``metric``."""
        from geo.forecast_choice import is_baseline

        rows = self.summary[(self.summary["coverage"] == coverage) & self.summary["method"].map(is_baseline)]
        return None if rows.empty else str(rows.loc[rows[metric].idxmax(), "method"])

    def ratio_to_baseline(self, method: str, *, coverage: int = 5, metric: str = "pai") -> float:
        """Mean ``metric`` of ``method`` divided by the strongest baseline's."""
        base = self.strongest_baseline(coverage=coverage, metric=metric)
        rows = self.summary[self.summary["coverage"] == coverage].set_index("method")[metric]
        return float(rows[method] / rows[base]) if base is not None and rows[base] > 0 else float("nan")

    def evidence(self, method: str = "auto", *, coverage: int = 5, n_boot: int = 2000, random_state: int = 0):
        """:class:`geo.forecast_choice.ForecastChoice` of ``method`` against the strongest baseline.

        The paired per-origin PAI difference and the relative gain in events covered, with
        seeded bootstrap intervals over the origins.
        """
        from geo.forecast_choice import choice_from_periods

        rows = self.by_period
        keep = rows["method"].eq(method) | rows["method"].map(lambda m: m != "auto")
        window = None
        if "first_day" in self.params:
            window = (pd.Timestamp(self.params["first_day"]), pd.Timestamp(self.params["last_day"]))
        return choice_from_periods(rows[keep], coverage=coverage, horizon=self.params.get("horizon", "month"),
                                   n_boot=n_boot, random_state=random_state, method=method, window=window,
                                   cell_size=self.params.get("cell_size"))

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
               "best_pai_5": None, "strongest_baseline_pai_5": None, "ratio_to_baseline_pai_5": None}
        if 5 in set(self.summary["coverage"]):
            best = self.best_method(coverage=5)
            out["best_pai_5"] = best
            out["strongest_baseline_pai_5"] = self.strongest_baseline(coverage=5)
            out["ratio_to_baseline_pai_5"] = _num(self.ratio_to_baseline(best, coverage=5))
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
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}; expected some of {sorted(ALL_METHODS)}.")
    pts = events if isinstance(events, Points) else Points.from_events(events)
    if len(pts) == 0:
        raise ValueError("`events` holds no usable points (need lon, lat and a time).")
    grid = Grid.from_points(pts.x, pts.y, epsg=pts.epsg, cell_size=cell_size)
    area = study_area(grid, pts).ravel()
    cells = grid.locate(pts.x, pts.y)
    origins = rolling_origins(pts.t, horizon=horizon, n_periods=n_periods)
    params = _method_params(horizon, params)
    auto = params.get("auto", {})
    candidates = list(auto.get("candidates", AUTO_CANDIDATES)) if "auto" in methods else []
    n_select = int(auto.get("n_origins", AUTO_ORIGINS))
    all_origins = origins
    if candidates:
        extended = rolling_origins(pts.t, horizon=horizon, n_periods=n_periods + n_select)
        all_origins = [o for o in extended if o < origins[0]] + origins
    direct = [m for m in methods if m != "auto"]
    rows = []
    select_rows = []  # the candidates' PAI at 5 %, which ``auto`` chooses by
    seconds = dict.fromkeys(methods, 0.0)
    outer = set(origins)
    for origin in all_origins:
        t0, t1 = day_number(origin), day_number(horizon_end(origin, horizon))
        in_period = (pts.t >= t0) & (pts.t < t1)
        total = float(in_period.sum())
        actual = np.bincount(cells[in_period & (cells >= 0)], minlength=grid.n_cells)[area]
        run = (direct if origin in outer else []) + [c for c in candidates if c not in direct or origin not in outer]
        for name in run:
            start = time.perf_counter()
            model = make_model(name, **params.get(name, {})).fit(pts, grid=grid, until=origin)
            risk = model.predict(horizon=horizon).ravel()[area]
            spent = time.perf_counter() - start
            if name in seconds and origin in outer:
                seconds[name] += spent
            if name not in direct or origin not in outer:
                seconds["auto"] += spent
            if name in candidates:
                m5 = coverage_metrics(risk, actual, coverage=COVERAGE_AUTO, total=total)
                select_rows.append({"origin": origin, "method": name, "pai": m5["pai"]})
            for c in coverages:
                m = coverage_metrics(risk, actual, coverage=c, total=total)
                rows.append({"origin": origin, "method": name, "coverage": c, "events": total, **m})
    choices: dict[str, str] = {}
    if candidates:
        sel = pd.DataFrame(select_rows)
        full = pd.DataFrame(rows)
        for i, origin in enumerate(all_origins):
            if origin not in outer:
                continue
            before = all_origins[max(0, i - n_select):i]
            prior = sel[sel["origin"].isin(before)].groupby("method")["pai"].mean().to_dict()
            chosen = pick_method(prior, min_gain=float(auto.get("min_gain", 0.02))) if prior else "naive_all"
            choices[origin.strftime("%Y-%m-%d")] = chosen
            picked = full[(full["origin"] == origin) & (full["method"] == chosen)].assign(method="auto")
            rows.extend(picked.to_dict("records"))
        # Keep only what was asked for, at the asked origins.
        rows = [r for r in rows if r["origin"] in outer and (r["method"] in methods)]
    by_period = pd.DataFrame(rows)
    summary = (by_period.groupby(["method", "coverage"], sort=False)[["hit_rate", "pai", "pei"]]
               .mean().reset_index())
    return BacktestResult(summary=summary, by_period=by_period, origins=origins, params={
        "cell_size": float(cell_size), "horizon": horizon, "area_cells": int(area.sum()),
        "events": len(pts), "epsg": grid.epsg, "seconds": seconds,
        "first_day": pd.Timestamp(round(float(pts.t.min()) * _NS_PER_DAY)).strftime("%Y-%m-%d"),
        "last_day": pd.Timestamp(round(float(pts.t.max()) * _NS_PER_DAY)).strftime("%Y-%m-%d"),
        **({"auto_choices": choices} if choices else {}),
    })


#: Coverage (percent) at which ``auto`` compares methods.
COVERAGE_AUTO = 5


def _method_params(horizon: str, params: dict[str, dict] | None) -> dict[str, dict]:
    """Per-method keyword parameters: the horizon-dependent defaults, updated by ``params``."""
    period = 7.0 if horizon == "week" else 30.0
    out: dict[str, dict] = {"boosted_counts": {"horizon": horizon}, "naive_decay": {"period_days": period},
                            "auto": {}}
    for name, kw in (params or {}).items():
        out[name] = {**out.get(name, {}), **kw}
    if "auto" in out:
        out["auto"] = {"horizon": horizon, **out["auto"]}
    return out


# --------------------------------------------------------------------------- hospital × weekday-hour


def busiest_discs(events: pd.DataFrame, *, n: int = 40, radius_m: float = 500.0) -> pd.DataFrame:
    """Label events with the ``n`` busiest non-overlapping discs of ``radius_m`` as stand-in hospitals.

    Real point sets carry no hospital; for backtesting the per-hospital forecast on real data
    the discs around the places with most events play the hospitals (greedy: the event with
    most neighbours within ``radius_m`` becomes a centre, events within ``2 × radius_m`` can no
    longer be centres, repeat). Returns a copy of ``events`` with ``hospital_id`` (``"D01"``…;
    missing outside every disc).
    """
    from scipy.spatial import cKDTree

    from geo._events import project_events

    x, y, _ = project_events(events)
    ok = np.isfinite(x) & np.isfinite(y)
    xy = np.column_stack([x[ok], y[ok]])
    tree = cKDTree(xy)
    density = tree.query_ball_point(xy, r=radius_m, return_length=True).astype(float)
    free = np.ones(len(xy), bool)
    labels = np.full(len(xy), None, dtype=object)
    for k in range(n):
        if not free.any():
            break
        i = int(np.argmax(np.where(free, density, -1.0)))
        near = np.asarray(tree.query_ball_point(xy[i], r=radius_m), dtype=np.int64)
        unlabelled = near[labels[near] == None]  # noqa: E711 (object array)
        labels[unlabelled] = f"D{k + 1:02d}"
        free[np.asarray(tree.query_ball_point(xy[i], r=2 * radius_m), dtype=np.int64)] = False
    out = events.copy()
    ids = np.full(len(events), None, dtype=object)
    ids[np.flatnonzero(ok)] = labels
    out["hospital_id"] = pd.array(ids, dtype="string")
    return out


@dataclass
class HospitalHourBacktest:
    """Backtest of :func:`geo.forecast.hospital_hour_risk` against two simple baselines.

    Attributes
    ----------
    summary
        One row per method: ``method, deviance`` (mean Poisson deviance per hospital-hour,
        lower is better), ``top_share`` (share of the month's incidents in the forecast's top
        ``top_percent`` % of hospital-hours, higher is better), means over the origins.
    by_period
        The same per origin.
    origins
        Monthly forecast origins.
    params
        Settings (seasonal weeks, top percent, deviance floor, hospitals).
    """

    summary: pd.DataFrame
    by_period: pd.DataFrame
    origins: list[pd.Timestamp]
    params: dict = field(default_factory=dict)

    def beats_baselines(self) -> dict[str, bool]:
        """Whether ``hospital_hour_risk`` is at least as good as the better baseline, per metric."""
        s = self.summary.set_index("method")
        base = s.drop(index="hospital_hour_risk")
        own = s.loc["hospital_hour_risk"]
        return {"deviance": bool(own.deviance <= base.deviance.min()),
                "top_share": bool(own.top_share >= base.top_share.max())}


def _poisson_deviance(actual: np.ndarray, pred: np.ndarray) -> float:
    """Mean Poisson unit deviance ``2 (y log(y/μ) − (y − μ))``."""
    y = actual.ravel().astype(float)
    mu = pred.ravel().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(np.mean(2.0 * (term - (y - mu))))


def hospital_hour_backtest(events: pd.DataFrame, *, n_periods: int = 12, seasonal_weeks: int = 8,
                           top_percent: float = 20.0, floor: float = 1e-3, **risk_kw) -> HospitalHourBacktest:
    """Rolling monthly backtest of the hospital × weekday-hour forecast.

    At each origin (start of each of the last ``n_periods`` complete months) three forecasts of
    the month's incidents per hospital and weekday-hour are scored on what happened:

    * ``hospital_hour_risk`` — :func:`geo.forecast.hospital_hour_risk` (``risk_kw`` passed on);
    * ``seasonal_naive`` — the mean count of the same weekday-hour over the last
      ``seasonal_weeks`` weeks, times its occurrences in the month;
    * ``historical_mean`` — the same over all history before the origin.

    Metrics: mean Poisson deviance per hospital-hour (forecasts floored at ``floor`` so a zero
    forecast of an hour that had an incident is finite) and the share of the month's incidents
    in the top ``top_percent`` % of hospital-hours (ties by expectation, as in the grid backtest).

    Parameters
    ----------
    events
        Frame with ``received_at`` and ``hospital_id``.
    """
    from geo._events import local_times, require_columns
    from geo.forecast import _weekday_hours, hospital_hour_risk

    require_columns(events, ("received_at", "hospital_id"))
    t_all = local_times(events)
    hosp = events["hospital_id"].astype("string")
    ok = hosp.notna().to_numpy() & t_all.notna().to_numpy()
    ev = pd.DataFrame({"received_at": t_all[ok].to_numpy(), "hospital_id": hosp[ok].astype(str).to_numpy()})
    ids = sorted(ev["hospital_id"].unique().tolist())
    if not ids:
        raise ValueError("`events` has no rows with a hospital_id.")
    index = {h: i for i, h in enumerate(ids)}
    hi = ev["hospital_id"].map(index).to_numpy()
    t = ev["received_at"]
    wh = (t.dt.day_of_week * 24 + t.dt.hour).to_numpy().astype(np.int64)
    days = (t.astype("datetime64[ns]").astype(np.int64) / _NS_PER_DAY).to_numpy()
    origins = rolling_origins(days, horizon="month", n_periods=n_periods)
    first = t.min()
    rows = []

    def table(mask: np.ndarray) -> np.ndarray:
        out = np.zeros((len(ids), 168))
        np.add.at(out, (hi[mask], wh[mask]), 1.0)
        return out

    for o in origins:
        end = horizon_end(o, "month")
        occ = _weekday_hours(o, end)
        actual = table(((t >= o) & (t < end)).to_numpy())
        own = hospital_hour_risk(ev, until=o, horizon="month", hospital_ids=ids, **risk_kw)
        own = own["risk"].to_numpy().reshape(len(ids), 168)
        recent = table(((t >= o - pd.Timedelta(weeks=seasonal_weeks)) & (t < o)).to_numpy())
        seasonal = recent / seasonal_weeks * occ[None, :]
        weeks = max((o - first) / pd.Timedelta(weeks=1), 1.0)
        hist = table((t < o).to_numpy()) / weeks * occ[None, :]
        for name, pred in (("hospital_hour_risk", own), ("seasonal_naive", seasonal), ("historical_mean", hist)):
            top = coverage_metrics(pred.ravel(), actual.ravel(), coverage=top_percent)["hit_rate"]
            rows.append({"origin": o, "method": name, "events": float(actual.sum()),
                         "deviance": _poisson_deviance(actual, np.maximum(pred, floor)), "top_share": top})
    by_period = pd.DataFrame(rows)
    summary = by_period.groupby("method", sort=False)[["deviance", "top_share"]].mean().reset_index()
    return HospitalHourBacktest(summary=summary, by_period=by_period, origins=origins, params={
        "seasonal_weeks": seasonal_weeks, "top_percent": top_percent, "floor": floor, "hospitals": len(ids),
        "events": len(ev), **risk_kw})
