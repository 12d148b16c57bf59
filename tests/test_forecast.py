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

from geo.forecast_models import METHODS, Points, make_model  # noqa: E402
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
