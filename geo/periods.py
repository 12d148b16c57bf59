"""Complete periods: which days, weeks and months of a store hold all their data.

A store's newest day is usually still running (the demo and a live feed end on the current day),
and a month whose last day is missing is not a month: drawn as one it falls to almost zero and a
score computed on it says a hospital got quiet. The functions here are pure (dates in, dates or
labels out) so that pages, exports and the command line agree on one rule:

* a **day** is complete when it lies before the current day and no later than the last day with
  data (the current day is never complete);
* a **week** (Monday to Sunday) or a **month** is complete when its last day is complete.

Labels for an incomplete period are 本月至今 / 本周至今 / 今日 when the period is the current one,
and always carry the day the data reach (截至 X 日).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import pandas as pd

Freq = Literal["D", "W", "M"]

_FREQ_NAMES = {"D": "日", "W": "周", "M": "月"}


def _as_date(value: dt.date | dt.datetime | pd.Timestamp | str) -> dt.date:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.date()


def last_complete_day(last_data_day: dt.date | str, today: dt.date | str) -> dt.date:
    """The newest day whose data are complete.

    Parameters
    ----------
    last_data_day
        The last local date holding data.
    today
        The current local date (that day is still running, so it is never complete).

    Returns
    -------
    datetime.date
        ``min(last_data_day, today - 1 day)``.
    """
    last, now = _as_date(last_data_day), _as_date(today)
    return min(last, now - dt.timedelta(days=1))


def period_of(day: dt.date | str, freq: Freq) -> pd.Period:
    """The day, Monday-to-Sunday week or calendar month containing ``day``."""
    return pd.Period(_as_date(day), freq="W-SUN" if freq == "W" else freq)


def period_end(period: pd.Period) -> dt.date:
    """The last day of ``period``."""
    return period.end_time.date()


def is_complete(period: pd.Period, complete_through: dt.date) -> bool:
    """Whether every day of ``period`` is complete (its last day ≤ ``complete_through``)."""
    return period_end(period) <= complete_through


def last_complete_period(complete_through: dt.date | str, freq: Freq) -> pd.Period:
    """The newest complete day, week or month, given the last complete day.

    >>> str(last_complete_period(dt.date(2026, 12, 1), "M"))
    '2026-11'
    >>> str(last_complete_period(dt.date(2026, 11, 30), "M"))
    '2026-11'
    """
    day = _as_date(complete_through)
    p = period_of(day, freq)
    return p if is_complete(p, day) else p - 1


def last_complete_month(last_data_day: dt.date | str, today: dt.date | str) -> str:
    """"YYYY-MM" of the newest complete month of a store (see :func:`last_complete_day`)."""
    return str(last_complete_period(last_complete_day(last_data_day, today), "M"))


def last_complete_week(last_data_day: dt.date | str, today: dt.date | str) -> tuple[dt.date, dt.date]:
    """(Monday, Sunday) of the newest complete week of a store."""
    p = last_complete_period(last_complete_day(last_data_day, today), "W")
    return p.start_time.date(), period_end(p)


def month_after_last_complete(last_data_day: dt.date | str, today: dt.date | str) -> str:
    """The month to plan by default: the one after the newest complete month ("YYYY-MM")."""
    return str(pd.Period(last_complete_month(last_data_day, today), "M") + 1)


def partial_label(period: pd.Period, complete_through: dt.date, *, today: dt.date | str | None = None,
                  data_through: dt.date | None = None) -> str:
    """A Chinese label for a period, saying how far an incomplete one reaches.

    Parameters
    ----------
    period
        A day, week or month.
    complete_through
        The last complete day.
    today
        The current date: an incomplete period containing it is called 本月至今 / 本周至今 / 今日.
    data_through
        The last day with data (default ``complete_through``); the label ends 截至 this day.

    Returns
    -------
    str
        ``""`` for a complete period, else e.g. ``"本月至今（截至12月1日）"`` or ``"截至11月20日"``.
    """
    if is_complete(period, complete_through):
        return ""
    through = data_through or complete_through
    through = min(through, period_end(period))
    cut = f"截至{through.month}月{through.day}日"
    freq = period.freqstr[0]
    if today is not None and period_of(today, "W" if freq == "W" else freq) == period:
        now_name = {"D": "今日", "W": "本周至今", "M": "本月至今"}.get(freq, "至今")
        return f"{now_name}（{cut}）"
    return cut


@dataclass(frozen=True)
class Window:
    """The data window of a figure: first and last day used, and whether the last period is partial."""

    start: dt.date
    end: dt.date
    partial: str = ""

    def caption(self) -> str:
        """E.g. "数据范围：2026年1月1日至2026年11月30日"."""
        text = f"数据范围：{fmt_date(self.start)}至{fmt_date(self.end)}"
        return f"{text}（最后一期{self.partial}，不完整，单独标出）" if self.partial else text


def fmt_date(day: dt.date | str) -> str:
    """A date in Chinese: 2026年12月1日."""
    d = _as_date(day)
    return f"{d.year}年{d.month}月{d.day}日"


def fmt_month(month: str | pd.Period) -> str:
    """A month in Chinese: 2026年12月."""
    p = pd.Period(month, "M")
    return f"{p.year}年{p.month}月"


def split_complete(counts: pd.Series, freq: Freq, complete_through: dt.date) -> tuple[pd.Series, pd.Series]:
    """Split per-period counts into complete periods and the incomplete tail.

    Parameters
    ----------
    counts
        Counts indexed by the first day of each period (timestamps) or by ``pandas.Period``.
    freq
        "D", "W" or "M".
    complete_through
        The last complete day.

    Returns
    -------
    tuple of pandas.Series
        (complete, incomplete), both with the original index.
    """
    if counts.empty:
        return counts, counts
    idx = counts.index
    periods = idx if isinstance(idx, pd.PeriodIndex) else pd.DatetimeIndex(idx).to_period(
        "W-SUN" if freq == "W" else freq
    )
    ends = pd.DatetimeIndex(periods.end_time).normalize()
    done = ends <= pd.Timestamp(complete_through)
    return counts[done], counts[~done]
