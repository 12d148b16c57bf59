"""Offline folium maps for the dashboard: local assets, the base map and the data layers.

Importing this module points folium (and the plugins used here) at the copies of Leaflet and
its plugins vendored in ``dashboard/static`` and served by Streamlit at ``/app/static/...``, so a
map never asks a CDN for anything (the police intranet has no internet). Layers take frames in
WGS-84 and convert them to the coordinate system of the configured tiles (``settings.TILE_CRS``)
so points line up with an intranet GCJ-02 base map.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import folium
import numpy as np
import pandas as pd
from branca.element import Element, Figure, MacroElement
from folium import plugins
from folium.map import Layer
from folium.template import Template

from core import settings
from geo import crs as geo_crs

#: URL prefix of Streamlit's static file serving (``[server] enableStaticServing``).
STATIC_URL = "/app/static"
#: Folder of the vendored assets (served at :data:`STATIC_URL`).
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Above this many points the incident layer is aggregated to grid cells instead of markers.
MAX_MARKERS = 5000
#: Default view: central Beijing.
BEIJING_CENTER = (39.92, 116.40)

_LEAFLET_JS = [("leaflet", f"{STATIC_URL}/leaflet/leaflet.js")]
_LEAFLET_CSS = [("leaflet_css", f"{STATIC_URL}/leaflet/leaflet.css")]
_CLUSTER_JS = [("markerclusterjs", f"{STATIC_URL}/markercluster/leaflet.markercluster.js")]
_CLUSTER_CSS = [
    ("markerclustercss", f"{STATIC_URL}/markercluster/MarkerCluster.css"),
    ("markerclusterdefaultcss", f"{STATIC_URL}/markercluster/MarkerCluster.Default.css"),
]
_HEAT_JS = [("leaflet-heat.js", f"{STATIC_URL}/heat/leaflet_heat.min.js")]

#: Colours of the Gi* confidence bins -3..3 (cold blue .. hot red), as in ArcGIS Hot Spot Analysis.
GI_BIN_COLORS = {
    -3: "#4575b4", -2: "#91bfdb", -1: "#e0f3f8", 0: "#ffffff", 1: "#fee090", 2: "#fc8d59", 3: "#d73027",
}
#: Chinese names of the Gi* bins.
GI_BIN_LABELS = {
    3: "热点（99%置信）", 2: "热点（95%置信）", 1: "热点（90%置信）", 0: "不显著",
    -1: "冷点（90%置信）", -2: "冷点（95%置信）", -3: "冷点（99%置信）",
}
#: Heat-map colours (Leaflet.heat gradient): pale yellow where sparse to dark red where dense.
HEAT_GRADIENT = {0.2: "#fee391", 0.45: "#fdae61", 0.7: "#f46d43", 0.9: "#d73027", 1.0: "#a50026"}
#: Colour of the cluster outlines.
CLUSTER_COLOR = "#7b3294"
#: Colours of the emerging hot-spot categories (geo.spacetime), with their Chinese names.
EMERGING_COLORS = {
    "new": "#67000d", "consecutive": "#cb181d", "intensifying": "#ef3b2c", "persistent": "#fb6a4a",
    "diminishing": "#fcae91", "sporadic": "#fd8d3c", "oscillating": "#8c6bb1", "historical": "#9ecae1",
}
#: Zoom level from which every hospital carries its name (below, only highlighted ones).
LABEL_ZOOM = 13


def use_local_assets() -> None:
    """Point folium's Map and the plugins used by the dashboard at the vendored assets.

    The dashboard draws no awesome-markers icons, so jQuery, Bootstrap, Font Awesome and the
    glyphicons are not loaded at all. The map itself lists the cluster and heat plugins too: the
    incident layers are sent as a dynamic feature group (redrawn without reloading the map), and
    the map's script list must not change between reruns.
    """
    folium.Map.default_js = [*_LEAFLET_JS, *_CLUSTER_JS, *_HEAT_JS]
    folium.Map.default_css = [*_LEAFLET_CSS, *_CLUSTER_CSS]
    for cls in (plugins.MarkerCluster, plugins.FastMarkerCluster):
        cls.default_js = list(_CLUSTER_JS)
        cls.default_css = list(_CLUSTER_CSS)
    plugins.HeatMap.default_js = list(_HEAT_JS)
    plugins.HeatMap.default_css = []


use_local_assets()


class _Verbatim(Element):
    """A macro's output, already rendered: emitted as it is, never compiled again as a template."""

    def __init__(self, text: str):
        super().__init__()
        self._text = text

    def render(self, **kwargs: Any) -> str:
        return self._text


