"""Complete periods: the current day is never complete; a month counts only once its last day is complete."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from geo import periods as P

D = dt.date


def test_current_day_is_never_complete():
    # The demo ends on the current day: that day is still running.
    assert P.last_complete_day(D(2026, 12, 1), D(2026, 12, 1)) == D(2026, 11, 30)
    # A store whose data stop earlier is complete through its last day.
    assert P.last_complete_day(D(2026, 10, 31), D(2026, 12, 1)) == D(2026, 10, 31)


@pytest.mark.parametrize(
    ("last", "today", "month"),
    [
        (D(2026, 12, 1), D(2026, 12, 1), "2026-11"),  # one running day of December: November is the last month
        (D(2026, 12, 1), D(2026, 12, 5), "2026-11"),  # December has one day of data only
        (D(2026, 11, 30), D(2026, 11, 30), "2026-10"),  # the 30th is still running
        (D(2026, 11, 30), D(2026, 12, 1), "2026-11"),
        (D(2026, 2, 28), D(2026, 3, 1), "2026-02"),  # short month
    ],
)
def test_last_complete_month(last, today, month):
    assert P.last_complete_month(last, today) == month


def test_default_month_is_after_last_complete_month():
    # Data to 1 December (the current day): plan December, not January.
    assert P.month_after_last_complete(D(2026, 12, 1), D(2026, 12, 1)) == "2026-12"
    assert P.month_after_last_complete(D(2026, 12, 31), D(2027, 1, 2)) == "2027-01"


def test_last_complete_week_is_monday_to_sunday():
    # 2026-12-01 is a Tuesday; the week of 23–29 November is the last complete one.
    mon, sun = P.last_complete_week(D(2026, 12, 1), D(2026, 12, 1))
    assert (mon, sun) == (D(2026, 11, 23), D(2026, 11, 29))
    assert mon.weekday() == 0 and sun.weekday() == 6
    # A Sunday of data, seen on Monday: that week is complete.
    assert P.last_complete_week(D(2026, 11, 29), D(2026, 11, 30)) == (D(2026, 11, 23), D(2026, 11, 29))


def test_partial_labels():
    through = D(2026, 11, 30)
    dec = pd.Period("2026-12", "M")
    assert P.partial_label(pd.Period("2026-11", "M"), through) == ""
    assert P.partial_label(dec, through, today=D(2026, 12, 1), data_through=D(2026, 12, 1)) == "本月至今（截至12月1日）"
    # Not the current month (data stopped mid-month long ago): only the cut-off.
    assert P.partial_label(pd.Period("2026-10", "M"), D(2026, 10, 19), today=D(2026, 12, 1)) == "截至10月19日"
    assert P.partial_label(pd.Period("2026-12-01", "D"), through, today=D(2026, 12, 1),
                           data_through=D(2026, 12, 1)).startswith("今日")


def test_split_complete_separates_the_running_month():
    counts = pd.Series([300, 310, 4], index=pd.to_datetime(["2026-10-01", "2026-11-01", "2026-12-01"]))
    done, tail = P.split_complete(counts, "M", D(2026, 11, 30))
    assert list(done) == [300, 310]
    assert list(tail) == [4]
    done, tail = P.split_complete(counts.iloc[:2], "M", D(2026, 11, 30))
    assert tail.empty and len(done) == 2


def test_chinese_dates():
    assert P.fmt_date(D(2026, 12, 1)) == "2026年12月1日"
    assert P.fmt_month("2026-03") == "2026年3月"
    w = P.Window(D(2026, 1, 1), D(2026, 12, 1), partial="本月至今（截至12月1日）")
    assert "2026年1月1日至2026年12月1日" in w.caption() and "不完整" in w.caption()


def test_keylist_never_scores_a_running_month(tmp_path_factory):
    """The list of the month after a one-day month is scored on the last complete month, and says so."""
    from planning.keylist import default_month, last_data_day, propose_keylist
    from tests._planning_store import MONTH, writable

    engine = writable(tmp_path_factory, "periods_keylist")
    last = last_data_day(engine)
    assert last is not None
    # Seen on the day after the data end, the month after the last full month is the default.
    seen = last + dt.timedelta(days=1)
    assert default_month(engine, today=seen) == P.month_after_last_complete(last, seen)
    honest = propose_keylist(engine, month=MONTH, size=2, today=seen)
    # Seen on the data's last day (still running), a list two months ahead is not scored on the running month.
    ahead = str(pd.Period(MONTH, "M") + 1)
    running = propose_keylist(engine, month=ahead, size=2, today=last)
    assessed = P.last_complete_month(last, last)
    assert all(f"按最近完整月{assessed}评估" in r for r in running["reasons"])
    if assessed == str(pd.Period(MONTH, "M") - 1):
        # Same month scored, same figures: the running month's few days did not enter the score.
        pd.testing.assert_series_equal(
            running.set_index("hospital_id")["score"].sort_index(), honest.set_index("hospital_id")["score"].sort_index()
        )
