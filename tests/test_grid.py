"""Regular analysis grid: alignment, stable ids, counting and WGS-84 outlines."""

import numpy as np
import pytest

from geo import crs
from geo.grid import Grid


def _grid(x, y, **kw):
    return Grid.from_points(np.asarray(x, float), np.asarray(y, float), epsg=32650, cell_size=100.0, **kw)


def test_grid_is_bounded_to_data_plus_margin():
    g = _grid([450_010, 452_990], [4_416_020, 4_417_050], margin_cells=2)
    # 30 columns of data (4500..4529) + 2 margin cells each side.
    assert (g.nx, g.ny) == (34, 15)
    assert g.col0 == 4498 and g.row0 == 44158


def test_cell_ids_are_stable_across_extents():
    a = _grid([450_050, 451_000], [4_416_050, 4_417_000])
    b = _grid([449_000, 455_000], [4_410_000, 4_420_000])
    pt = (np.array([450_555.0]), np.array([4_416_777.0]))
    assert a.cell_ids(a.locate(*pt)) == b.cell_ids(b.locate(*pt))
    assert a.cell_ids(a.locate(*pt))[0] == "4505_44167"


def test_locate_and_counts_agree_with_centres():
    g = _grid([450_000, 452_000], [4_416_000, 4_418_000])
    cx, cy = g.centres()
    assert np.array_equal(g.locate(cx, cy), np.arange(g.n_cells))
    counts = g.counts(np.r_[cx[5], cx[5], 0.0], np.r_[cy[5], cy[5], 0.0])
    assert counts.sum() == 2 and counts.ravel()[5] == 2  # the far-away point is outside the grid


def test_wgs84_bounds_contain_centres_and_match_cell_size():
    g = _grid([450_000, 451_000], [4_416_000, 4_417_000])
    b = g.bounds_wgs84()
    assert ((b.min_lon < b.lon) & (b.lon < b.max_lon) & (b.min_lat < b.lat) & (b.lat < b.max_lat)).all()
    width = crs.haversine_m(b.min_lon, b.lat, b.max_lon, b.lat)
    assert np.allclose(width, 100.0, rtol=0.02)
    polys = g.polygons_wgs84()
    assert all(p.is_valid for p in polys)


def test_bad_cell_size_is_named():
    with pytest.raises(ValueError, match="cell_size"):
        Grid.from_points(np.r_[0.0], np.r_[0.0], epsg=32650, cell_size=0)