def _render_macro(self: MacroElement, **kwargs: Any) -> None:
    """``MacroElement.render`` of branca 0.8.2, except that the rendered parts are kept verbatim.

    branca wraps each rendered part in ``Element(text)``, which compiles that text as a Jinja template
    and renders it again. Text from the data (a hospital name, a cluster's category) then runs as a
    template: ``{{ 7*7 }}`` in a name became ``49`` and ``{{ cycler.__init__.__globals__.os... }}``
    ran code on the server. Compiling the data also cost ~0.1 s of every map rerun.
    """
    figure = self.get_root()
    assert isinstance(figure, Figure), "You cannot render this Element if it is not in a Figure."
    for element in self._children.values():
        element.render(**kwargs)
    module = self._template.module.__dict__
    for part, target in (("header", figure.header), ("html", figure.html), ("script", figure.script)):
        macro = module.get(part)
        if macro is not None:
            target.add_child(_Verbatim(macro(self, kwargs)), name=self.get_name())


def _render_popup(self: folium.Popup, **kwargs: Any) -> None:
    """``folium.Popup.render`` of folium 0.20.0, with its rendered script kept verbatim (as above)."""
    for child in self._children.values():
        child.render(**kwargs)
    figure = self.get_root()
    assert isinstance(figure, Figure), "You cannot render this Element if it is not in a Figure."
    figure.script.add_child(_Verbatim(self._template.render(this=self, kwargs=kwargs)), name=self.get_name())


def render_macros_verbatim() -> None:
    """Install the verbatim renderers on branca's ``MacroElement`` and folium's ``Popup`` (done on import)."""
    MacroElement.render = _render_macro  # type: ignore[method-assign]
    folium.Popup.render = _render_popup  # type: ignore[method-assign]


render_macros_verbatim()


class _IconImagePath(MacroElement):
    """Sets ``L.Icon.Default.imagePath`` (Leaflet guesses it wrongly when the CSS is local)."""

    _template = Template(
        "{% macro script(this, kwargs) %}L.Icon.Default.imagePath = "
        f"'{STATIC_URL}/leaflet/images/';"
        "{% endmacro %}"
    )


class _MetricScale(MacroElement):
    """A metric-only scale bar in Chinese units (folium's ``control_scale`` adds miles and feet)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var scale = L.control.scale({metric: true, imperial: false, position: 'bottomright', maxWidth: 140});
            // Leaflet writes "m" / "km": say 米 / 公里.
            scale._updateMetric = function (maxMeters) {
                var meters = this._getRoundNum(maxMeters);
                var label = meters < 1000 ? meters + ' 米' : (meters / 1000) + ' 公里';
                this._updateScale(this._mScale, label, meters / maxMeters);
            };
            scale.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )


class _ChineseControls(MacroElement):
    """Zoom buttons titled 放大 / 缩小 and an attribution without Leaflet's English line and outside link.

    Leaflet's defaults are "Zoom in", "Zoom out" and a link to leafletjs.com titled "A JavaScript library for
    interactive maps"; the intranet reaches no such site. The credit to Leaflet stays, as plain text.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            if (map.zoomControl) { map.zoomControl.remove(); }
            map.zoomControl = L.control.zoom({zoomInTitle: '放大', zoomOutTitle: '缩小'}).addTo(map);
            if (map.attributionControl) { map.attributionControl.setPrefix('Leaflet'); }
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )


