"""A small planning store for the planning tests, with known, planted patterns.

Six real Beijing hospitals, their stationed teams, the 派出所 of their districts and a city
reserve, and five months of synthetic incidents (2026-06 .. 2026-10) in which:

* bj001 has a micro-hotspot 80 m north-east of its point, busiest 07:00-09:00, rising in 2026-10;
* bj002 was hot in the trend months and cools down in 2026-10;
* the others have a light uniform background.

Tests that write (key-list history, plans, outcomes) get their own copy (``make_store``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from geo.crs import project, unproject

HOSPITALS = ["bj001", "bj002", "bj003", "bj004", "bj005", "bj006"]
MONTH = "2026-11"
CATEGORIES = ["号贩子/倒号", "医托", "医闹/扰乱秩序", "黑救护车", "盗窃", "其他"]


def make_store(url: str, *, seed: int = 7, demo: bool = True):
    """Create and fill a store at ``url``; returns its engine."""
    from core.db import Incident, Officer, PoliceUnit, get_engine, session_scope, set_meta
    from geo.io.hospitals import read_hospital_file, save_hospitals

    engine = get_engine(url)
    rng = np.random.default_rng(seed)
    hosp = read_hospital_file()
    hosp = hosp[hosp["hospital_id"].isin(HOSPITALS)].reset_index(drop=True)
    hosp["stationed_officers"] = [4, 3, 2, 3, 2, 1]
    hosp["reg_open"] = "07:00"
    hosp["reg_close"] = "17:00"
    save_hospitals(engine, hosp)
    with session_scope(engine) as s:
        n = 0
        for h in hosp.itertuples(index=False):
            uid = f"ZY-{h.hospital_id}"
            s.add(PoliceUnit(id=uid, name=f"{h.name}驻院警务室", kind="stationed", district=h.district,
                             hospital_id=h.hospital_id, available_per_day=int(h.stationed_officers)))
            s.flush()  # units before their officers (no ORM relationship orders the inserts)
            for _ in range(int(h.stationed_officers)):
                n += 1
                s.add(Officer(id=f"O{n:03d}", name=f"张{n}明", unit_id=uid, hospital_id=h.hospital_id,
                              phone=f"1380000{n:04d}"))
        for i, d in enumerate(sorted(hosp["district"].unique())):
            s.add(PoliceUnit(id=f"PCS{i}", name=f"{d}派出所", kind="station", district=d, available_per_day=8))
        s.add(PoliceUnit(id="ZADD", name="治安支队", kind="reserve", district="", available_per_day=20))
    rows = []
    start = pd.Timestamp("2026-06-01")
    days = pd.date_range(start, "2026-10-31", freq="D")
    for h in hosp.itertuples(index=False):
        x0, y0, epsg = project([h.lon], [h.lat])
        for day in days:
            lam = 0.4
            if h.hospital_id == "bj001":
                lam = 1.5 if day.month < 10 else 3.5
            elif h.hospital_id == "bj002":
                lam = 2.5 if day.month < 10 else 0.5
            for _ in range(rng.poisson(lam)):
                hot = h.hospital_id in ("bj001", "bj002") and rng.random() < 0.7
                if hot:
                    minute = int(rng.integers(7 * 60, 9 * 60))
                    dx, dy = 57 + rng.normal(0, 6), 57 + rng.normal(0, 6)
                else:
                    minute = int(rng.integers(6 * 60, 22 * 60))
                    ang, r = rng.uniform(0, 2 * np.pi), rng.uniform(30, 400)
                    dx, dy = r * np.cos(ang), r * np.sin(ang)
                lon, lat = unproject(x0 + dx, y0 + dy, epsg)
                rows.append((day + pd.Timedelta(minutes=minute), float(lon[0]), float(lat[0]), h.hospital_id,
                             CATEGORIES[int(rng.integers(0, 2 if hot else len(CATEGORIES)))],
                             "complaint" if rng.random() < 0.15 else "110"))
    with session_scope(engine) as s:
        for i, (t, lon, lat, hid, cat, src) in enumerate(rows):
            s.add(Incident(source=src, source_id=f"T{i:06d}", channel="110" if src == "110" else "12345",
                           received_at=t.to_pydatetime(), lon=lon, lat=lat, category=cat, hospital_id=hid,
                           hospital_distance_m=0.0, address="", description=""))
    if demo:
        set_meta("demo", "1", engine)
    return engine


def copy_store(src_url: str, dst_url: str):
    """Copy a store (SQLite: to the file of ``dst_url``; PostgreSQL: a new database) and return the copy's engine."""
    from pathlib import Path

    from core.db import get_engine
    from tests.conftest import copy_store as copy_any

    return get_engine(copy_any(src_url, Path(dst_url.removeprefix("sqlite:///")).parent))


_CACHE: dict[str, object] = {}


def base_url(tmp_path_factory) -> str:
    """URL of the store built once per test process (read it, or copy it with :func:`writable`)."""
    if "url" not in _CACHE:
        d = tmp_path_factory.mktemp("planning-store")
        url = f"sqlite:///{d / 'base.sqlite'}"
        make_store(url)
        _CACHE["url"] = url
        _CACHE["dir"] = d
    return str(_CACHE["url"])


def writable(tmp_path_factory, name: str):
    """A private copy of the base store, for tests that write."""
    src = base_url(tmp_path_factory)
    d = tmp_path_factory.mktemp(name)
    return copy_store(src, f"sqlite:///{d / 'store.sqlite'}")


def base_plan(tmp_path_factory, *, seed: int = 11):
    """A plan of ``MONTH`` made once per process on a private copy of the base store."""
    key = f"plan-{seed}"
    if key not in _CACHE:
        from planning.plan import make_plan

        engine = writable(tmp_path_factory, f"plan{seed}")
        _CACHE[key] = make_plan(engine, month=MONTH, seed=seed)
    return _CACHE[key]


def first_day(month: str = MONTH) -> dt.date:
    """First date of ``month``."""
    return dt.date.fromisoformat(f"{month}-01")
