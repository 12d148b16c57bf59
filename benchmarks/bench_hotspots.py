"""Benchmark: full hotspot refresh on one year of 1,000,000 synthetic incidents; fast Gi* vs esda.

Run: ``.venv/bin/python benchmarks/bench_hotspots.py [--n 1000000] [--no-esda]``

The incidents are synthetic (not real figures): around the 44 real Beijing hospitals,
60 % geocoded exactly to one of five gate coordinates per hospital, 25 % to street addresses
(a 10 m lattice) within a few hundred metres, 15 % background across the city; times follow a
weekday registration peak and an afternoon clinic peak. Target: refresh ≤ 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo import crs, hotspots
from geo.hotspot_report import hotspot_refresh
from geo.io.hospitals import read_hospital_file


def synthetic_incidents(n: int, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One year of ``n`` synthetic incidents around the Beijing hospitals (see module docstring)."""
    rng = np.random.default_rng(seed)
    hosp = read_hospital_file()
    hx, hy, epsg = crs.project(hosp.lon.to_numpy(), hosp.lat.to_numpy())
    weight = rng.lognormal(0, 1, len(hosp))
    weight /= weight.sum()
    n_gate, n_addr = int(0.60 * n), int(0.25 * n)
    n_bg = n - n_gate - n_addr
    gates_x = hx[:, None] + rng.uniform(-150, 150, (len(hosp), 5))
    gates_y = hy[:, None] + rng.uniform(-150, 150, (len(hosp), 5))
    h = rng.choice(len(hosp), n_gate, p=weight)
    g = rng.integers(0, 5, n_gate)
    xs = [gates_x[h, g]]
    ys = [gates_y[h, g]]
    h2 = rng.choice(len(hosp), n_addr, p=weight)
    xs.append(np.round((hx[h2] + rng.normal(0, 200, n_addr)) / 10) * 10)
    ys.append(np.round((hy[h2] + rng.normal(0, 200, n_addr)) / 10) * 10)
    xs.append(np.round(rng.uniform(hx.min() - 5000, hx.max() + 5000, n_bg) / 10) * 10)
    ys.append(np.round(rng.uniform(hy.min() - 5000, hy.max() + 5000, n_bg) / 10) * 10)
    lon, lat = crs.unproject(np.concatenate(xs), np.concatenate(ys), epsg)
    hid = np.r_[hosp.hospital_id.to_numpy()[h], hosp.hospital_id.to_numpy()[h2], np.full(n_bg, None)]
    day = rng.integers(0, 365, n)
    hour = np.where(rng.random(n) < 0.5, rng.uniform(6, 9.5, n),
                    np.where(rng.random(n) < 0.5, rng.uniform(13.5, 16, n), rng.uniform(0, 24, n)))
    t = pd.Timestamp("2025-11-01", tz="Asia/Shanghai") + pd.to_timedelta(day * 86400 + hour * 3600, unit="s")
    cats = np.array(["号贩子/倒号", "医托", "医闹/扰乱秩序", "黑救护车", "其他"])
    events = pd.DataFrame({"received_at": t, "lon": lon, "lat": lat,
                           "category": cats[rng.integers(0, cats.size, n)],
                           "hospital_id": pd.array(hid, dtype="string")})
    return events, hosp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--no-esda", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    events, hosp = synthetic_incidents(args.n)
    print(f"synthetic incidents: {len(events):,} (generated in {time.perf_counter() - t0:.1f} s; synthetic, not real)")

    t0 = time.perf_counter()
    ref = hotspot_refresh(events, hospitals=hosp, emerging=False)
    t_refresh = time.perf_counter() - t0
    print(f"full hotspot refresh (Gi* grid, clusters, hot-cell and hospital time profiles): {t_refresh:.2f} s "
          f"[target <= 10 s]")
    print(f"  grid {ref.gi.grid.nx}x{ref.gi.grid.ny} cells of {ref.gi.grid.cell_size:g} m, study area "
          f"{int(ref.gi.area.sum()):,} cells, significant hot cells {len(ref.gi.hot):,}, clusters {len(ref.clusters)}")
    for name, fn in [("  Gi* grid", lambda: hotspots.gi_star_grid(events)),
                     ("  clusters", lambda: hotspots.find_clusters(events, hospitals=hosp))]:
        t0 = time.perf_counter()
        fn()
        print(f"{name}: {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    hotspot_refresh(events, hospitals=hosp, emerging=True)
    print(f"refresh including monthly emerging hot spot categories: {time.perf_counter() - t0:.2f} s")

    x, y, _ = crs.project(events.lon.to_numpy(), events.lat.to_numpy())
    uxy, _, mult = hotspots._unique_points(x, y)
    t0 = time.perf_counter()
    ours = hotspots.weighted_dbscan(uxy, mult, eps=50, min_samples=10)
    t_ours = time.perf_counter() - t0
    print(f"clusters on {len(uxy):,} unique points (from {len(events):,} incidents): "
          f"weighted_dbscan {t_ours:.2f} s", end="")
    if not args.no_esda:
        from sklearn.cluster import DBSCAN
        from sklearn.metrics import adjusted_rand_score

        t0 = time.perf_counter()
        ref_db = DBSCAN(eps=50, min_samples=10).fit(uxy, sample_weight=mult)
        t_sk = time.perf_counter() - t0
        core = ref_db.core_sample_indices_
        same = adjusted_rand_score(ours[core], ref_db.labels_[core])
        print(f", sklearn DBSCAN {t_sk:.2f} s (ratio {t_sk / t_ours:.1f}x, same core clusters: ARI {same:.6f})")
    else:
        print()

    if not args.no_esda:
        counts, mask = ref.gi.counts, ref.gi.area
        t0 = time.perf_counter()
        z_fast = hotspots.gi_star_z(counts, mask=mask)
        t_fast = time.perf_counter() - t0
        t0 = time.perf_counter()
        z_esda = hotspots.gi_star_esda(counts, mask=mask)
        t_esda = time.perf_counter() - t0
        diff = np.nanmax(np.abs(z_fast - z_esda))
        print(f"Gi* on the same grid ({int(mask.sum()):,} study-area cells): fast {t_fast:.3f} s, "
              f"esda.G_Local (incl. weights) {t_esda:.2f} s, speed ratio {t_esda / t_fast:.0f}x, "
              f"max |dz| = {diff:.2e} [target <= 1e-6]")
        sub = counts[:300, :300]
        t0 = time.perf_counter()
        zf = hotspots.gi_star_z(sub)
        tf = time.perf_counter() - t0
        t0 = time.perf_counter()
        ze = hotspots.gi_star_esda(sub)
        te = time.perf_counter() - t0
        print(f"Gi* on a full 300x300 lattice (lat2W queen): fast {tf:.4f} s, esda {te:.2f} s, "
              f"ratio {te / tf:.0f}x, max |dz| = {np.max(np.abs(zf - ze)):.2e}")


if __name__ == "__main__":
    main()