class Legend(MacroElement):
    """A legend drawn by Leaflet itself (a branca ColorMap would fetch d3 from a CDN).

    Parameters
    ----------
    title
        Legend heading.
    items
        (colour, label) swatches.
    gradient
        Optional {stop: colour} ramp drawn as a bar, with ``ends`` labels under it.
    position
        Leaflet control corner.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: {{ this.position|tojson }}});
            legend.onAdd = function () {
                var div = L.DomUtil.create('div', 'hh-legend');
                div.innerHTML = {{ this.inner|tojson }};
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, title: str, items: list[tuple[str, str]] = (), *, gradient: dict[float, str] | None = None,
                 ends: tuple[str, str] = ("少", "多"), position: str = "bottomleft"):
        super().__init__()
        self._name = "Legend"
        self.position = position
        parts = [f"<b>{html.escape(title)}</b>"]
        if gradient:
            stops = ", ".join(f"{html.escape(c)} {100 * float(k):.0f}%" for k, c in sorted(gradient.items()))
            parts.append(f'<span class="hh-grad" style="background: linear-gradient(to right, {stops});"></span>')
            parts.append(f'<span class="hh-ends"><span>{html.escape(ends[0])}</span>'
                         f'<span>{html.escape(ends[1])}</span></span>')
        for color, label in items:
            parts.append(f'<div><i style="background:{html.escape(color)}"></i>{html.escape(label)}</div>')
        self.inner = "".join(parts)


class _FlyTo(MacroElement):
    """Centre the map on a point at a zoom level once it has loaded."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.setView({{ this.latlng|tojson }}, {{ this.zoom }});"
        "{% endmacro %}"
    )

    def __init__(self, latlng: list[float], zoom: int):
        super().__init__()
        self._name = "FlyTo"
        self.latlng = latlng
        self.zoom = int(zoom)


class _FitBounds(MacroElement):
    """Fit the map to a box once it knows its size (the same view on a laptop and on a 4K wall)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.fitBounds({{ this.bounds|tojson }}, {padding: [12, 12]});"
        "{% endmacro %}"
    )

    def __init__(self, bounds: list[list[float]]):
        super().__init__()
        self._name = "FitBounds"
        self.bounds = bounds


def fit(m: folium.Map, lon: Any, lat: Any) -> None:
    """Fit ``m`` to the WGS-84 points given (e.g. every hospital)."""
    x, y = to_display(lon, lat)
    if len(x) == 0:
        return
    _FitBounds([[float(np.min(y)), float(np.min(x))], [float(np.max(y)), float(np.max(x))]]).add_to(m)


def focus(m: folium.Map, lon: float, lat: float, *, zoom: int = 15) -> None:
    """Centre ``m`` on a WGS-84 point at ``zoom`` (e.g. the chosen hospital)."""
    x, y = to_display(lon, lat)
    m.location = [float(y), float(x)]
    m.options["zoom"] = zoom
    _FlyTo([float(y), float(x)], zoom).add_to(m)


_PLAIN_MARKER = "function (row) { return L.marker(new L.LatLng(row[0], row[1])); };"


def _tile_crs() -> str:
    return geo_crs.normalize_crs_name(settings.TILE_CRS) if settings.TILE_URL else "wgs84"


def to_display(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 coordinates to the coordinate system of the configured base map."""
    return geo_crs.from_wgs84(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), _tile_crs())


def _convert_geojson(geojson: dict[str, Any], transform: Callable[[Any, Any], tuple[Any, Any]]) -> dict[str, Any]:
    def conv(coords: Any) -> Any:
        arr = np.asarray(coords, dtype=float)
        if arr.ndim == 1:
            x, y = transform(arr[0], arr[1])
            return [float(x), float(y)]
        if arr.ndim == 2:
            x, y = transform(arr[:, 0], arr[:, 1])
            return np.column_stack([x, y]).round(6).tolist()
        return [conv(c) for c in coords]

    out = json.loads(json.dumps(geojson))
    feats = out["features"] if out.get("type") == "FeatureCollection" else [out]
    for feat in feats:
        geom = feat.get("geometry")
        if geom and geom.get("coordinates") is not None:
            geom["coordinates"] = conv(geom["coordinates"])
    return out


