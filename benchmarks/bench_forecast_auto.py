"""Benchmark: ``forecast --method auto`` on a 150,000-event city and the hospital-hour backtest.

Run: ``.venv/bin/python benchmarks/bench_forecast_auto.py [--events 150000] [--skip-city]``

1. A 150,000-event city synthesised by resampling the real Cincinnati burglaries (with
   replacement; each copy moved by a 60 m Gaussian and up to ±3 days, so places and seasons
   stay real while the volume is a large city's). Times ``python -m planning forecast`` with its
   default method (``auto``: a 6-origin backtest of the count baselines and ``boosted_counts``,
   then the chosen method). Target ≤ 90 s on 2 cores.
2. The hospital × weekday-hour forecast (:func:`geo.forecast.hospital_hour_risk`, what planning
   uses) backtested over 12 monthly origins with the 40 busiest 500 m discs of each real set as
   "hospitals", against a seasonal naive (same weekday-hour, last 8 weeks) and the historical mean.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_backtest import load  # noqa: E402
from geo import backtest, crs  # noqa: E402


def big_city(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` events resampled from the Cincinnati burglaries with spatial and temporal jitter."""
    base = load("cincinnati")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(base), n)
    x, y, epsg = crs.project(base.lon.to_numpy()[pick], base.lat.to_numpy()[pick])
    lon, lat = crs.unproject(x + rng.normal(0, 60, n), y + rng.normal(0, 60, n), epsg)
    t = base.received_at.dt.tz_localize(None).to_numpy()[pick] + pd.to_timedelta(rng.uniform(-3, 3, n), unit="D")
    return pd.DataFrame({"time": pd.DatetimeIndex(t).strftime("%Y-%m-%d %H:%M"), "lon": lon, "lat": lat})


def bench_city(n: int) -> None:
    from planning.cli import main as cli

    city = big_city(n)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "city.csv", Path(tmp) / "cells.csv"
        city.to_csv(src, index=False)
        t0 = time.perf_counter()
        code = cli(["forecast", "--csv", str(src), "--time", "time", "--lon", "lon", "--lat", "lat",
                    "--until", "2019-01-01", "--out", str(out)])
        sec = time.perf_counter() - t0
        cells = pd.read_csv(out)
    print(f"forecast --method auto, {n:,} events ({city.time.min()} .. {city.time.max()}), 100 m cells: "
          f"{sec:.1f} s (target ≤ 90 s), exit {code}, {len(cells):,} cells written")


def bench_hospital_hours() -> None:
    for name in ("cincinnati", "medellin"):
        events = backtest.busiest_discs(load(name), n=40, radius_m=500)
        t0 = time.perf_counter()
        res = backtest.hospital_hour_backtest(events, n_periods=12)
        sec = time.perf_counter() - t0
        print(f"\nhospital × weekday-hour backtest, {name}: 40 busiest 500 m discs "
              f"({res.params['events']:,} events), 12 monthly origins "
              f"({res.origins[0]:%Y-%m} .. {res.origins[-1]:%Y-%m}), {sec:.1f} s")
        print(res.summary.rename(columns={"top_share": "top20%_share"}).round(4).to_string(index=False))
        print(f"  hospital_hour_risk at least as good as the better baseline: {res.beats_baselines()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=150_000)
    ap.add_argument("--skip-city", action="store_true")
    args = ap.parse_args()
    if not args.skip_city:
        bench_city(args.events)
    bench_hospital_hours()


if __name__ == "__main__":
    main()
