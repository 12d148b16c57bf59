"""Time profiles, peak windows, uniformity and trend tests."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from geo import temporal


def _events(hours, *, start="2026-03-02", days=120, seed=0):
    """Events at the given fractional hours of day on random days."""
    rng = np.random.default_rng(seed)
    hours = np.asarray(hours, dtype=float)
    day = rng.integers(0, days, hours.size)
    t = pd.Timestamp(start, tz="Asia/Shanghai") + pd.to_timedelta(day * 86400.0 + hours * 3600.0, unit="s")
    return pd.DataFrame({"received_at": t})


def _mins(label):
    h1, m1, h2, m2 = (int(v) for v in label.replace("-", ":").split(":"))
    return h1 * 60 + m1, h2 * 60 + m2


def test_profile_counts_weekday_and_hour():
    t = pd.to_datetime(["2026-03-02 08:10", "2026-03-02 08:50", "2026-03-08 23:59"]).tz_localize("Asia/Shanghai")
    prof = temporal.hour_weekday_profile(pd.DataFrame({"received_at": t}))
    assert prof.shape == (7, 24)
    assert prof.loc[0, 8] == 2  # Monday 08h
    assert prof.loc[6, 23] == 1  # Sunday 23h
    assert prof.to_numpy().sum() == 3


def test_profile_uses_local_wall_clock_of_aware_times():
    t = pd.Series(pd.to_datetime(["2026-03-02 00:30"]).tz_localize("UTC").tz_convert("Asia/Shanghai"))
    prof = temporal.hour_weekday_profile(pd.DataFrame({"received_at": t}))
    assert prof.loc[0, 8] == 1  # 00:30 UTC is 08:30 in Beijing


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_peak_window_found_within_30_minutes(seed):
    rng = np.random.default_rng(seed)
    hours = np.r_[rng.uniform(7.0, 9.0, 800), rng.uniform(0, 24, 200)]
    windows = temporal.peak_windows(_events(hours, seed=seed), share=0.8)
    assert len(windows) == 1
    s, e = _mins(windows[0])
    assert abs(s - 7 * 60) <= 30 and abs(e - 9 * 60) <= 30


def test_two_planted_peaks_give_two_windows():
    rng = np.random.default_rng(5)
    hours = np.r_[rng.uniform(6.5, 9.5, 600), rng.uniform(14.0, 16.0, 400), rng.uniform(0, 24, 100)]
    windows = temporal.peak_windows(_events(hours), share=0.85)
    assert len(windows) == 2
    (s1, e1), (s2, e2) = (_mins(w) for w in windows)
    assert abs(s1 - 390) <= 30 and abs(e1 - 570) <= 30
    assert abs(s2 - 840) <= 30 and abs(e2 - 960) <= 30


def test_window_wraps_past_midnight():
    rng = np.random.default_rng(3)
    hours = (23.0 + rng.uniform(0, 2.0, 500)) % 24
    assert temporal.peak_windows(_events(hours), share=0.9) in (["23:00-01:00"], ["23:00-00:45"], ["23:15-01:00"])


def test_windows_hold_at_least_the_share():
    rng = np.random.default_rng(9)
    minutes = rng.gamma(2.0, 200.0, 3000) % 1440
    for share in (0.3, 0.5, 0.75):
        table = temporal.peak_window_table(minutes, share=share)
        assert table["count"].sum() >= share * minutes.size
        assert len(table) <= 3


def test_bad_share_is_named():
    with pytest.raises(ValueError, match="share"):
        temporal.peak_window_table(np.r_[1.0], share=1.5)


def test_uniformity_test_separates_uniform_from_peaked():
    rng = np.random.default_rng(0)
    uniform = temporal.hour_uniformity_test(_events(rng.uniform(0, 24, 5000)))
    peaked = temporal.hour_uniformity_test(_events(np.r_[rng.uniform(0, 24, 4000), rng.uniform(8, 9, 400)]))
    assert uniform.p > 0.001 and not peaked.p > 1e-6
    assert peaked.dof == 23 and peaked.counts.sum() == 4400


def test_mann_kendall_matches_kendall_tau_and_detects_trends():
    rng = np.random.default_rng(1)
    x = np.arange(12) * 3.0 + rng.normal(0, 2, 12)
    mk = temporal.mann_kendall(x)
    tau = stats.kendalltau(np.arange(12), x).statistic
    assert mk.tau == pytest.approx(tau)
    assert mk.trend() == "up" and mk.slope == pytest.approx(3.0, abs=1.0)
    assert temporal.mann_kendall(-x).trend() == "down"
    assert temporal.mann_kendall(rng.normal(0, 1, 12)).n == 12


def test_monthly_trend_fills_empty_months():
    t = pd.to_datetime(["2026-01-05"] * 2 + ["2026-03-05"] * 5).tz_localize("Asia/Shanghai")
    tr = temporal.monthly_trend(pd.DataFrame({"received_at": t}), end="2026-04")
    assert tr.counts.tolist() == [2, 0, 5, 0]
