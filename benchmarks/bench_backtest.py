"""Benchmark: rolling-origin backtest of every grid method on the shipped real sets.

Run: ``.venv/bin/python benchmarks/bench_backtest.py [--data cincinnati|medellin] [--periods 12] [--cell 100]``

Cincinnati: 8,297 usable real burglaries 2016–2018; Medellín: 9,279 real homicides 2010–2019
(``tests/data/``). Prints the run time per method (target: every method, 12 monthly origins on
Cincinnati ≤ 60 s on 2 cores), hit rate / PAI / PEI* at 1, 2, 5 and 10 % area coverage, the
strongest count baseline, and ``auto`` (the ``forecast`` default) against it: the paired
per-origin PAI difference and the gain in events covered, with seeded bootstrap 95 % intervals.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo import backtest  # noqa: E402
from geo.forecast_models import METHODS, Points  # noqa: E402

DATA = {
    "cincinnati": (ROOT / "tests" / "data" / "cincinnati_burglary.csv.gz", "offense_date"),
    "medellin": (ROOT / "tests" / "data" / "medellin_homicides.csv.gz", "occurred_at"),
}


def load(name: str) -> pd.DataFrame:
    """A shipped real set as ``lon, lat, received_at``."""
    path, time_col = DATA[name]
    d = pd.read_csv(path)
    return pd.DataFrame({"lon": d.longitude, "lat": d.latitude,
                         "received_at": pd.to_datetime(d[time_col], errors="coerce")}).dropna()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", choices=sorted(DATA), default="cincinnati")
    ap.add_argument("--periods", type=int, default=12)
    ap.add_argument("--cell", type=float, default=100.0)
    ap.add_argument("--horizon", choices=["week", "month"], default="month")
    ap.add_argument("--methods", default=",".join(METHODS))
    args = ap.parse_args()
    pts = Points.from_events(load(args.data))
    methods = [m for m in args.methods.split(",") if m]
    t0 = time.perf_counter()
    res = backtest.backtest(pts, methods=methods, n_periods=args.periods, cell_size=args.cell, horizon=args.horizon)
    total = time.perf_counter() - t0
    print(f"{args.data} backtest: {len(pts):,} events, {len(res.origins)} {args.horizon}ly origins "
          f"({res.origins[0]:%Y-%m-%d} .. {res.origins[-1]:%Y-%m-%d}), {args.cell:g} m cells, "
          f"study area {res.params['area_cells']:,} cells; total {total:.1f} s")
    for name, sec in res.params["seconds"].items():
        print(f"  {name:<18} {sec:6.2f} s  ({sec / len(res.origins):.2f} s per origin)")
    for metric in ("hit_rate", "pai", "pei"):
        print(f"\n{metric} (mean over origins) by coverage %:")
        print(res.summary.pivot(index="method", columns="coverage", values=metric).loc[methods].round(3).to_string())
    at5 = res.summary[res.summary.coverage == 5].set_index("method")["pai"]
    base = res.strongest_baseline(coverage=5)
    print(f"\nPAI at 5 %: strongest baseline {base} {at5[base]:.3f}")
    for m in methods:
        if not (m.startswith("naive_") or m == "kde_retrospective"):
            print(f"  {m:<18} {at5[m]:.3f}  ({at5[m] / at5[base]:.3f} × {base})")
    if "auto" in methods:
        ev = res.evidence("auto")
        print(f"\nauto chose per origin: {res.params['auto_choices']}")
        print(f"auto − {ev.baseline}: PAI@5% {ev.pai_diff:+.3f} (95% CI {ev.pai_diff_ci[0]:+.3f} .. "
              f"{ev.pai_diff_ci[1]:+.3f}); events covered {100 * ev.hit_gain:+.1f} % "
              f"(95% CI {100 * ev.hit_gain_ci[0]:+.1f} .. {100 * ev.hit_gain_ci[1]:+.1f} %)")
        print(ev.statement())


if __name__ == "__main__":
    main()