@lru_cache(maxsize=4)
def _districts_geojson(crs_name: str) -> str:
    path = settings.DATA_DIR / "beijing_districts.geojson"
    if not path.exists():
        return ""
    gj = json.loads(path.read_text(encoding="utf-8"))
    if crs_name != "wgs84":
        gj = _convert_geojson(gj, lambda x, y: geo_crs.from_wgs84(x, y, crs_name))
    # Tooltips are set with bindTooltip(String(...)); keep only the name property.
    for f in gj["features"]:
        f["properties"] = {"name": html.escape(str(f["properties"].get("name", "")))}
    return json.dumps(gj, ensure_ascii=False, separators=(",", ":"))


def base_map(
    *, center: tuple[float, float] | None = None, zoom: int = 11, dark: bool = False, districts: bool = True,
    fill: bool = False,
) -> folium.Map:
    """A map with the configured base layer and no external requests.

    Parameters
    ----------
    center
        (lat, lon) in WGS-84; default central Beijing.
    zoom
        Initial zoom level.
    dark
        Dark background and light outlines (meeting screen).
    districts
        Draw the district outlines (the default base map when no tile server is configured).
    fill
        The map fills the height of its frame (the page sizes the frame in viewport units).
    """
    lat, lon = center or BEIJING_CENTER
    x, y = to_display(lon, lat)
    m = folium.Map(
        location=[float(y), float(x)], zoom_start=zoom, tiles=None, control_scale=False, prefer_canvas=True,
        # Without a tile layer Leaflet has no zoom limits, and markercluster refuses to start.
        minZoom=8, maxZoom=18,
    )
    _IconImagePath().add_to(m)
    _MetricScale().add_to(m)
    _ChineseControls().add_to(m)
    # Without tiles the map background shows between district outlines.
    bg = "#0b1220" if dark else "#e9eef3"
    fg, halo = ("#ffffff", "#0b1220") if dark else ("#1b2533", "#ffffff")
    m.get_root().header.add_child(Element(
        f"<style>.leaflet-container {{ background: {bg}; }}"
        f".hh-label {{ background: transparent; border: 0; box-shadow: none; padding: 0 0 0 2px; color: {fg};"
        f" font: 600 12px 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', sans-serif;"
        f" text-shadow: 0 0 3px {halo}, 0 0 3px {halo}, 0 0 2px {halo}; }}"
        ".hh-label::before { display: none; }"
        ".hh-label.hh-strong { font-size: 14px; color: #c62828; }"
        ".hh-hide-labels .hh-label.hh-weak { display: none; }"
        + ("html, body { height: 100%; margin: 0; } .folium-map, #map_div, .leaflet-container"
           " { height: 100vh !important; }"
           # Inside the frame 1vh is 1 % of the map's height: labels and controls grow with the screen.
           " .hh-label { font-size: 1.9vh !important; } .hh-label.hh-strong { font-size: 2.3vh !important; }"
           " .hh-legend { font-size: 1.8vh !important; max-width: 40vh; } .hh-legend .hh-grad,"
           " .hh-legend .hh-ends { width: 26vh; } .hh-legend i { width: 2vh; height: 1.6vh; }"
           " .leaflet-control-scale-line { font-size: 1.7vh !important; }"
           " .leaflet-control-attribution { font-size: 1.4vh !important; }"
           " .leaflet-control-zoom a { width: 4.5vh !important; height: 4.5vh !important;"
           " line-height: 4.5vh !important; font-size: 2.8vh !important; }" if fill else "")
        +
        f".hh-legend {{ background: {'rgba(11,18,32,0.85)' if dark else 'rgba(255,255,255,0.92)'}; color: {fg};"
        " padding: 6px 9px; border-radius: 6px; font: 12px/1.5 'Noto Sans CJK SC', sans-serif;"
        " box-shadow: 0 1px 4px rgba(0,0,0,.3); max-width: 260px; }"
        ".hh-legend b { display: block; margin-bottom: 2px; }"
        ".hh-legend i { display: inline-block; width: 14px; height: 12px; margin-right: 6px; vertical-align: -1px;"
        " border-radius: 2px; }"
        ".hh-legend .hh-grad { display: block; height: 10px; width: 180px; border-radius: 2px; margin: 2px 0; }"
        ".hh-legend .hh-ends { display: flex; justify-content: space-between; width: 180px; }"
        "</style>"
    ))
    if settings.TILE_URL:
        if "service=wms" in settings.TILE_URL.lower() or settings.TILE_URL.rstrip("?").lower().endswith("wms"):
            folium.WmsTileLayer(
                url=settings.TILE_URL, layers="0", fmt="image/png", attr=settings.TILE_ATTRIBUTION or "内网地图",
                name="底图",
            ).add_to(m)
        else:
            folium.TileLayer(tiles=settings.TILE_URL, attr=settings.TILE_ATTRIBUTION or "内网地图", name="底图").add_to(m)
    if districts:
        add_districts(m, dark=dark)
    return m


