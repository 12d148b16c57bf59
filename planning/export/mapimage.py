"""Print map of one hospital (matplotlib, offline): a locator of its district and a street-scale detail.

Left: the district outline (``data/beijing_districts.geojson``) with its neighbours and the
hospital's position. Right: the hospital, its named hotspots (red) and fixed patrol points (blue)
with labels placed so that they do not overlap, a scale bar in metres and a north arrow. The
figure and the district paths are built once per process and reused for every hospital, which
keeps a month's 44 maps to about a second.
"""

from __future__ import annotations

import io
import json
import math
from functools import lru_cache

import numpy as np
import pandas as pd

from core import settings

#: Figure size in inches and resolution of the embedded PNG.
FIGSIZE = (7.2, 3.3)
DPI = 150


@lru_cache(maxsize=1)
def _districts() -> list[tuple[str, list[np.ndarray]]]:
    """District name and its outer rings (lon/lat arrays)."""
    import shapely
    from shapely.geometry import shape

    gj = json.loads((settings.DATA_DIR / "beijing_districts.geojson").read_text(encoding="utf-8"))
    out = []
    for f in gj["features"]:
        # Simplified to ~100 m: a locator map 2 inches wide needs no more, and drawing is faster.
        g = shapely.simplify(shape(f["geometry"]), 0.001)
        polys = list(g.geoms) if g.geom_type == "MultiPolygon" else [g]
        out.append((f["properties"]["name"], [np.asarray(p.exterior.coords, dtype=float) for p in polys]))
    return out


@lru_cache(maxsize=1)
def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    loc = fig.add_axes((0.01, 0.04, 0.30, 0.88))
    det = fig.add_axes((0.34, 0.04, 0.65, 0.88))
    # District outlines drawn once; each map only restyles them.
    patches: dict[str, list] = {}
    for name, rings in _districts():
        patches[name] = [loc.fill(r[:, 0], r[:, 1], facecolor="#f7f7f7", edgecolor="#c8c8c8", linewidth=0.4,
                                  zorder=1)[0] for r in rings]
    loc.set_xticks([])
    loc.set_yticks([])
    # Static detail furniture: metres around the hospital at (0, 0), north arrow in axes units.
    det.set_xticks([])
    det.set_yticks([])
    det.set_facecolor("#fbfbf8")
    det.set_aspect("equal")
    det.add_patch(_circle(settings.PATROL_FIXED_POINT_OFFSET_M * 1.6))
    det.plot([0], [0], marker="P", markersize=13, color="#222222", zorder=4)
    from planning.export.fonts import font_prop

    prop = font_prop()
    det.annotate("", xy=(0.95, 0.93), xytext=(0.95, 0.78), xycoords="axes fraction",
                 arrowprops={"arrowstyle": "-|>", "color": "black"}, zorder=6)
    det.text(0.95, 0.945, "北", transform=det.transAxes, fontproperties=prop, fontsize=8, ha="center", zorder=6)
    return fig, loc, det, patches, []


def _boxes_overlap(a, b) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def place_labels(xy: np.ndarray, widths: np.ndarray, height: float, avoid: np.ndarray) -> list[tuple[float, float]]:
    """Greedy label placement: for each point the first of eight offsets whose box hits no other box or point.

    All values are in display units (pixels). Returns the lower-left corner of each label.
    """
    offsets = [(8, 6), (8, -6 - 1.0), (-8 - 1.0, 6), (-8 - 1.0, -6 - 1.0), (0, 12), (0, -12 - 1.0), (14, 0),
               (-14 - 1.0, 0)]
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for (x, y), w in zip(xy, widths, strict=True):
        best = None
        for dx, dy in offsets:
            x0 = x + dx if dx >= 0 else x + dx * 1.0 - w
            y0 = y + dy if dy >= 0 else y + dy - height
            box = (x0, y0, x0 + w, y0 + height)
            hit = any(_boxes_overlap(box, b) for b in placed) or any(
                box[0] - 3 <= px <= box[2] + 3 and box[1] - 3 <= py <= box[3] + 3 for px, py in avoid)
            if not hit:
                best = box
                break
        if best is None:  # everything taken: stack below the lowest label
            low = min((b[1] for b in placed), default=y)
            best = (x + 8, low - height - 2, x + 8 + w, low - 2)
        placed.append(best)
        out.append((best[0], best[1]))
    return out


#: Legend printed under each map (kept out of the image: text is the slowest thing to rasterise).
LEGEND = "红点：警情热点　蓝点：固定巡逻点　紫点：人工增加　十字：医院　括号内为本月计划巡查次数"


