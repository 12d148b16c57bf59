"""The dashboard's offline folium maps: local assets only, aggregation of large layers, GCJ-02 base maps."""

from __future__ import annotations

import json
from pathlib import Path

import folium
import numpy as np
import pandas as pd
import pytest
from branca.colormap import ColorMap
from folium import plugins

from core import settings
from dashboard import maps
from geo import crs as geo_crs


def _points(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"lon": 116.40 + rng.normal(0, 0.05, n), "lat": 39.92 + rng.normal(0, 0.04, n)})


def _walk(el):
    yield el
    for child in getattr(el, "_children", {}).values():
        yield from _walk(child)


def test_every_asset_is_vendored_and_served_locally():
    m = maps.base_map()
    maps.add_incidents(m, _points(50))
    maps.add_heat(m, _points(500))
    maps.add_hospitals(m, pd.DataFrame({"hospital_id": ["h1"], "name": ["<b>医院</b>"], "lon": [116.4], "lat": [39.9]}))
    maps.add_layer_control(m)
    urls = maps.asset_urls(m)
    assert any(u.endswith("leaflet.js") for u in urls)
    for url in urls:
        assert url.startswith("/app/static/"), url
        assert (maps.STATIC_DIR / url.removeprefix("/app/static/")).is_file(), url
    html = m.get_root().render()
    assert "cdn.jsdelivr" not in html and "cdnjs" not in html and "code.jquery" not in html
    assert "L.Icon.Default.imagePath = '/app/static/leaflet/images/'" in html
    # Hospital names go into tooltips as text, never as markup.
    assert "<b>" not in html
    hosp_layer = next(e for e in _walk(m) if isinstance(e, maps._Hospitals))
    assert hosp_layer.rows[0][2] == "&lt;b&gt;医院&lt;/b&gt;"
    assert not any(isinstance(e, ColorMap) for e in _walk(m))  # branca legends pull d3 from a CDN


