"""Benchmark: rolling-origin backtest on the Cincinnati burglaries (8,723 real incidents, 2016–2018).

Run: ``.venv/bin/python benchmarks/bench_backtest.py [--periods 12] [--cell 100] [--horizon month]``

Prints the run time per method and hit rate / PAI / PEI* at 1, 2, 5 and 10 % area coverage,
and whether the best method beats the best of the naive and KDE baselines in PAI at 5 %.
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

DATA = ROOT / "tests" / "data" / "cincinnati_burglary.csv.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--csv", default=str(DATA))
    ap.add_argument("--periods", type=int, default=12)
    ap.add_argument("--cell", type=float, default=100.0)
    ap.add_argument("--horizon", choices=["week", "month"], default="month")
    ap.add_argument("--methods", default=",".join(METHODS))
    args = ap.parse_args()
    d = pd.read_csv(args.csv)
    events = pd.DataFrame({"lon": d.longitude, "lat": d.latitude,
                           "received_at": pd.to_datetime(d.offense_date, errors="coerce")}).dropna()
    pts = Points.from_events(events)
    methods = [m for m in args.methods.split(",") if m]
    t0 = time.perf_counter()
    res = backtest.backtest(pts, methods=methods, n_periods=args.periods, cell_size=args.cell, horizon=args.horizon)
    total = time.perf_counter() - t0
    print(f"Cincinnati burglary backtest: {len(pts):,} events, {len(res.origins)} {args.horizon}ly origins "
          f"({res.origins[0]:%Y-%m-%d} .. {res.origins[-1]:%Y-%m-%d}), {args.cell:g} m cells, "
          f"study area {res.params['area_cells']:,} cells; total {total:.1f} s")
    for name, sec in res.params["seconds"].items():
        print(f"  {name:<18} {sec:6.2f} s  ({sec / len(res.origins):.2f} s per origin)")
    for metric in ("hit_rate", "pai", "pei"):
        print(f"\n{metric} (mean over origins) by coverage %:")
        print(res.summary.pivot(index="method", columns="coverage", values=metric).loc[methods].round(3).to_string())
    at5 = res.summary[res.summary.coverage == 5].set_index("method")["pai"]
    base = max(at5[m] for m in backtest.BASELINES if m in at5)
    best = at5.drop([m for m in backtest.BASELINES if m in at5]).idxmax()
    print(f"\nPAI at 5 %: best method {best} {at5[best]:.3f} vs best baseline {base:.3f} "
          f"({'beats' if at5[best] > base else 'does NOT beat'} it, {100 * (at5[best] / base - 1):+.1f} %)")


if __name__ == "__main__":
    main()