class _GeoJsonText(Layer):
    """A static GeoJSON layer from a pre-serialised (cached) string, with one style and a name tooltip.

    folium.GeoJson re-serialises and re-styles every feature on each render (~0.3 s for the
    district outlines); the outlines never change, so their JSON text is built once.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON({{ this.text }}, {
            style: function () { return {{ this.style|tojson }}; },
            onEachFeature: function (f, layer) {
                if (f.properties && f.properties.name) { layer.bindTooltip(String(f.properties.name)); }
            }
        });
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, text: str, *, name: str, style: dict[str, Any]):
        super().__init__(name=name, overlay=True, control=False, show=True)
        self._name = "GeoJsonText"
        self.text = text
        self.style = style


def add_districts(m: folium.Map, *, dark: bool = False) -> None:
    """District outlines (local base map), with the district name as tooltip."""
    text = _districts_geojson(_tile_crs())
    if not text:
        return
    style = {
        "color": "#9fb3c8" if dark else "#5b6770", "weight": 1.2,
        "fillColor": "#1b2533" if dark else "#f4f1ea", "fillOpacity": 0.55,
    }
    _GeoJsonText(text, name="行政区划", style=style).add_to(m)


class _Hospitals(Layer):
    """Hospitals as dots with their attribution circle, from one compact array.

    Eighty-eight folium Circle/CircleMarker elements with tooltips compile a Jinja template each
    on every render (~0.4 s); one layer with ``[lat, lon, label, colour, size]`` rows does not.
    Labels are HTML-escaped in Python because Leaflet tooltips take HTML.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        (function () {
            var rows = {{ this.rows|tojson }};
            for (var i = 0; i < rows.length; i++) {
                var r = rows[i];
                L.circle([r[0], r[1]], {radius: {{ this.radius_m }}, color: r[3], weight: 1, fill: true,
                    fillOpacity: 0.06}).addTo({{ this.get_name() }});
                L.circleMarker([r[0], r[1]], {radius: r[4], color: r[3], fill: true, fillOpacity: 0.9})
                    .bindTooltip(r[2], {permanent: true, direction: 'right', offset: [4, 0],
                                        className: 'hh-label ' + (r[5] ? 'hh-strong' : 'hh-weak')})
                    .addTo({{ this.get_name() }});
            }
        })();
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        (function (map) {
            // Names of all hospitals from street level on; below it only the highlighted ones.
            function toggle() {
                var c = map.getContainer();
                if (map.getZoom() < {{ this.label_zoom }}) { c.classList.add('hh-hide-labels'); }
                else { c.classList.remove('hh-hide-labels'); }
            }
            map.on('zoomend', toggle);
            toggle();
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[Any]], *, radius_m: float, name: str = "医院及半径",
                 label_zoom: int = LABEL_ZOOM):
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "Hospitals"
        self.rows = rows
        self.radius_m = float(radius_m)
        self.label_zoom = int(label_zoom)


