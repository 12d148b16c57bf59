"""Rolling-origin backtest: metric definitions and the Cincinnati burglary benchmark."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo import backtest

CINCINNATI = Path(__file__).resolve().parent / "data" / "cincinnati_burglary.csv.gz"


def test_metrics_by_hand():
    risk = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0, 0, 0, 0, 0])
    actual = np.array([3.0, 0, 1, 0, 0, 0, 0, 0, 0, 6])
    m = backtest.coverage_metrics(risk, actual, coverage=20)
    assert m["cells"] == 2
    assert m["hit_rate"] == pytest.approx(3 / 10)
    assert m["pai"] == pytest.approx((3 / 10) / (2 / 10))
    assert m["pei"] == pytest.approx(3 / 9)  # the best two cells hold 6 + 3


def test_ties_at_the_cut_count_by_expectation():
    risk = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    actual = np.array([4.0, 0.0, 0.0, 0.0, 0.0])
    m = backtest.coverage_metrics(risk, actual, coverage=20)  # one cell out of four tied ones
    assert m["hits"] == pytest.approx(1.0)


def test_events_outside_area_count_in_total():
    m = backtest.coverage_metrics(np.array([1.0, 0.0]), np.array([1.0, 0.0]), coverage=50, total=4)
    assert m["hit_rate"] == pytest.approx(0.25)


def test_rolling_origins_are_complete_months():
    days = pd.date_range("2025-01-01", "2025-12-31 20:00", freq="6h").values.astype("datetime64[ns]")
    t = days.astype(np.int64) / 86400e9
    origins = backtest.rolling_origins(t, horizon="month", n_periods=3)
    assert [o.strftime("%Y-%m-%d") for o in origins] == ["2025-10-01", "2025-11-01", "2025-12-01"]
    weeks = backtest.rolling_origins(t, horizon="week", n_periods=2)
    assert all(o.day_of_week == 0 for o in weeks)


MEDELLIN = Path(__file__).resolve().parent / "data" / "medellin_homicides.csv.gz"


def _cincinnati():
    d = pd.read_csv(CINCINNATI)
    return pd.DataFrame({"lon": d.longitude, "lat": d.latitude,
                         "received_at": pd.to_datetime(d.offense_date, errors="coerce")}).dropna()


def _medellin():
    d = pd.read_csv(MEDELLIN)
    return pd.DataFrame({"lon": d.longitude, "lat": d.latitude,
                         "received_at": pd.to_datetime(d.occurred_at, errors="coerce")}).dropna()


def test_backtest_reports_against_the_strongest_count_baseline():
    fast = ("naive_last", "naive_all", "naive_12m", "naive_decay", "kde_retrospective", "prospective")
    res = backtest.backtest(_cincinnati(), methods=fast, n_periods=3, horizon="month", cell_size=100)
    at5 = res.summary[res.summary.coverage == 5].set_index("method")["pai"]
    base = res.strongest_baseline(coverage=5)
    assert base in backtest.BASELINES and at5[base] == at5[list(backtest.BASELINES)].max()
    # Long-run counting beats last month's counts on burglaries (the point: naive_last is a weak bar).
    assert max(at5["naive_all"], at5["naive_decay"]) > at5["naive_last"]
    d = res.to_dict()
    assert d["periods"] == 3 and set(d["methods"]) == set(fast)
    assert d["strongest_baseline_pai_5"] == base
    assert d["ratio_to_baseline_pai_5"] == pytest.approx(at5[d["best_pai_5"]] / at5[base], rel=1e-5)
    for name in d["methods"]:
        assert set(d["methods"][name]["coverage"]) == {"1", "2", "5", "10"}
        for cov in d["methods"][name]["coverage"].values():
            assert set(cov) >= {"hit_rate", "pai", "pei"}
            assert 0 <= cov["hit_rate"] <= 1 and 0 <= cov["pei"] <= 1


@pytest.mark.slow
@pytest.mark.parametrize("load", [_cincinnati, _medellin], ids=["cincinnati", "medellin"])
def test_default_forecast_beats_counting_on_real_data(load):
    """12 rolling monthly origins: ``auto`` (the default) against the strongest count baseline."""
    methods = ("naive_last", "naive_all", "naive_12m", "naive_decay", "kde_retrospective", "auto")
    res = backtest.backtest(load(), methods=methods, n_periods=12, horizon="month", cell_size=100)
    ev = res.evidence("auto")
    assert len(ev.origins) == 12
    assert ev.baseline == res.strongest_baseline(coverage=5)
    assert ev.pai_diff > 0, (ev.pai_diff, ev.pai_diff_ci, res.params["auto_choices"])
    if load is _cincinnati:  # ~250 burglaries a month: the gain is established
        assert ev.pai_diff_ci[0] > 0, ev.pai_diff_ci
    # Medellín has ~50 homicides a month: the mean gain is positive but 12 months cannot rule out
    # zero, and the statement must say so rather than claim it.
    text = ev.statement()
    assert ("区间含 0" in text) == (ev.hit_gain_ci[0] <= 0), text


def test_auto_in_a_backtest_chooses_from_earlier_origins_only():
    res = backtest.backtest(_cincinnati(), methods=("naive_all", "auto"), n_periods=2, cell_size=150,
                            params={"auto": {"n_origins": 2, "candidates": ("naive_all", "naive_12m")}})
    choices = res.params["auto_choices"]
    assert list(choices) == [o.strftime("%Y-%m-%d") for o in res.origins]
    rows = res.by_period[res.by_period.coverage == 5].set_index(["origin", "method"])["pai"]
    for o in res.origins:  # auto's score at an origin is its chosen method's score there
        chosen = choices[o.strftime("%Y-%m-%d")]
        if chosen == "naive_all":
            assert rows[(o, "auto")] == rows[(o, "naive_all")]


def test_hospital_hour_forecast_beats_both_baselines_on_real_discs():
    """The 40 busiest 500 m discs of the real sets as hospitals; 12 monthly origins."""
    for load in (_cincinnati, _medellin):
        events = backtest.busiest_discs(load(), n=40, radius_m=500)
        assert events["hospital_id"].nunique() == 40
        res = backtest.hospital_hour_backtest(events, n_periods=12)
        assert len(res.origins) == 12
        assert res.beats_baselines() == {"deviance": True, "top_share": True}, res.summary.to_dict()


def test_backtest_rejects_unknown_method():
    events = pd.DataFrame({"lon": [116.4, 116.41], "lat": [39.9, 39.91],
                           "received_at": pd.to_datetime(["2026-01-01", "2026-03-01"])})
    with pytest.raises(ValueError, match="Unknown method"):
        backtest.backtest(events, methods=["oracle"])
