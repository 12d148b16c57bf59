"""Grid Gi*, density clusters and the KDE surface find planted hotspots and nothing in noise."""

import numpy as np
import pandas as pd
import pytest
import shapely

from geo import crs, hotspots
from geo.grid import Grid
from tests._planted import Plant, offset_m, planted_events

PLANTS = (
    Plant(dx=600, dy=-400, n=300, start_hour=7.0, end_hour=9.0, hospital_id="H1"),
    Plant(dx=-900, dy=700, n=200, start_hour=14.0, end_hour=16.0, hospital_id="H2"),
)


@pytest.fixture(scope="module")
def planted():
    return planted_events(n_background=3000, plants=PLANTS, seed=11)


def _mins(label):
    h1, m1, h2, m2 = (int(v) for v in label.replace("-", ":").split(":"))
    return h1 * 60 + m1, h2 * 60 + m2


def test_gi_star_finds_planted_hotspots_within_one_cell(planted):
    res = hotspots.gi_star_grid(planted, cell_size=100)
    hot = res.hot
    assert set(hot["bin"]) <= {1, 2, 3}
    for plant in PLANTS:
        dx, dy = offset_m(hot["lon"].to_numpy(), hot["lat"].to_numpy())
        d = np.hypot(dx - plant.dx, dy - plant.dy)
        nearest = hot.iloc[int(np.argmin(d))]
        assert d.min() <= 100 * np.sqrt(2) / 2 + 1  # the planted point lies in a hot cell or on its edge
        assert nearest["bin"] == 3
    # The strongest cell is one of the planted places, at most one cell away (Gi* smooths over 3 × 3).
    dx, dy = offset_m(hot["lon"].to_numpy()[:1], hot["lat"].to_numpy()[:1])
    assert min(max(abs(dx[0] - p.dx), abs(dy[0] - p.dy)) for p in PLANTS) <= 150


def test_fast_gi_star_equals_esda(planted):
    res = hotspots.gi_star_grid(planted, cell_size=150)
    for k in (1, 2):
        np.testing.assert_allclose(hotspots.gi_star_z(res.counts, k=k), hotspots.gi_star_esda(res.counts, k=k),
                                   atol=1e-6)
    # On the default study area (occupied cells only) as well; NaN outside it in both.
    sparse = planted.iloc[::8]
    res = hotspots.gi_star_grid(sparse, cell_size=100)
    assert not res.area.all()
    np.testing.assert_allclose(res.z, hotspots.gi_star_grid(sparse, cell_size=100, method="esda").z, atol=1e-6)


def test_result_frame_is_wgs84_and_consistent(planted):
    res = hotspots.gi_star_grid(planted, cell_size=100)
    cells = res.cells
    assert cells.crs.to_epsg() == 4326
    assert {"cell_id", "count", "z", "p", "p_fdr", "significant", "bin", "geometry"} <= set(cells.columns)
    assert cells["count"].sum() == len(planted)
    assert (cells["p_fdr"] >= cells["p"] - 1e-12).all()
    assert ((cells["bin"] != 0) == (cells["p_fdr"] < 0.10)).all()


@pytest.mark.parametrize("seed", range(4))
def test_uniform_points_give_no_hot_cells_beyond_fdr_rate(seed):
    rng = np.random.default_rng(seed)
    grid = Grid(epsg=32650, col0=4480, row0=44160, cell_size=100.0, nx=30, ny=30)
    n = 20_000
    x = (grid.col0 + rng.uniform(0, grid.nx, n)) * grid.cell_size
    y = (grid.row0 + rng.uniform(0, grid.ny, n)) * grid.cell_size
    lon, lat = crs.unproject(x, y, grid.epsg)
    res = hotspots.gi_star_grid(pd.DataFrame({"lon": lon, "lat": lat}), grid=grid)
    assert res.counts.sum() == n
    assert res.hot.shape[0] <= 0.05 * grid.n_cells


def test_gi_star_rejects_bad_options(planted):
    with pytest.raises(ValueError, match="method"):
        hotspots.gi_star_grid(planted, method="arcgis")
    with pytest.raises(ValueError, match="alpha"):
        hotspots.gi_star_grid(planted, alpha=1.5)


