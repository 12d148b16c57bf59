"""Convert the shared Beijing source files (GCJ-02) into the WGS-84 files in ``data/``.

Run once from the repository root: ``python data/make_beijing.py [SHARED_DATA_DIR]``.
The outputs are committed; this script documents how they were made.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import shapely
from shapely.geometry import Point, mapping, shape

from geo.crs import gcj02_to_wgs84

HERE = Path(__file__).resolve().parent


def convert_geometry(geom: dict) -> dict:
    """Convert a GeoJSON geometry from GCJ-02 to WGS-84 (coordinates rounded to 1e-6 degrees, ~0.1 m)."""
    g = shape(geom)

    def fn(coords):
        lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
        return pd.DataFrame({"x": lon, "y": lat}).round(6).to_numpy()

    return mapping(shapely.transform(g, fn))


def main(src: Path) -> None:
    gj = json.loads((src / "beijing_districts_gcj02.geojson").read_text(encoding="utf-8"))
    feats = []
    for f in gj["features"]:
        props = {"name": f["properties"]["name"], "adcode": f["properties"]["adcode"]}
        feats.append({"type": "Feature", "properties": props, "geometry": convert_geometry(f["geometry"])})
    out = {"type": "FeatureCollection", "features": feats}
    (HERE / "beijing_districts.geojson").write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")

    h = pd.read_csv(src / "beijing_hospitals_gcj02.csv", dtype=str)
    lon, lat = gcj02_to_wgs84(h["lon_gcj02"].astype(float), h["lat_gcj02"].astype(float))
    districts = [(f["properties"]["name"], shape(f["geometry"])) for f in feats]

    def district_of(x: float, y: float) -> str:
        p = Point(x, y)
        return next((name for name, poly in districts if poly.contains(p)), "")

    df = pd.DataFrame({
        "hospital_id": h["id"], "name": h["name"], "full_name": h["full_name"], "grade": h["grade_name"],
        "district": [district_of(x, y) for x, y in zip(lon, lat, strict=True)],
        "lon": lon.round(6), "lat": lat.round(6),
        "lon_gcj02": h["lon_gcj02"], "lat_gcj02": h["lat_gcj02"],
    })
    df.to_csv(HERE / "beijing_hospitals.csv", index=False, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent / "shared" / "data")
