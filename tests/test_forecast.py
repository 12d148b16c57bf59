"""Per-hospital hour-of-week risk and the grid forecasters."""

import numpy as np
import pandas as pd
import pytest

from geo import forecast


def _hospital_events(seed=0, days=180, rate_a=4.0, rate_b=1.0):
    """Hospital A busy on Monday mornings; hospital B flat over the week."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01", tz="Asia/Shanghai")
    rows = []
    n_a = rng.poisson(rate_a * days)
    t_a = rng.uniform(0, days * 86400, n_a)
    rows.append(pd.DataFrame({"received_at": start + pd.to_timedelta(t_a, unit="s"), "hospital_id": "A"}))
    mondays = pd.date_range(start, periods=days, freq="D")
    mondays = mondays[mondays.day_of_week == 0]
    n_peak = 40 * len(mondays)
    peak = mondays[rng.integers(0, len(mondays), n_peak)] + pd.to_timedelta(8 * 3600 + rng.uniform(0, 3600, n_peak),
                                                                            unit="s")
    rows.append(pd.DataFrame({"received_at": peak, "hospital_id": "A"}))
    n_b = rng.poisson(rate_b * days)
    t_b = rng.uniform(0, days * 86400, n_b)
    rows.append(pd.DataFrame({"received_at": start + pd.to_timedelta(t_b, unit="s"), "hospital_id": "B"}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def events():
    return _hospital_events()


def test_shape_and_peak_hour(events):
    risk = forecast.hospital_hour_risk(events, until="2026-06-01", horizon="month")
    assert list(risk.columns) == ["hospital_id", "weekday", "hour", "risk"]
    assert len(risk) == 2 * 168
    a = risk[risk.hospital_id == "A"]
    top = a.loc[a["risk"].idxmax()]
    assert (top["weekday"], top["hour"]) == (0, 8)


def test_total_risk_matches_recent_rate(events):
    risk = forecast.hospital_hour_risk(events, until="2026-06-01", horizon="month")
    b_total = risk.loc[risk.hospital_id == "B", "risk"].sum()
    assert b_total == pytest.approx(1.0 * 30, rel=0.25)  # June has 30 days, B has one incident a day
    week = forecast.hospital_hour_risk(events, until="2026-06-01", horizon="week")
    assert week.loc[week.hospital_id == "B", "risk"].sum() == pytest.approx(b_total * 7 / 30, rel=0.05)


def test_only_events_before_until_are_used(events):
    base = forecast.hospital_hour_risk(events, until="2026-05-01")
    future = pd.DataFrame({"received_at": pd.to_datetime(["2026-05-03 10:00"] * 50).tz_localize("Asia/Shanghai"),
                           "hospital_id": "B"})
    again = forecast.hospital_hour_risk(pd.concat([events, future], ignore_index=True), until="2026-05-01")
    pd.testing.assert_frame_equal(base, again)


def test_unknown_hospital_gets_zero_risk(events):
    risk = forecast.hospital_hour_risk(events, until="2026-06-01", hospital_ids=["B", "Z"])
    assert set(risk.hospital_id) == {"B", "Z"}
    assert risk.loc[risk.hospital_id == "Z", "risk"].sum() == 0
    assert risk.loc[risk.hospital_id == "B", "risk"].sum() > 0


def test_bad_horizon_is_named(events):
    with pytest.raises(ValueError, match="horizon"):
        forecast.hospital_hour_risk(events, until="2026-06-01", horizon="year")


# --------------------------------------------------------------------------- grid forecasters

from geo.forecast_auto import make_forecaster as make_model  # noqa: E402
from geo.forecast_models import ALL_METHODS as METHODS  # noqa: E402
from geo.forecast_models import Points  # noqa: E402
from tests._planted import Plant, offset_m, planted_events  # noqa: E402


@pytest.fixture(scope="module")
def grid_events():
    """A stable hotspot all year and a flare-up in the last three weeks before the origin."""
    stable = planted_events(n_background=1500, plants=(Plant(dx=400, dy=300, n=400, start_hour=8, end_hour=18),),
                            start="2026-01-01", days=334, seed=21)
    flare = planted_events(n_background=0, plants=(Plant(dx=-700, dy=-500, n=60, start_hour=8, end_hour=18),),
                           start="2026-11-10", days=20, seed=22)
    return pd.concat([stable, flare], ignore_index=True)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_ranks_the_stable_hotspot_high(grid_events, name):
    model = make_model(name).fit(grid_events, until="2026-12-01", cell_size=100)
    risk = model.predict(horizon="month")
    assert risk.shape == (model.grid_.ny, model.grid_.nx)
    assert np.isfinite(risk).all() and (risk >= 0).all()
    cx, cy = model.grid_.centres()
    from geo import crs

    lon, lat = crs.unproject(cx, cy, model.grid_.epsg)
    dx, dy = offset_m(lon, lat)
    stable = np.hypot(dx - 400, dy - 300) <= 150
    # The stable hotspot's cells are in the top 2 % of cells.
    assert risk.ravel()[stable].max() >= np.quantile(risk, 0.98)


def test_recent_flare_raises_self_exciting_risk_more_than_long_run_kde(grid_events):
    kw = {"until": "2026-12-01", "cell_size": 100}
    sepp = make_model("sepp").fit(grid_events, **kw)
    kde = make_model("kde_retrospective").fit(grid_events, **kw)
    from geo import crs

    cx, cy = sepp.grid_.centres()
    lon, lat = crs.unproject(cx, cy, sepp.grid_.epsg)
    dx, dy = offset_m(lon, lat)
    flare = np.hypot(dx + 700, dy + 500) <= 100

    def share(r):
        return r.ravel()[flare].sum() / r.sum()

    assert share(sepp.predict()) > share(kde.predict())
    assert 0 < sepp.theta_ < 0.95 and sepp.omega_ > 0


def test_models_ignore_events_after_origin(grid_events):
    pts = Points.from_events(grid_events)
    a = make_model("ensemble").fit(pts, until="2026-11-01", cell_size=100)
    b = make_model("ensemble").fit(pts.before(a.origin_), grid=a.grid_, until="2026-11-01")
    np.testing.assert_allclose(a.predict(), b.predict())


def test_unfitted_and_unknown_models_fail_clearly():
    with pytest.raises(ValueError, match="not fitted"):
        make_model("sepp").predict()
    with pytest.raises(ValueError, match="Unknown forecast method"):
        make_model("crystal_ball")


def test_demo_hospital_risk_peaks_on_weekday_mornings(demo_engine):
    from core.db import load_incidents

    events = load_incidents(demo_engine)
    until = events["received_at"].max().normalize() - pd.Timedelta(days=30)
    risk = forecast.hospital_hour_risk(events, until=until, horizon="month")
    busiest = risk.groupby("hospital_id")["risk"].sum().nlargest(5).index
    top = risk[risk.hospital_id.isin(busiest)].sort_values("risk").groupby("hospital_id").tail(1)
    assert (top["weekday"] <= 4).all() and top["hour"].between(6, 9).all()
    # Calibration: the busiest hospitals' forecast totals are within 40 % of what happened next month.
    nxt = events[(events.received_at >= until) & (events.received_at < until + pd.DateOffset(months=1))]
    actual = nxt["hospital_id"].value_counts()
    predicted = risk.groupby("hospital_id")["risk"].sum()
    ratio = predicted[busiest] / actual.reindex(busiest)
    assert ratio.between(0.6, 1.4).all(), ratio.to_dict()


def test_sparse_background_kernel_equals_gaussian_filter():
    from scipy import ndimage

    from geo.forecast_models import _gaussian_cell_kernel

    rng = np.random.default_rng(0)
    grid = np.zeros((60, 70))
    idx = np.sort(rng.choice(grid.size, 300, replace=False))
    grid.ravel()[idx] = rng.random(300)
    for sigma in (0.7, 1.5, 3.0):
        k = _gaussian_cell_kernel(idx, 70, sigma)
        ref = ndimage.gaussian_filter(grid, sigma, mode="constant", truncate=4.0).ravel()[idx]
        np.testing.assert_allclose(k @ grid.ravel()[idx], ref, atol=1e-12)


# --------------------------------------------------------------------------- count baselines, learned counts, auto


def _with_future_flood(pts: Points, origin: float) -> Points:
    """The same points plus 500 events right after ``origin`` in one place and 500 spread out."""
    rng = np.random.default_rng(5)
    n = 500
    x = np.r_[pts.x, np.full(n, pts.x[0]), rng.choice(pts.x, n)]
    y = np.r_[pts.y, np.full(n, pts.y[0]), rng.choice(pts.y, n)]
    t = np.r_[pts.t, origin + rng.uniform(0, 20, n), origin + rng.uniform(0, 20, n)]
    return Points(x, y, t, pts.epsg)


@pytest.mark.parametrize("name", ["naive_all", "naive_12m", "naive_decay", "boosted_counts", "auto"])
def test_events_after_the_origin_cannot_change_a_forecast(grid_events, name):
    pts = Points.from_events(grid_events)
    kw = {"n_origins": 2} if name == "auto" else {}
    a = make_model(name, **kw).fit(pts, until="2026-11-01", cell_size=100)
    b = make_model(name, **kw).fit(_with_future_flood(pts, a.origin_), grid=a.grid_, until="2026-11-01")
    np.testing.assert_array_equal(a.predict(), b.predict())
    if name == "auto":
        assert a.method_ == b.method_


def test_naive_decay_picks_a_short_half_life_when_hotspots_move(grid_events):
    """Each month's events sit in a new place that stays hot for one month only: short memory wins."""
    from tests._planted import Plant, planted_events

    months = []
    for k in range(12):
        start = (pd.Timestamp("2025-01-01") + pd.DateOffset(months=k)).strftime("%Y-%m-%d")
        # The hot place of month k appears in its second half and persists into month k + 1.
        for j, (day0, days) in enumerate(((14, 17), (31, 14))):
            s = (pd.Timestamp(start) + pd.Timedelta(days=day0)).strftime("%Y-%m-%d")
            months.append(planted_events(n_background=0, start=s, days=days, seed=100 + 2 * k + j,
                                         plants=(Plant(dx=-1200 + 220 * k, dy=150 * (k % 3), n=40,
                                                       start_hour=0, end_hour=24),)))
    months.append(planted_events(n_background=600, start="2025-01-01", days=420, seed=99))
    ev = pd.concat(months, ignore_index=True)
    model = make_model("naive_decay").fit(ev, until="2026-01-01", cell_size=100)
    assert model.half_life_ <= 91, model.selection_scores_
    stable = make_model("naive_decay").fit(grid_events, until="2026-12-01", cell_size=100)
    assert stable.half_life_ >= model.half_life_