def test_clusters_find_planted_spots_with_hospital_mix_and_hours(planted):
    clusters = hotspots.find_clusters(planted, eps_m=40, min_samples=15)
    assert clusters.crs.to_epsg() == 4326
    for plant in PLANTS:
        dx, dy = offset_m(clusters["lon"].to_numpy(), clusters["lat"].to_numpy())
        i = int(np.argmin(np.hypot(dx - plant.dx, dy - plant.dy)))
        row = clusters.iloc[i]
        assert np.hypot(dx[i] - plant.dx, dy[i] - plant.dy) <= 30
        assert plant.n * 0.9 <= row["count"] <= plant.n * 1.2
        assert row["hospital_id"] == plant.hospital_id
        assert sum(row["category_mix"].values()) == row["count"]
        s, e = _mins(row["peak_windows"][0])
        assert s >= plant.start_hour * 60 - 30 and e <= plant.end_hour * 60 + 30
        assert row["geometry"].contains(shapely.Point(row["lon"], row["lat"]))


def test_identical_points_cluster_by_weight():
    lon = np.r_[np.full(12, 116.40), np.full(5, 116.41)]
    lat = np.r_[np.full(12, 39.90), np.full(5, 39.91)]
    events = pd.DataFrame({"lon": lon, "lat": lat})
    clusters = hotspots.find_clusters(events, eps_m=50, min_samples=10)
    assert len(clusters) == 1 and clusters.iloc[0]["count"] == 12
    assert clusters.iloc[0]["geometry"].area > 0
    assert clusters.iloc[0]["hospital_id"] is None


def test_cluster_hospital_falls_back_to_nearest_within_radius():
    events = pd.DataFrame({"lon": np.full(20, 116.40), "lat": np.full(20, 39.90)})
    hospitals = pd.DataFrame({"hospital_id": ["near", "far"], "lon": [116.402, 116.45], "lat": [39.90, 39.90]})
    clusters = hotspots.find_clusters(events, hospitals=hospitals)
    assert clusters.iloc[0]["hospital_id"] == "near"


def test_no_clusters_in_sparse_points_returns_empty_frame():
    events = pd.DataFrame({"lon": 116.4 + np.arange(5) * 0.01, "lat": np.full(5, 39.9)})
    out = hotspots.find_clusters(events)
    assert len(out) == 0 and "peak_windows" in out.columns


def test_kde_peak_is_at_the_strongest_plant(planted):
    kde = hotspots.kde_surface(planted, bandwidth_m=60)
    assert kde.density.sum() * kde.grid.cell_area_m2 / 1e6 == pytest.approx(len(planted), rel=1e-3)
    cx, cy = kde.grid.centres()
    i = int(np.argmax(kde.density.ravel()))
    lon, lat = crs.unproject(cx[i:i + 1], cy[i:i + 1], kde.grid.epsg)
    dx, dy = offset_m(lon, lat)
    assert np.hypot(dx[0] - PLANTS[0].dx, dy[0] - PLANTS[0].dy) <= kde.grid.cell_size * 1.5
    assert len(kde.to_frame(min_share=0.5)) > 0


def test_sparse_and_dense_gi_paths_agree():
    rng = np.random.default_rng(4)
    counts = rng.poisson(0.3, (40, 50)).astype(float)
    counts[10:13, 20:23] += 8
    mask = counts > 0
    assert mask.mean() > 0.25  # dense path on the full mask
    dense = hotspots.gi_star_z(counts, mask=mask)
    big = np.zeros((200, 50))
    big[:40] = counts
    big_mask = np.zeros_like(big, dtype=bool)
    big_mask[:40] = mask
    assert big_mask.mean() < 0.25  # sparse path
    np.testing.assert_allclose(hotspots.gi_star_z(big, mask=big_mask)[:40], dense, atol=1e-9)