def hospital_map_image(hospital: pd.Series, points: pd.DataFrame, visits_per_point: pd.Series | None = None) -> bytes:
    """JPEG of one hospital's map (see the module docstring; :data:`LEGEND` explains the symbols).

    JPEG rather than PNG: reportlab embeds JPEG as it is, while a PNG is decoded and compressed again.

    Parameters
    ----------
    hospital
        name, district, lon, lat.
    points
        point_id, name, kind ('hotspot' | 'fixed' | 'added'), lon, lat.
    visits_per_point
        Planned visits of the month per point_id (shown in the labels).
    """
    from geo.crs import project
    from planning.export.fonts import font_prop

    prop = font_prop()
    fig, loc, det, patches, dynamic = _figure()
    for a in dynamic:
        a.remove()
    dynamic.clear()
    # --- locator: the district and its neighbours
    lon0, lat0 = float(hospital["lon"]), float(hospital["lat"])
    district = str(hospital.get("district", ""))
    for name, ps in patches.items():
        own = name == district
        for patch in ps:
            patch.set_facecolor("#dde6f2" if own else "#f7f7f7")
            patch.set_edgecolor("#3d5a80" if own else "#c8c8c8")
            patch.set_linewidth(1.1 if own else 0.4)
            patch.set_zorder(2 if own else 1)
    own_rings = next((rs for n, rs in _districts() if n == district), None)
    if own_rings:
        allpts = np.vstack(own_rings)
        x0, x1 = allpts[:, 0].min(), allpts[:, 0].max()
        y0, y1 = allpts[:, 1].min(), allpts[:, 1].max()
        pad = 0.15 * max(x1 - x0, y1 - y0)
        loc.set_xlim(x0 - pad, x1 + pad)
        loc.set_ylim(y0 - pad, y1 + pad)
        dynamic.append(loc.text((x0 + x1) / 2, y1 + pad * 0.35, district, fontproperties=prop, fontsize=8,
                                ha="center", color="#33475b", zorder=4))
    dynamic += loc.plot([lon0], [lat0], marker="*", markersize=11, color="#c62828", zorder=5)
    loc.set_aspect(1 / math.cos(math.radians(lat0)))
    # --- detail, in metres around the hospital
    hx, hy, epsg = project([lon0], [lat0])
    px, py, _ = project(points["lon"].to_numpy(float), points["lat"].to_numpy(float), epsg)
    px, py = px - hx[0], py - hy[0]
    half = max(120.0, 1.35 * float(np.max(np.abs(np.concatenate([px, py, [0.0]])))))
    # The detail axes are wider than high: widen x to keep metres square.
    bbox = det.get_position()
    ratio = (bbox.width * FIGSIZE[0]) / (bbox.height * FIGSIZE[1])
    det.set_xlim(-half * ratio, half * ratio)
    det.set_ylim(-half, half)
    colors = {"hotspot": "#d62728", "fixed": "#1f77b4", "added": "#8e44ad"}
    dynamic.append(det.scatter(px, py, s=70, c=[colors.get(k, "#1f77b4") for k in points["kind"]], edgecolors="white", linewidths=0.8,
                zorder=5))
    vpp = visits_per_point if visits_per_point is not None else pd.Series(dtype=int)
    labels = [f"{n}（{int(vpp.get(p, 0))}次）" if len(vpp) else str(n)
              for p, n in zip(points["point_id"], points["name"], strict=True)]
    labels = [str(hospital["name"]), *labels]
    fs = 7.5
    det.apply_aspect()
    trans = det.transData
    disp = trans.transform(np.column_stack([np.concatenate([[0.0], px]), np.concatenate([[0.0], py])]))
    px_per_pt = DPI / 72.0
    widths = np.array([len(s) * fs * px_per_pt * 1.02 for s in labels])
    corners = place_labels(disp, widths, fs * px_per_pt * 1.3, disp)
    inv = trans.inverted()
    px_all, py_all = np.concatenate([[0.0], px]), np.concatenate([[0.0], py])
    for i, (text, (cx, cy)) in enumerate(zip(labels, corners, strict=True)):
        x, y = inv.transform((cx, cy))
        # A thin leader from the point to the nearest corner of its label keeps the pairing clear.
        w = widths[i]
        hgt = fs * px_per_pt * 1.3
        ex = cx if abs(cx - disp[i, 0]) < abs(cx + w - disp[i, 0]) else cx + w
        ey = cy if abs(cy - disp[i, 1]) < abs(cy + hgt - disp[i, 1]) else cy + hgt
        lx, ly = inv.transform((ex, ey))
        dynamic += det.plot([px_all[i], lx], [py_all[i], ly], color="#777777", linewidth=0.5, zorder=3)
        dynamic.append(det.text(x, y, text, fontproperties=prop, fontsize=fs + (0.5 if i == 0 else 0), ha="left",
                                va="bottom", zorder=6,
                                color="#111111" if i == 0 else colors.get(points["kind"].iloc[i - 1], "#1f77b4")))
    # Scale bar (metres) and north arrow.
    bar = _nice(half * ratio * 0.5)
    xb, yb = -half * ratio * 0.92, -half * 0.86
    dynamic += det.plot([xb, xb + bar], [yb, yb], color="black", linewidth=2.2, zorder=6)
    dynamic.append(det.text(xb + bar / 2, yb + half * 0.04, f"{bar:.0f} 米", fontproperties=prop, fontsize=7,
                            ha="center", zorder=6))
    buf = io.BytesIO()
    fig.savefig(buf, format="jpg", dpi=DPI, pil_kwargs={"quality": 88})
    return buf.getvalue()


def _circle(r: float):
    from matplotlib.patches import Circle

    return Circle((0, 0), r, facecolor="#eef3ea", edgecolor="#9bb08f", linewidth=0.6, linestyle="--", zorder=1)


def _nice(x: float) -> float:
    """The largest of 1, 2, 5 x 10^k not above ``x``."""
    k = 10 ** math.floor(math.log10(max(x, 1e-9)))
    for m in (5, 2, 1):
        if m * k <= x:
            return m * k
    return k
