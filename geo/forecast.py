"""Next-period risk: per (hospital, weekday, hour) for patrol planning, and per grid cell.

Per hospital and hour of week (:func:`hospital_hour_risk`): expected incidents = level
× hour-of-week shape. The level is an exponentially decayed daily rate over the last
``lookback_days`` (so a hospital heating up is followed quickly) shrunk toward the hospital's
long-run rate with a prior worth ``level_prior_events`` incidents (a quiet month at a rare-event hospital
does not zero it); the shape is the hospital's own 168-bin weekday × hour profile shrunk
toward the pooled profile of all hospitals (empirical-Bayes style, ``prior_strength``
pseudo-incidents), so sparse hospitals borrow the common rhythm while busy ones keep theirs.
:func:`geo.backtest.hospital_hour_backtest` scores it against a seasonal naive and the
historical mean (docs/forecast.md).

Grid forecasters live in :mod:`geo.forecast_models` and share one interface.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core import settings
from geo._events import local_times, require_columns

HORIZONS = ("day", "week", "month")


def to_local_naive(ts) -> pd.Timestamp:
    """A timestamp as naive local wall-clock time (tz-aware values go to ``settings.TIMEZONE``)."""
    t = pd.Timestamp(ts)
    if t.tzinfo is not None:
        t = t.tz_convert(settings.TIMEZONE).tz_localize(None)
    return t


def horizon_end(until, horizon: str | int) -> pd.Timestamp:
    """End (exclusive) of the forecast period starting at ``until``.

    ``horizon`` is ``"day"``, ``"week"``, ``"month"`` (one calendar month) or a number of days.
    """
    start = to_local_naive(until)
    if isinstance(horizon, int | np.integer) and not isinstance(horizon, bool):
        if horizon < 1:
            raise ValueError(f"`horizon` in days must be at least 1, got {horizon!r}.")
        return start + pd.Timedelta(days=int(horizon))
    if horizon == "day":
        return start + pd.Timedelta(days=1)
    if horizon == "week":
        return start + pd.Timedelta(days=7)
    if horizon == "month":
        return start + pd.DateOffset(months=1)
    raise ValueError(f"`horizon` must be one of {HORIZONS} or a number of days, got {horizon!r}.")


def _weekday_hours(start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """How many times each of the 168 weekday-hours occurs in ``[start, end)`` (hourly resolution)."""
    hours = pd.date_range(start.floor("h"), end, freq="h", inclusive="left")
    hours = hours[hours >= start.floor("h")]
    idx = hours.day_of_week * 24 + hours.hour
    return np.bincount(np.asarray(idx, dtype=np.int64), minlength=168).astype(float)


def hospital_hour_risk(
    events: pd.DataFrame,
    *,
    until,
    horizon: str | int = "month",
    hospital_ids=None,
    lookback_days: int = 84,
    half_life_days: float = 28.0,
    prior_strength: float = 50.0,
    profile_days: int = 365,
    level_prior_events: float = 10.0,
    long_run_days: int = 730,
) -> pd.DataFrame:
    """Expected incidents per hospital, weekday and hour over the period after ``until``.

    Parameters
    ----------
    events
        Frame with ``received_at`` and ``hospital_id`` (rows without a hospital are ignored).
    until
        Start of the forecast period; only events strictly before it are used.
    horizon
        ``"week"``, ``"month"`` (calendar month), ``"day"`` or a number of days.
    hospital_ids
        Hospitals to report (default: every hospital with events); hospitals without
        events get zero risk.
    lookback_days, half_life_days
        Window and exponential decay half-life of the recent daily rate.
    prior_strength
        Pseudo-incidents of the pooled weekday × hour profile added to each hospital's own.
    profile_days
        History used for the weekday × hour shape.
    level_prior_events
        Weight, in incidents, of the hospital's long-run daily rate as a prior of the recent
        rate (0 = recent rate only).
    long_run_days
        History of the long-run daily rate.

    Returns
    -------
    pandas.DataFrame
        Columns ``hospital_id, weekday (0=Monday), hour (0-23), risk``; 168 rows per hospital.
        ``risk`` is the expected number of incidents in that weekday-hour summed over the horizon.
    """
    require_columns(events, ("received_at", "hospital_id"))
    if (lookback_days < 1 or half_life_days <= 0 or prior_strength < 0 or profile_days < 1 or level_prior_events < 0
            or long_run_days < 1):
        raise ValueError("`lookback_days`, `profile_days`, `long_run_days` must be ≥ 1, `half_life_days` > 0, "
                         "`prior_strength` and `level_prior_events` ≥ 0.")
    start = to_local_naive(until)
    end = horizon_end(start, horizon)
    t = local_times(events)
    hosp = events["hospital_id"].astype("string")
    keep = (t < start).to_numpy() & hosp.notna().to_numpy()
    t = t[keep]
    hosp = hosp[keep].astype(str).to_numpy()
    ids = sorted(set(hosp.tolist())) if hospital_ids is None else [str(h) for h in hospital_ids]
    occurrences = _weekday_hours(start, end)
    cols = ["hospital_id", "weekday", "hour", "risk"]
    if not ids:
        return pd.DataFrame(columns=cols)
    index = {h: i for i, h in enumerate(ids)}
    known = np.array([h in index for h in hosp], dtype=bool)
    hi = np.array([index[h] for h in hosp[known]], dtype=np.int64)
    tk = t[known]
    age_days = ((start - tk).dt.total_seconds() / 86400.0).to_numpy()
    wh = (tk.dt.day_of_week * 24 + tk.dt.hour).to_numpy().astype(np.int64)

    # Shape: own profile over profile_days shrunk toward the pooled one.
    in_profile = age_days <= profile_days
    prof = np.zeros((len(ids), 168))
    np.add.at(prof, (hi[in_profile], wh[in_profile]), 1.0)
    pooled = prof.sum(axis=0)
    # A flat floor keeps hours never seen before possible (not certain zero).
    pooled = (pooled + 1.0) / (pooled.sum() + 168.0)
    shape = (prof + prior_strength * pooled) / (prof.sum(axis=1, keepdims=True) + prior_strength)

    # Level: exponentially decayed events per day over the look-back window.
    recent = age_days <= lookback_days
    decay = np.log(2.0) / half_life_days
    w = np.exp(-decay * age_days[recent])
    level_num = np.bincount(hi[recent], weights=w, minlength=len(ids))
    exposure = (1.0 - np.exp(-decay * lookback_days)) / decay  # ∫ e^{-decay a} da over the window
    level = level_num / exposure
    if level_prior_events > 0:
        # Gamma-Poisson shrinkage of the recent rate toward the hospital's long-run daily rate,
        # the prior worth ``level_prior_events`` incidents: a rare hospital's quiet month barely
        # moves it, a busy hospital's recent weeks outweigh it.
        span = min(float(long_run_days), max(float(age_days.max()) if age_days.size else 1.0, 1.0))
        long_rate = np.bincount(hi[age_days <= span], minlength=len(ids)) / span
        prior_days = np.where(long_rate > 0, level_prior_events / np.maximum(long_rate, 1e-12), 0.0)
        level = (level_num + prior_days * long_rate) / (exposure + prior_days)

    # Expected count per occurrence of a weekday-hour = 7 days × level × shape.
    risk = 7.0 * level[:, None] * shape * occurrences[None, :]
    return pd.DataFrame({
        "hospital_id": np.repeat(np.array(ids, dtype=object), 168),
        "weekday": np.tile(np.repeat(np.arange(7), 24), len(ids)),
        "hour": np.tile(np.tile(np.arange(24), 7), len(ids)),
        "risk": risk.ravel(),
    })