def test_weighted_dbscan_matches_scikit_learn():
    from sklearn.cluster import DBSCAN
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(8)
    xy = np.r_[rng.normal(0, 30, (300, 2)), rng.normal(400, 40, (200, 2)), rng.uniform(-1000, 1000, (300, 2))]
    w = rng.integers(1, 4, xy.shape[0]).astype(float)
    ours = hotspots.weighted_dbscan(xy, w, eps=35, min_samples=12)
    ref = DBSCAN(eps=35, min_samples=12).fit(xy, sample_weight=w)
    core = np.zeros(xy.shape[0], bool)
    core[ref.core_sample_indices_] = True
    assert np.array_equal(ours >= 0, ref.labels_ >= 0)
    assert adjusted_rand_score(ours[core], ref.labels_[core]) == 1.0
    assert len(set(ours[ours >= 0])) >= 2


def test_demo_store_hotspots_show_the_planted_registration_peak(demo_engine):
    """The demo plants gate micro-hotspots and a weekday 06:00–09:30 registration peak: both are found."""
    from core.db import load_hospitals, load_incidents
    from geo.hotspot_report import hotspot_refresh

    events = load_incidents(demo_engine)
    ref = hotspot_refresh(events, hospitals=load_hospitals(demo_engine))
    assert len(ref.clusters) > 0 and len(ref.gi.hot) > 0
    top = ref.clusters.iloc[0]
    assert top["hospital_id"] is not None
    start, end = _mins(top["peak_windows"][0])
    assert abs(start - 6 * 60) <= 30 and abs(end - (9 * 60 + 30)) <= 30
    # Hot cells lie where the clusters are: the strongest hot cell is inside or near the largest cluster.
    hot = ref.gi.hot.iloc[0]
    assert crs.haversine_m(hot["lon"], hot["lat"], top["lon"], top["lat"]) < 1000
    assert ref.emerging is not None and set(ref.hot_cells["emerging"]) - {"no_pattern"}


def test_refresh_leaves_approximate_complaints_out_of_the_map_but_in_the_hours():
    from geo.hotspot_report import hotspot_refresh

    base = planted_events(n_background=2000, plants=PLANTS, seed=12)
    base["approximate"] = False
    pinned = base.iloc[:60].copy()
    pinned[["lon", "lat"]] = (116.395, 39.905)  # a hospital's reference point
    pinned["approximate"] = True
    pinned["hospital_id"] = "H9"
    ref = hotspot_refresh(pd.concat([base, pinned], ignore_index=True))
    d = crs.haversine_m(ref.clusters["lon"].to_numpy(), ref.clusters["lat"].to_numpy(), 116.395, 39.905)
    assert (d > 50).all()
    assert ref.profiles.loc[ref.profiles.hospital_id == "H9", "count"].sum() == 60
    assert "H9" in ref.peak_windows


def test_exact_inference_controls_false_hot_cells_in_sparse_uniform_points():
    """Sparse counts are skewed: the normal p can flag a few cells; the exact randomisation p does not."""
    grid = Grid(epsg=32650, col0=4480, row0=44160, cell_size=100.0, nx=30, ny=30)
    any_exact = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        x = (grid.col0 + rng.uniform(0, grid.nx, 300)) * grid.cell_size
        y = (grid.row0 + rng.uniform(0, grid.ny, 300)) * grid.cell_size
        lon, lat = crs.unproject(x, y, grid.epsg)
        events = pd.DataFrame({"lon": lon, "lat": lat})
        exact = hotspots.gi_star_grid(events, grid=grid, inference="exact")
        normal = hotspots.gi_star_grid(events, grid=grid)
        np.testing.assert_allclose(exact.z, normal.z, equal_nan=True)
        assert len(normal.hot) <= 0.05 * normal.area.sum()
        any_exact += len(exact.hot) > 0
    assert any_exact <= 1


def test_exact_p_matches_brute_force_randomisation():
    rng = np.random.default_rng(1)
    vals = rng.poisson(1.2, 200).astype(float)
    vals[0] = 9
    card = np.full(200, 9.0)
    local = np.full(200, 16.0)
    p = hotspots._exact_randomisation_p(local, card, vals, screen=1.0)
    # Monte Carlo: 9 draws with replacement from the other 199 values.
    others = vals[1:]
    sims = rng.choice(others, size=(200_000, 9)).sum(axis=1)
    mc = 2 * min((sims >= 16).mean(), (sims <= 16).mean())
    assert p[0] == pytest.approx(mc, rel=0.1)