def add_hospitals(
    m: folium.Map,
    hospitals: pd.DataFrame,
    *,
    radius_m: float | None = None,
    highlight: set[str] | None = None,
    dark: bool = False,
    label_zoom: int = LABEL_ZOOM,
) -> _Hospitals | None:
    """Hospitals as dots with their attribution radius and name labels.

    ``highlight`` ids are drawn larger in red and always named; the others are named from zoom
    ``label_zoom`` on (at city scale 44 names would cover each other).
    """
    radius_m = settings.HOSPITAL_RADIUS_M if radius_m is None else radius_m
    if hospitals.empty:
        return None
    x, y = to_display(hospitals["lon"], hospitals["lat"])
    highlight = highlight or set()
    normal = "#7fd3ff" if dark else "#1f5fa8"
    rows = [
        [round(float(la), 6), round(float(lo), 6), html.escape(str(name)),
         "#ff3b30" if hid in highlight else normal, 7 if hid in highlight else 4, hid in highlight]
        for hid, name, lo, la in zip(hospitals["hospital_id"], hospitals["name"], x, y, strict=True)
    ]
    return _Hospitals(rows, radius_m=radius_m, label_zoom=label_zoom).add_to(m)


def grid_counts(df: pd.DataFrame, *, decimals: int = 3) -> pd.DataFrame:
    """Count points per rounded lon/lat cell (about 100 m at 3 decimals in Beijing).

    Returns a frame with ``lon``, ``lat`` (cell centre, WGS-84) and ``count``.
    """
    if df.empty:
        return pd.DataFrame({"lon": [], "lat": [], "count": []})
    keys = pd.DataFrame({"lon": df["lon"].to_numpy().round(decimals), "lat": df["lat"].to_numpy().round(decimals)})
    return keys.groupby(["lon", "lat"], sort=False).size().rename("count").reset_index()


def add_incidents(m: folium.Map | folium.FeatureGroup, df: pd.DataFrame, *, max_markers: int = MAX_MARKERS) -> str:
    """Incidents as a clustered marker layer, or as counted grid cells when there are too many.

    Returns
    -------
    str
        ``"markers"`` or ``"cells"``: which representation was drawn.
    """
    if len(df) <= max_markers:
        x, y = to_display(df["lon"], df["lat"])
        data = np.column_stack([y, x]).round(6).tolist()
        # The default callback draws awesome-markers icons (not vendored); use Leaflet's own icon.
        plugins.FastMarkerCluster(data, name="警情（聚合标注）", callback=_PLAIN_MARKER).add_to(m)
        return "markers"
    cells = grid_counts(df, decimals=3)
    if len(cells) > max_markers:
        cells = grid_counts(df, decimals=2)
    cells = cells.nlargest(max_markers, "count")
    x, y = to_display(cells["lon"], cells["lat"])
    rows = np.column_stack([np.round(y, 5), np.round(x, 5), cells["count"].to_numpy()]).tolist()
    CountCells(rows, name="警情（网格计数）").add_to(m)
    return "cells"


