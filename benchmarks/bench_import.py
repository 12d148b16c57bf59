"""Benchmark: import a 1,000,000-row GB18030 CSV (title row, GCJ-02 coordinates) into SQLite.

Prints rows/s end to end (reading, decoding, parsing, classifying, assigning hospitals,
writing), peak memory and CPU time of the importer and of its parsing helper process (large
files are parsed in a helper while the importer writes). Target (issue #2): >= 50,000 rows/s
on 2 cores, < 2 GB.

Side by side, in the same run and on the same file (issue 10): a bare ``pandas.read_csv`` + ``DataFrame.to_sql``
load into a fresh SQLite file. The bare load does none of the importer's work (no encoding detection beyond the
given one, no checks, no category, no coordinate conversion, no hospital assignment, no duplicate check, no row
accounting) and writes into a table without indexes; it is the floor a plain script would give. Target: the importer
is at least as fast. The two runs alternate (bare, importer, bare, importer) so that other load on the machine
hits both; each figure is the better of its two runs.

Usage: python benchmarks/bench_import.py [ROWS] [--repeat N]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.crs import from_wgs84  # noqa: E402
from geo.io.hospitals import read_hospital_file  # noqa: E402

TEXTS = ["门诊大厅有人倒卖专家号，开价500元", "有人冒充病友拉患者去私立诊所", "家属在诊室闹事", "候诊时手机被偷",
         "急诊门口有黑救护车揽客", "有人求助走失", "被冒充工作人员骗走800元"]


def make_csv(path: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    h = read_hospital_file()
    i = rng.integers(0, len(h), n)
    lon = h["lon"].to_numpy()[i] + rng.normal(0, 0.002, n)
    lat = h["lat"].to_numpy()[i] + rng.normal(0, 0.002, n)
    glon, glat = from_wgs84(lon, lat, "gcj02")
    t = pd.Timestamp("2025-11-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s")
    df = pd.DataFrame({
        "接警单编号": [f"J{k:08d}" for k in range(n)],
        "报警时间": t.strftime("%Y/%m/%d %H:%M"),
        "报警人": "张某",
        "联系电话": "19000000000",
        "事发地址": h["name"].to_numpy()[i],
        "经度": np.round(glon, 6),
        "纬度": np.round(glat, 6),
        "简要警情": np.array(TEXTS)[rng.integers(0, len(TEXTS), n)],
    })
    with open(path, "w", encoding="gb18030", newline="") as fh:
        fh.write("XX市公安局110接处警登记表（基准测试，合成数据）\n")
        df.to_csv(fh, index=False)


CHILD = r"""
import json, resource, sys, time
from core.db import get_engine
from geo.io.hospitals import read_hospital_file, save_hospitals
from geo.io.ingest import import_file
engine = get_engine(sys.argv[2])
save_hospitals(engine, read_hospital_file())
cpu0 = time.process_time()  # start-up and set-up are not part of the import
t0 = time.perf_counter()
r = import_file(sys.argv[1], source="110", crs="gcj02", engine=engine)
dt = time.perf_counter() - t0
cpu = time.process_time() - cpu0
me, helper = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": dt, "accepted": r.accepted, "total": r.total,
                  "cpu_seconds": cpu, "helper_cpu_seconds": helper.ru_utime + helper.ru_stime,
                  "peak_rss_mb": me.ru_maxrss / 1024, "helper_peak_rss_mb": helper.ru_maxrss / 1024}))
"""


BARE = r"""
import json, sys, time
import pandas as pd
from sqlalchemy import create_engine
engine = create_engine(sys.argv[2])
t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1], encoding="gb18030", skiprows=1)
t1 = time.perf_counter()
df.to_sql("incidents_bare", engine, index=False, if_exists="append", chunksize=50_000)
t2 = time.perf_counter()
print(json.dumps({"seconds": t2 - t0, "read_seconds": t1 - t0, "write_seconds": t2 - t1, "rows": len(df)}))
"""


def _child(code: str, csv_path: Path, url: str, d: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, str(csv_path), url], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={"HOSPITAL_HOTSPOTS_VAR": d, "PATH": ""})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="importer vs bare pandas load, SQLite")
    ap.add_argument("rows", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    opts = ap.parse_args()
    n, repeat = opts.rows, opts.repeat
    with tempfile.TemporaryDirectory() as d:
        csv_path = Path(d) / "calls.csv"
        t0 = time.perf_counter()
        make_csv(csv_path, n)
        print(f"generated {n:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB GB18030) in {time.perf_counter() - t0:.1f} s")
        bare_runs, runs = [], []
        for k in range(repeat):
            bare_runs.append(_child(BARE, csv_path, f"sqlite:///{d}/bare{k}.sqlite", d))
            runs.append(_child(CHILD, csv_path, f"sqlite:///{d}/bench{k}.sqlite", d))
        bare_times = ", ".join(f"{x['seconds']:.1f}" for x in bare_runs)
        times = ", ".join(f"{x['seconds']:.1f}" for x in runs)
        bare = min(bare_runs, key=lambda r: r["seconds"])
        r = min(runs, key=lambda r: r["seconds"])
        print(f"bare pandas.read_csv + to_sql: {bare['rows']:,} rows in {bare['seconds']:.1f} s = "
              f"{bare['rows'] / bare['seconds']:,.0f} rows/s (read {bare['read_seconds']:.1f} s, write "
              f"{bare['write_seconds']:.1f} s; runs {bare_times} s)")
        print(f"importer:                      {r['total']:,} rows in {r['seconds']:.1f} s = "
              f"{r['total'] / r['seconds']:,.0f} rows/s (runs {times} s)")
        ratio = bare["seconds"] / r["seconds"]
        print(f"importer vs bare load: {ratio:.2f}x the speed ({'at least as fast' if ratio >= 1 else 'SLOWER'}; "
              "target >= 1.00x)")
        peak = r["peak_rss_mb"] + r["helper_peak_rss_mb"]  # both processes at their peaks at once: an upper bound
        print(f"import: {r['accepted']:,}/{r['total']:,} rows in {r['seconds']:.1f} s = "
              f"{r['total'] / r['seconds']:,.0f} rows/s (target >= 50,000)")
        print(f"peak memory {peak:,.0f} MB = importer {r['peak_rss_mb']:,.0f} + parsing helper "
              f"{r['helper_peak_rss_mb']:,.0f} (target < 2,048 MB)")
        print(f"CPU time {r['cpu_seconds'] + r['helper_cpu_seconds']:.1f} s = importer {r['cpu_seconds']:.1f} + "
              f"parsing helper {r['helper_cpu_seconds']:.1f} (2 cores; wall time also counts other load on the machine)")


if __name__ == "__main__":
    main()
