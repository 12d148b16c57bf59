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


def _cincinnati():
    d = pd.read_csv(CINCINNATI)
    return pd.DataFrame({"lon": d.longitude, "lat": d.latitude,
                         "received_at": pd.to_datetime(d.offense_date, errors="coerce")}).dropna()


def test_best_method_beats_naive_and_kde_on_cincinnati_burglary():
    res = backtest.backtest(_cincinnati(), n_periods=4, horizon="month", cell_size=100)
    fast = backtest.DEFAULT_METHODS  # poisson_stack (slow) is scored in benchmarks/bench_backtest.py
    at5 = res.summary[res.summary.coverage == 5].set_index("method")["pai"]
    best_baseline = max(at5[m] for m in backtest.BASELINES)
    others = at5.drop(list(backtest.BASELINES))
    assert others.max() > best_baseline, at5.to_dict()
    d = res.to_dict()
    assert d["periods"] == 4
    assert set(d["methods"]) == set(fast)
    for name in d["methods"]:
        assert set(d["methods"][name]["coverage"]) == {"1", "2", "5", "10"}
        for cov in d["methods"][name]["coverage"].values():
            assert set(cov) >= {"hit_rate", "pai", "pei"}
            assert 0 <= cov["hit_rate"] <= 1 and 0 <= cov["pei"] <= 1


def test_backtest_rejects_unknown_method():
    events = pd.DataFrame({"lon": [116.4, 116.41], "lat": [39.9, 39.91],
                           "received_at": pd.to_datetime(["2026-01-01", "2026-03-01"])})
    with pytest.raises(ValueError, match="Unknown method"):
        backtest.backtest(events, methods=["oracle"])