class CountCells(Layer):
    """Counted grid cells as circle markers sized by count, drawn in the browser from a compact array.

    One ``[lat, lon, count]`` triple per cell instead of a GeoJSON feature with its own style:
    5,000 cells cost ~100 kB and a few milliseconds to render instead of ~1 MB and ~1 s.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        (function () {
            var rows = {{ this.rows|tojson }};
            var top = 1;
            for (var i = 0; i < rows.length; i++) { top = Math.max(top, rows[i][2]); }
            for (var j = 0; j < rows.length; j++) {
                var r = rows[j];
                L.circleMarker([r[0], r[1]], {
                    radius: 3 + 9 * Math.sqrt(r[2] / top), color: "#b2182b", weight: 0.5,
                    fill: true, fillOpacity: 0.55
                }).bindTooltip(r[2] + " 起").addTo({{ this.get_name() }});
            }
        })();
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[float]], *, name: str, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CountCells"
        self.rows = [[float(a), float(b), int(c)] for a, b, c in rows]


#: Most populated ~100 m cells kept for the heat map (the rest add only faint noise and payload).
MAX_HEAT_CELLS = 4000


def add_heat(m: folium.Map | folium.FeatureGroup, df: pd.DataFrame, *, name: str = "热力图", show: bool = True) -> None:
    """A heat map of the points, pre-aggregated to ~100 m cells so the payload stays small."""
    cells = grid_counts(df, decimals=3).nlargest(MAX_HEAT_CELLS, "count")
    if cells.empty:
        return
    x, y = to_display(cells["lon"], cells["lat"])
    w = cells["count"].to_numpy(dtype=float)
    data = np.column_stack([np.round(y, 5), np.round(x, 5), np.round(w / w.max(), 3)]).tolist()
    plugins.HeatMap(data, name=name, radius=14, blur=18, min_opacity=0.3, show=show,
                    gradient=HEAT_GRADIENT).add_to(m)


def add_polygons(
    m: folium.Map | folium.FeatureGroup,
    gdf: Any,
    *,
    name: str,
    color_of: Callable[[dict[str, Any]], str],
    tooltip_fields: list[str] | None = None,
    tooltip_aliases: list[str] | None = None,
    popup_fields: list[str] | None = None,
    popup_aliases: list[str] | None = None,
    style_fields: list[str] | None = None,
    show: bool = True,
) -> None:
    """Polygons of a GeoDataFrame in EPSG:4326 (Gi* cells, cluster hulls) coloured by ``color_of``.

    ``color_of`` receives the feature's properties: the tooltip and popup fields plus
    ``style_fields`` (columns it needs but that are not shown). A click opens a popup with
    ``popup_fields`` (their figures), hovering shows ``tooltip_fields``.
    """
    if gdf is None or len(gdf) == 0:
        return
    cols = [c for c in (tooltip_fields or []) if c in gdf.columns]
    pcols = [c for c in (popup_fields or []) if c in gdf.columns]
    keep = list(dict.fromkeys([*cols, *pcols, *[c for c in (style_fields or []) if c in gdf.columns]]))
    gj = json.loads(gdf[[*keep, "geometry"]].to_json(default=str))
    for f in gj.get("features", []):  # Leaflet tooltips take HTML: escape every value from the data
        props = f.get("properties") or {}
        f["properties"] = {k: html.escape(v) if isinstance(v, str) else v for k, v in props.items()}
    crs_name = _tile_crs()
    if crs_name != "wgs84":
        gj = _convert_geojson(gj, lambda x, y: geo_crs.from_wgs84(x, y, crs_name))
    folium.GeoJson(
        gj,
        name=name,
        show=show,
        style_function=lambda f: {
            "color": color_of(f["properties"]), "weight": 1, "fillColor": color_of(f["properties"]),
            "fillOpacity": 0.5,
        },
        tooltip=folium.GeoJsonTooltip(fields=cols, aliases=tooltip_aliases or cols) if cols else None,
        popup=folium.GeoJsonPopup(fields=pcols, aliases=popup_aliases or pcols) if pcols else None,
    ).add_to(m)


def add_layer_control(m: folium.Map) -> None:
    """A collapsed layer switcher (top right)."""
    folium.LayerControl(collapsed=True).add_to(m)


def asset_urls(m: folium.Map) -> list[str]:
    """Every script and style URL the map will ask the browser to load (for tests and checks)."""
    urls: list[str] = []

    def walk(el: Any) -> None:
        urls.extend(u for _, u in getattr(el, "default_js", []))
        urls.extend(u for _, u in getattr(el, "default_css", []))
        for child in getattr(el, "_children", {}).values():
            walk(child)

    walk(m)
    return list(dict.fromkeys(urls))