def test_pick_method_prefers_counting_unless_clearly_beaten():
    from geo.forecast_choice import pick_method

    assert pick_method({"naive_all": 4.0, "naive_12m": 3.9, "boosted_counts": 4.05}) == "naive_all"  # +1 % < 2 %
    assert pick_method({"naive_all": 4.0, "naive_12m": 3.9, "boosted_counts": 4.4}) == "boosted_counts"
    assert pick_method({"naive_all": 4.0, "naive_decay": 4.01}) == "naive_all"  # near-tie: the simpler
    assert pick_method({"naive_all": 4.0, "naive_decay": 4.5}) == "naive_decay"
    assert pick_method({"naive_all": 4.0, "boosted_counts": 4.4}, min_gain=0.2) == "naive_all"


def test_paired_bootstrap_is_seeded_and_brackets_the_estimate():
    from geo.forecast_choice import paired_bootstrap

    rng = np.random.default_rng(1)
    b = rng.uniform(3, 5, 12)
    a = b + rng.normal(0.5, 0.2, 12)
    est, lo, hi = paired_bootstrap(a, b, random_state=3)
    assert lo < est < hi and lo > 0
    assert (est, lo, hi) == paired_bootstrap(a, b, random_state=3)
    g, glo, ghi = paired_bootstrap(a, b, statistic="gain")
    assert g == pytest.approx(a.mean() / b.mean() - 1) and glo < g < ghi
    _, lo0, hi0 = paired_bootstrap(b + rng.normal(0, 0.3, 12), b)
    assert lo0 < 0 < hi0


