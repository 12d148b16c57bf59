"""GCJ-02 / BD-09 conversions against the public test vectors, and round trips."""

import numpy as np
import pytest

from geo import crs

# (WGS-84 lat, lon) -> (GCJ-02 lat, lon), from the public eviltransform test suites.
VECTORS = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
]


@pytest.mark.parametrize(("wgs", "gcj"), VECTORS)
def test_forward_matches_published_vectors(wgs, gcj):
    lon, lat = crs.wgs84_to_gcj02(wgs[1], wgs[0])
    np.testing.assert_allclose([lat, lon], gcj, atol=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), VECTORS)
def test_inverse_recovers_wgs84_within_a_millimetre(wgs, gcj):
    lon, lat = crs.gcj02_to_wgs84(gcj[1], gcj[0])
    assert crs.haversine_m(lon, lat, wgs[1], wgs[0]) < 1e-3


def test_round_trips_within_one_metre_across_china():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(74, 134, 5000), rng.uniform(18, 53, 5000)
    for fwd, inv in ((crs.wgs84_to_gcj02, crs.gcj02_to_wgs84), (crs.wgs84_to_bd09, crs.bd09_to_wgs84)):
        blon, blat = inv(*fwd(lon, lat))
        assert crs.haversine_m(lon, lat, blon, blat).max() < 0.01
    # The offsets themselves are hundreds of metres: the test would catch an identity transform.
    glon, glat = crs.wgs84_to_bd09(lon, lat)
    assert np.median(crs.haversine_m(lon, lat, glon, glat)) > 100


def test_points_outside_china_are_not_shifted():
    lon, lat = crs.wgs84_to_gcj02(-84.5, 39.1)
    assert (float(lon), float(lat)) == (-84.5, 39.1)


def test_unknown_crs_name_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match="wgs84, gcj02, bd09"):
        crs.normalize_crs_name("mercator")
    assert crs.normalize_crs_name("高德") == "gcj02"


def test_projection_round_trip_and_metric_distances():
    x, y, epsg = crs.project([116.40, 116.41], [39.90, 39.90])
    assert epsg == 32650
    assert abs(np.hypot(x[1] - x[0], y[1] - y[0]) - crs.haversine_m(116.40, 39.90, 116.41, 39.90)) < 2
    lon, _lat = crs.unproject(x, y, epsg)
    np.testing.assert_allclose(lon, [116.40, 116.41], atol=1e-9)