def test_vendored_tree_is_small_and_documented():
    files = [p for p in maps.STATIC_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 1_000_000
    readme = (maps.STATIC_DIR / "README.md").read_text(encoding="utf-8")
    for pkg in ("leaflet", "leaflet.markercluster", "leaflet_heat"):
        assert pkg in readme


def test_few_points_are_clustered_markers():
    m = maps.base_map(districts=False)
    assert maps.add_incidents(m, _points(300)) == "markers"
    cluster = next(e for e in _walk(m) if isinstance(e, plugins.FastMarkerCluster))
    assert len(cluster.data) == 300


def test_many_points_are_aggregated_below_the_marker_limit():
    m = maps.base_map(districts=False)
    pts = _points(60_000)
    assert maps.add_incidents(m, pts, max_markers=5000) == "cells"
    layer = next(e for e in _walk(m) if isinstance(e, maps.CountCells))
    assert 0 < len(layer.rows) <= 5000
    # Aggregation keeps the most populated cells, so most incidents stay represented.
    assert sum(r[2] for r in layer.rows) > 0.5 * len(pts)
    assert "L.circleMarker" in m.get_root().render()
    assert not any(isinstance(e, plugins.FastMarkerCluster | folium.Marker) for e in _walk(m))


def test_grid_counts_conserve_the_total():
    pts = _points(10_000, seed=3)
    cells = maps.grid_counts(pts)
    assert cells["count"].sum() == len(pts)
    assert len(cells) < len(pts)


@pytest.mark.parametrize("tile_crs", ["gcj02", "wgs84"])
def test_points_line_up_with_the_configured_tiles(monkeypatch, tile_crs):
    monkeypatch.setattr(settings, "TILE_URL", "http://tiles.intranet.local/{z}/{x}/{y}.png")
    monkeypatch.setattr(settings, "TILE_CRS", tile_crs)
    hosp = pd.DataFrame({"hospital_id": ["h1"], "name": ["协和"], "lon": [116.409669], "lat": [39.910989]})
    m = maps.base_map(districts=False)
    maps.add_hospitals(m, hosp)
    assert any(isinstance(e, folium.TileLayer) for e in _walk(m))
    layer = next(e for e in _walk(m) if isinstance(e, maps._Hospitals))
    lon, lat = geo_crs.from_wgs84(116.409669, 39.910989, tile_crs)
    assert layer.rows[0][:2] == pytest.approx([float(lat), float(lon)], abs=1e-6)
    if tile_crs == "gcj02":  # GCJ-02 shifts Beijing by several hundred metres
        assert geo_crs.haversine_m(116.409669, 39.910989, float(lon), float(lat)) > 100


def test_default_base_map_has_no_tiles_but_district_outlines(monkeypatch):
    monkeypatch.setattr(settings, "TILE_URL", "")
    m = maps.base_map()
    assert not any(isinstance(e, folium.TileLayer) for e in _walk(m))
    outlines = [e for e in _walk(m) if isinstance(e, maps._GeoJsonText)]
    assert outlines
    names = {f["properties"]["name"] for f in json.loads(outlines[0].text)["features"]}
    expected = {f["properties"]["name"] for f in json.loads(
        Path(settings.DATA_DIR / "beijing_districts.geojson").read_text(encoding="utf-8"))["features"]}
    assert names == expected


def test_wms_url_gives_a_wms_layer(monkeypatch):
    monkeypatch.setattr(settings, "TILE_URL", "http://gis.intranet.local/geoserver/wms?service=WMS")
    m = maps.base_map(districts=False)
    assert any(isinstance(e, folium.WmsTileLayer) for e in _walk(m))


def _html(m: folium.Map) -> str:
    return m.get_root().render()


def test_scale_is_metric_in_chinese_units():
    out = _html(maps.base_map())
    assert "imperial: false" in out and "公里" in out and "米" in out
    assert "L.control.scale()" not in out  # folium's default adds miles and feet


def test_legend_matches_the_heat_colours_and_needs_no_cdn():
    m = maps.base_map()
    maps.add_heat(m, _points(500))
    maps.Legend("热力图", gradient=maps.HEAT_GRADIENT).add_to(m)
    out = _html(m)
    # The heat layer is drawn with the very colours the legend shows.
    heat = next(el for el in _walk(m) if isinstance(el, plugins.HeatMap))
    assert {str(k): v for k, v in heat.options["gradient"].items()} == {str(k): v for k, v in maps.HEAT_GRADIENT.items()}
    for colour in maps.HEAT_GRADIENT.values():
        assert colour in out
    assert not any(isinstance(el, ColorMap) for el in _walk(m))
    assert "d3" not in " ".join(maps.asset_urls(m))


def test_hospital_names_are_labels_and_choosing_one_zooms_to_it():
    hospitals = pd.DataFrame({"hospital_id": ["a", "b"], "name": ["甲医院<b>", "乙医院"],
                              "lon": [116.40, 116.45], "lat": [39.92, 39.95]})
    m = maps.base_map()
    layer = maps.add_hospitals(m, hospitals, highlight={"b"})
    maps.focus(m, 116.45, 39.95, zoom=15)
    out = _html(m)
    assert "permanent: true" in out and "hh-label" in out
    # Labels are HTML (Leaflet tooltips): names are escaped; the highlighted one is always named.
    assert [r[2] for r in layer.rows] == ["甲医院&lt;b&gt;", "乙医院"] and "<b>" not in out
    assert [r[5] for r in layer.rows] == [False, True]
    assert ".setView([39.95, 116.45], 15)" in out.replace("39.950000", "39.95")


def test_polygon_popups_and_style_fields_reach_the_browser():
    import geopandas as gpd
    from shapely.geometry import box

    cells = gpd.GeoDataFrame({"category": ["new"], "类型": ["新增热点"], "警情数": [12]},
                             geometry=[box(116.4, 39.9, 116.401, 39.901)], crs=4326)
    m = maps.base_map()
    maps.add_polygons(m, cells, name="新兴热点", color_of=lambda p: maps.EMERGING_COLORS[p["category"]],
                      tooltip_fields=["类型"], popup_fields=["类型", "警情数"], style_fields=["category"])
    out = _html(m)
    assert maps.EMERGING_COLORS["new"] in out  # coloured by category, not the grey fallback
    assert "GeoJsonPopup" in out or "bindPopup" in out


def test_text_from_the_data_is_never_run_as_a_template():
    """folium re-parsed each rendered layer as a Jinja template: a hospital named ``{{ 7*7 }}`` showed as 49 and
    ``{{ cycler.__init__.__globals__.os... }}`` ran on the server. Every path that turns a map into HTML for the
    browser must keep such text as it is."""
    import geopandas as gpd
    from shapely.geometry import box
    from streamlit_folium import generate_leaflet_string

    from tests.test_hostile_input import HOSTILE

    templates = [t for t in HOSTILE if "{" in t]
    hospitals = pd.DataFrame({"hospital_id": [f"h{i}" for i in range(len(templates))], "name": templates,
                              "lon": 116.40 + 0.01 * np.arange(len(templates)), "lat": 39.92})
    polygons = gpd.GeoDataFrame({"所属医院": templates, "警情数": range(len(templates))},
                                geometry=[box(116.4 + i / 100, 39.9, 116.401 + i / 100, 39.901)
                                          for i in range(len(templates))], crs=4326)
    m = maps.base_map()
    maps.add_hospitals(m, hospitals, highlight=set(hospitals["hospital_id"]))
    layers = folium.FeatureGroup(name="警情图层")
    maps.add_polygons(layers, polygons, name="聚集区", color_of=lambda _p: maps.CLUSTER_COLOR,
                      tooltip_fields=["所属医院"], popup_fields=["所属医院", "警情数"])
    folium.Marker([39.9, 116.4], tooltip=templates[0], popup=templates[1]).add_to(layers)
    layers.add_to(m)
    for out in (_html(m), generate_leaflet_string(m)):
        assert str(Path.cwd()) not in out and "环环环" not in out
        assert "49号医院" not in out
        assert "{{ 7*7 }}号医院" in out and "{% for i in range(3) %}" in out