def _choice(learned_gain: float, noise: float = 0.05):
    from geo.forecast_choice import choice_from_periods

    rng = np.random.default_rng(0)
    origins = pd.date_range("2025-01-01", periods=12, freq="MS")
    rows = []
    for o in origins:
        base = rng.uniform(0.2, 0.3)
        for m, hit in (("naive_all", base), ("naive_12m", base * 0.9),
                       ("boosted_counts", base * (1 + learned_gain + rng.normal(0, noise)))):
            rows.append({"origin": o, "method": m, "coverage": 5, "hit_rate": hit, "pai": hit / 0.05,
                         "pei": hit / 0.4, "hits": hit * 200})
    return choice_from_periods(pd.DataFrame(rows), window=(pd.Timestamp("2023-01-01"), pd.Timestamp("2025-12-31")))


def test_worth_statement_reports_gain_with_interval_or_says_counting():
    good = _choice(0.3)
    assert good.method == "boosted_counts" and good.beats_baseline and good.baseline == "naive_all"
    assert good.hit_gain_ci[0] > 0
    text = good.statement()
    assert "下月预测" in text and "圈定 5% 区域" in text and "比按全部历史计数多" in text and "95% 区间" in text
    assert f"{100 * good.hit_gain:.0f}%" in text and "2025-01 至 2025-12 共 12 期" in text
    assert "2023-01-01 至 2025-12-31" in text
    flat = _choice(-0.05)
    assert flat.method == "naive_all" and not flat.beats_baseline
    assert "未能稳定优于按历史计数" in flat.statement()
    assert flat.to_dict()["statement"] == flat.statement()


def test_quiet_spell_at_a_rare_hospital_does_not_zero_its_risk():
    """A hospital with an incident every few days for two years, then three quiet months."""
    rng = np.random.default_rng(3)
    t = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 640, 200), unit="D")
    ev = pd.DataFrame({"received_at": t, "hospital_id": "C"})
    until = pd.Timestamp("2024-01-01") + pd.Timedelta(days=730)
    shrunk = forecast.hospital_hour_risk(ev, until=until)["risk"].sum()
    recent_only = forecast.hospital_hour_risk(ev, until=until, level_prior_events=0)["risk"].sum()
    long_run = 200 / 640 * 30
    assert recent_only == 0
    assert 0.3 * long_run < shrunk < long_run
