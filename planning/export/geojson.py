"""GeoJSON (RFC 7946, WGS-84) of the plan's hospitals, hotspots and patrol points."""

from __future__ import annotations

import json

from core.trust.access import AccessScope
from planning.export import DEMO_LABEL, POINT_KIND_LABELS, record_export, scoped


def export_geojson(plan, *, scope: AccessScope) -> bytes:
    """A FeatureCollection: ``layer`` is 医院, 热点 (hotspot clusters) or 巡逻点 (fixed points)."""
    sp = scoped(plan, scope)
    label = DEMO_LABEL if plan.demo else ""
    visits = sp.visits.groupby("point_id").size() if len(sp.visits) else {}
    feats = []
    for h in sp.hospitals.itertuples(index=False):
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(h.lon), float(h.lat)]},
                      "properties": {"layer": "医院", "hospital_id": h.hospital_id, "name": h.name,
                                     "listed": h.hospital_id in plan.listed, "data_label": label}})
    for p in sp.points.itertuples(index=False):
        feats.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(float(p.lon), 7), round(float(p.lat), 7)]},
            "properties": {
                "layer": "热点" if p.kind == "hotspot" else "巡逻点", "point_id": p.point_id,
                "hospital_id": p.hospital_id, "hospital": plan.hospital_name(p.hospital_id), "name": p.name,
                "kind": POINT_KIND_LABELS.get(p.kind, p.kind), "risk_share": round(float(p.share), 4),
                "hot": bool(p.hot), "peak_windows": list(p.peak_windows),
                "planned_visits": int(visits.get(p.point_id, 0)), "data_label": label,
            },
        })
    doc = {"type": "FeatureCollection", "name": f"{plan.month} 热点与巡逻点", "features": feats}
    data = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
    record_export(plan, scope, "GeoJSON", data)
    return data
