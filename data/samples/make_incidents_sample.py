"""Write ``incidents_sample.csv``: 样例 110 calls (synthetic, 合成) around the four sample hospitals, 2026-08..10.

A GB18030 export with a title row, like real 接处警 exports, ending in three bad rows (no time, a non-numeric
longitude, a call exported twice) so the import shows its row accounting. Run from the repository root:
``python data/samples/make_incidents_sample.py``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from geo.crs import project, unproject

HERE = Path(__file__).resolve().parent
TEXTS = ["门诊挂号大厅有号贩子倒卖专家号", "有医托在门口拉患者去私人诊所", "患者家属在急诊科聚集吵闹", "电动车被盗"]


def main(seed: int = 3) -> Path:
    """Write the file and return its path."""
    hospitals = pd.read_csv(HERE.parent / "beijing_hospitals.csv", dtype={"hospital_id": str})
    hospitals = hospitals[hospitals["hospital_id"].isin(["bj001", "bj002", "bj003", "bj004"])]
    rng = np.random.default_rng(seed)
    rows = []
    for h in hospitals.itertuples(index=False):
        x0, y0, epsg = project([h.lon], [h.lat])
        for day in pd.date_range("2026-08-01", "2026-10-31", freq="D"):
            for _ in range(rng.poisson(1.5)):
                dx, dy = rng.normal(0, 80, 2)
                lon, lat = unproject(x0 + dx, y0 + dy, epsg)
                minute = int(rng.normal(8 * 60, 90)) % (24 * 60)
                when = day + pd.Timedelta(minutes=minute)
                rows.append([f"J{len(rows) + 1:06d}", when.strftime("%Y-%m-%d %H:%M:%S"),
                             f"{lon[0]:.6f}", f"{lat[0]:.6f}", TEXTS[int(rng.integers(len(TEXTS)))]])
    rows += [["JBAD1", "", "116.40", "39.91", "缺时间"], ["JBAD2", "2026-09-01 08:00", "abc", "39.91", "坐标不是数字"],
             rows[0]]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["XX市公安局110接处警登记表（样例：合成警情，非真实数据）"])
    w.writerow(["警情编号", "报警时间", "经度", "纬度", "简要警情"])
    w.writerows(rows)
    path = HERE / "incidents_sample.csv"
    path.write_bytes(buf.getvalue().encode("gb18030"))
    return path


if __name__ == "__main__":
    print(main())
