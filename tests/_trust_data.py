"""A tiny store with personal data in it, for the trust tests (access, privacy, audit)."""

from __future__ import annotations

import datetime as dt

from core.db import Hospital, Incident, Officer, PoliceUnit, get_engine, session_scope

HOSPITALS = [
    ("H1", "协和医院", 116.4166, 39.9120),
    ("H2", "同仁医院", 116.4180, 39.9000),
    ("H3", "天坛医院", 116.4300, 39.8800),
]
#: Personal values planted in the data; none may appear in a masked or aggregate output.
PHONES = ["13812345678", "13987654321", "18611112222", "010-62345678"]
IDS = ["110101199003071234", "11010519850101123X"]
NAMES = ["张伟", "李秀英", "欧阳娜娜"]


def build_store(path) -> object:
    """Create a SQLite store at ``path`` with 3 hospitals, 3 officers and 12 incidents."""
    engine = get_engine(f"sqlite:///{path}")
    with session_scope(engine) as s:
        for hid, name, lon, lat in HOSPITALS:
            s.add(Hospital(id=hid, name=name, full_name=name, lon=lon, lat=lat))
        s.add(PoliceUnit(id="U1", name="驻院警务队", kind="stationed"))
        s.flush()
        s.add(Officer(id="O1", name="赵刚", unit_id="U1", hospital_id="H1", phone="13500001111"))
        s.add(Officer(id="O2", name="钱敏", unit_id="U1", hospital_id="H2", phone="13500002222"))
        s.add(Officer(id="O3", name="孙立", unit_id="U1", hospital_id=None, phone="13500003333"))
        base = dt.datetime(2026, 9, 1, 8, 0)
        n = 0
        for month in range(3):
            for (hid, _name, lon, lat), phone, name in zip(HOSPITALS, PHONES, NAMES, strict=False):
                n += 1
                s.add(
                    Incident(
                        source="110", source_id=f"J{n:04d}", channel="110",
                        received_at=base + dt.timedelta(days=30 * month, hours=n),
                        lon=lon + 0.0005, lat=lat, category="号贩子/倒号" if n % 2 else "医托",
                        description=f"报警人{name}称挂号大厅有号贩子倒号，电话{phone}，身份证{IDS[n % 2]}",
                        address=f"{hid}门口", caller_name=name, caller_phone=phone,
                        hospital_id=hid, hospital_distance_m=40.0,
                    )
                )
        # One incident outside every hospital's radius.
        s.add(
            Incident(
                source="complaint", source_id="C0001", channel="12345", received_at=base, lon=116.5, lat=39.95,
                category="其他", description=f"投诉人{NAMES[2]}反映，电话{PHONES[3]}", caller_name=NAMES[2],
                caller_phone=PHONES[3], hospital_id=None,
            )
        )
    return engine


def use_fast_hasher(monkeypatch) -> None:
    """Swap the production argon2 parameters for cheap ones (tests hash dozens of passwords)."""
    from argon2 import PasswordHasher

    from core.trust import auth

    monkeypatch.setattr(auth, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(auth, "_DUMMY", [])
