"""Knox near-repeat table, ST-DBSCAN clusters and emerging hot spot categories."""

import itertools

import numpy as np
import pandas as pd
import pytest
from pointpats import Knox

from geo import crs, spacetime
from tests._planted import CENTRE, Plant, offset_m, planted_events


def _near_repeat_events(seed=0, n=250):
    """Random events with planted near-repeat pairs (a follow-up within 80 m and 5 days)."""
    rng = np.random.default_rng(seed)
    cx, cy, epsg = crs.project([CENTRE[0]], [CENTRE[1]])
    x = cx[0] + rng.uniform(-2000, 2000, n)
    y = cy[0] + rng.uniform(-2000, 2000, n)
    d = rng.uniform(0, 365, n)
    k = n // 4
    x = np.r_[x, x[:k] + rng.uniform(-50, 50, k)]
    y = np.r_[y, y[:k] + rng.uniform(-50, 50, k)]
    d = np.r_[d, d[:k] + rng.uniform(0, 5, k)]
    lon, lat = crs.unproject(x, y, epsg)
    t = pd.Timestamp("2026-01-01") + pd.to_timedelta(d, unit="D")
    return pd.DataFrame({"lon": lon, "lat": lat, "received_at": t}), x, y, d


def test_knox_matches_brute_force_and_exact_expectation():
    events, _, _, d = _near_repeat_events()
    dist_edges, time_edges = [0, 100, 200, 400], [0, 7, 14, 28]
    res = spacetime.knox_table(events, distance_bands_m=dist_edges, time_bands_days=time_edges,
                               permutations=199, random_state=1)
    # Independent O(n²) count with plain Python loops.
    xm, ym, _ = crs.project(events.lon, events.lat)
    brute = np.zeros((3, 3))
    n = len(events)
    for a, b in itertools.combinations(range(n), 2):
        dd = float(np.hypot(xm[a] - xm[b], ym[a] - ym[b]))
        tt = abs(d[a] - d[b])
        for p in range(3):
            for q in range(3):
                if dist_edges[p] <= dd < dist_edges[p + 1] and time_edges[q] <= tt < time_edges[q + 1]:
                    brute[p, q] += 1
    np.testing.assert_array_equal(res.observed(), brute)
    # Permutation mean agrees with the closed-form expectation (Monte Carlo error only).
    tab = res.table
    np.testing.assert_allclose(tab["expected"], tab["expected_exact"], rtol=0.25, atol=1.0)
    first = tab.iloc[0]
    assert first["ratio"] > 2 and first["p"] <= 0.01  # the planted near repeats
    far = tab[(tab.d_lo >= 200) & (tab.t_lo >= 14)]
    assert (far["p"] > 0.01).all()


def test_knox_single_band_agrees_with_pointpats():
    events, _, _, d = _near_repeat_events(seed=3)
    xm, ym, _ = crs.project(events.lon, events.lat)
    res = spacetime.knox_table(events, distance_bands_m=[0, 150], time_bands_days=[0, 10], permutations=9)
    ref = Knox(np.column_stack([xm, ym]), d.reshape(-1, 1), delta=150, tau=10, permutations=0)
    assert res.observed()[0, 0] == ref.statistic_


def test_knox_rejects_bad_bands():
    events, *_ = _near_repeat_events(n=20)
    with pytest.raises(ValueError, match="distance_bands_m"):
        spacetime.knox_table(events, distance_bands_m=[100, 50])


def test_st_dbscan_separates_same_place_different_times():
    rng = np.random.default_rng(2)
    cx, cy, epsg = crs.project([CENTRE[0]], [CENTRE[1]])
    # Two bursts at the same corner two months apart, plus scattered noise.
    x = np.r_[cx[0] + rng.normal(0, 20, 40), cx[0] + rng.uniform(-3000, 3000, 100)]
    y = np.r_[cy[0] + rng.normal(0, 20, 40), cy[0] + rng.uniform(-3000, 3000, 100)]
    hours = np.r_[rng.uniform(0, 48, 20), 1440 + rng.uniform(0, 48, 20), rng.uniform(0, 8760, 100)]
    lon, lat = crs.unproject(x, y, epsg)
    t = pd.Timestamp("2026-01-05 08:00", tz="Asia/Shanghai") + pd.to_timedelta(hours, unit="h")
    events = pd.DataFrame({"lon": lon, "lat": lat, "received_at": t, "category": "医托"})
    labels, clusters = spacetime.st_dbscan(events, eps_m=100, eps_hours=24, min_samples=5)
    assert len(clusters) == 2
    assert set(labels[:20]) == {labels[0]} and set(labels[20:40]) == {labels[20]} and labels[0] != labels[20]
    assert clusters["count"].tolist() == [20, 20]
    assert (clusters["end"] - clusters["start"] <= pd.Timedelta(hours=48)).all()
    assert clusters.iloc[0]["category_mix"] == {"医托": 20}


@pytest.mark.parametrize(
    ("hot", "cold", "trend", "expected"),
    [
        ([0] * 11 + [1], [0] * 12, "none", "new"),
        ([0] * 9 + [1] * 3, [0] * 12, "up", "consecutive"),
        ([1] * 12, [0] * 12, "up", "intensifying"),
        ([1] * 12, [0] * 12, "none", "persistent"),
        ([0] + [1] * 11, [0] * 12, "down", "diminishing"),
        ([1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1], [0] * 12, "none", "sporadic"),
        ([1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1], [0, 1] + [0] * 10, "none", "oscillating"),
        ([1] * 11 + [0], [0] * 12, "none", "historical"),
        ([0] * 12, [0] * 12, "none", "no_pattern"),
        ([1, 1] + [0] * 10, [0] * 12, "none", "no_pattern"),
    ],
)
def test_emerging_rules(hot, cold, trend, expected):
    assert spacetime.classify_series(np.array(hot, bool), np.array(cold, bool), trend) == expected


def test_emerging_hotspots_find_new_and_persistent_cells():
    persistent = Plant(dx=500, dy=500, n=600, start_hour=8, end_hour=10)
    base = planted_events(n_background=4000, plants=(persistent,), seed=4, days=365)
    # A new hotspot only in the final month.
    new = planted_events(n_background=0, plants=(Plant(dx=-800, dy=-600, n=80, start_hour=9, end_hour=11),),
                         start="2026-12-01", days=31, seed=5)
    events = pd.concat([base, new], ignore_index=True)
    res = spacetime.emerging_hotspots(events, cell_size=150)
    cells = res.cells
    assert len(res.periods) == 12
    dx, dy = offset_m(cells["lon"].to_numpy(), cells["lat"].to_numpy())
    near_p = np.hypot(dx - 500, dy - 500) <= 150
    near_n = np.hypot(dx + 800, dy + 600) <= 150
    assert set(cells.loc[near_p, "category"]) & {"persistent", "intensifying", "diminishing"}
    assert "new" in set(cells.loc[near_n, "category"])
    assert set(cells["category"]) <= set(spacetime.EMERGING_CATEGORIES)
