"""Synthetic incidents with planted hotspots, shared by the hotspot-engine tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo import crs

#: Centre of the synthetic study area (central Beijing, WGS-84).
CENTRE = (116.40, 39.90)


@dataclass(frozen=True)
class Plant:
    """A planted hotspot: offset from the centre in metres, size, jitter and active hours."""

    dx: float
    dy: float
    n: int
    start_hour: float
    end_hour: float
    sigma_m: float = 15.0
    hospital_id: str | None = None


def planted_events(
    *,
    n_background: int = 2000,
    extent_m: float = 3000.0,
    plants: tuple[Plant, ...] = (),
    start: str = "2026-01-01",
    days: int = 365,
    seed: int = 0,
) -> pd.DataFrame:
    """Uniform background over a square plus planted hotspots, shaped like load_incidents' output."""
    rng = np.random.default_rng(seed)
    cx, cy, epsg = crs.project([CENTRE[0]], [CENTRE[1]])
    xs, ys, secs, hosp = [], [], [], []
    half = extent_m / 2
    xs.append(cx[0] + rng.uniform(-half, half, n_background))
    ys.append(cy[0] + rng.uniform(-half, half, n_background))
    secs.append(rng.uniform(0, days * 86400.0, n_background))
    hosp += [None] * n_background
    for p in plants:
        xs.append(cx[0] + p.dx + rng.normal(0, p.sigma_m, p.n))
        ys.append(cy[0] + p.dy + rng.normal(0, p.sigma_m, p.n))
        day = rng.integers(0, days, p.n)
        secs.append(day * 86400.0 + rng.uniform(p.start_hour, p.end_hour, p.n) * 3600.0)
        hosp += [p.hospital_id] * p.n
    lon, lat = crs.unproject(np.concatenate(xs), np.concatenate(ys), epsg)
    t = pd.Timestamp(start, tz="Asia/Shanghai") + pd.to_timedelta(np.concatenate(secs), unit="s")
    n = lon.size
    cats = np.array(["号贩子/倒号", "医托", "医闹/扰乱秩序", "其他"])
    frame = pd.DataFrame({
        "incident_id": np.arange(n),
        "received_at": t,
        "lon": lon,
        "lat": lat,
        "category": cats[rng.integers(0, cats.size, n)],
        "hospital_id": pd.array(hosp, dtype="string"),
    })
    return frame.sort_values("received_at", ignore_index=True)


def offset_m(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metric offsets of WGS-84 points from :data:`CENTRE`."""
    cx, cy, epsg = crs.project([CENTRE[0]], [CENTRE[1]])
    x, y, _ = crs.project(lon, lat, epsg)
    return x - cx[0], y - cy[0]
