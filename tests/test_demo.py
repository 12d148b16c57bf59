"""The synthetic demo carries the patterns it promises, is labelled, and is reproducible."""

import numpy as np
import pandas as pd

from core.db import get_meta, is_demo, load_hospitals, load_incidents, load_officers, load_units
from geo.io.demo import generate_incidents, load_districts
from geo.io.hospitals import read_hospital_file


def test_demo_store_is_labelled_and_complete(demo_engine):
    assert is_demo(demo_engine)
    assert get_meta("demo_period", demo_engine) == "2025-11-01/2026-11-01"
    assert len(load_hospitals(demo_engine)) == 44
    units = load_units(demo_engine)
    assert set(units["kind"]) == {"stationed", "station", "reserve"}
    officers = load_officers(demo_engine)
    stationed = officers.dropna(subset=["hospital_id"]).groupby("hospital_id").size()
    h = load_hospitals(demo_engine).set_index("hospital_id")
    assert (stationed == h.loc[stationed.index, "stationed_officers"]).all()


def test_demo_incidents_show_the_planted_patterns(demo_engine):
    df = load_incidents(demo_engine)
    assert set(df["source"]) == {"110", "complaint"}
    near = df.dropna(subset=["hospital_id"])
    # Strongly unequal hospitals: the top 5 of 44 hold well over a quarter of the incidents.
    share_top5 = near["hospital_id"].value_counts().head(5).sum() / len(near)
    assert share_top5 > 0.3
    # Weekday registration peak 06:00-09:30 vs the same length of the late evening.
    scal = near[near["category"] == "号贩子/倒号"]
    wd = scal[scal["received_at"].dt.day_of_week < 5]
    minutes = wd["received_at"].dt.hour * 60 + wd["received_at"].dt.minute
    assert ((minutes >= 360) & (minutes < 570)).mean() > 0.5
    # Monday highs.
    by_day = near["received_at"].dt.day_of_week.value_counts()
    assert by_day[0] == by_day.max() and by_day[6] < 0.5 * by_day[0]
    # Complaints without coordinates are placed at the named hospital and flagged.
    comp = df[df["source"] == "complaint"]
    assert 0.15 < comp["approximate"].mean() < 0.45
    assert (comp.loc[comp["approximate"], "hospital_distance_m"] == 0).all()
    # Micro-hotspots: many calls share the very same gate coordinates.
    dup_share = near.duplicated(subset=["lon", "lat"], keep=False).mean()
    assert dup_share > 0.3
    # Background calls away from any hospital exist.
    assert df["hospital_id"].isna().mean() > 0.05


def test_one_hospital_heats_up_and_one_cools_down(demo_engine):
    df = load_incidents(demo_engine).dropna(subset=["hospital_id"])
    m = df["received_at"].dt.tz_localize(None).dt.to_period("M")
    first, last = m.min(), m.max()
    early = df[m <= first + 2].groupby("hospital_id").size()
    late = df[m >= last - 2].groupby("hospital_id").size()
    both = pd.concat([early, late], axis=1, keys=["early", "late"]).fillna(0) + 1
    ratio = both["late"] / both["early"]
    assert ratio.max() > 3 and ratio.min() < 0.4


def test_generator_is_reproducible_and_seed_sensitive():
    h = read_hospital_file()
    d = load_districts()
    args = {"start": pd.Timestamp("2026-01-01"), "end": pd.Timestamp("2026-02-01"), "scale": 0.1}
    a1, _, _ = generate_incidents(h, d, seed=1, **args)
    a2, _, _ = generate_incidents(h, d, seed=1, **args)
    b, _, _ = generate_incidents(h, d, seed=2, **args)
    pd.testing.assert_frame_equal(a1, a2)
    assert len(a1) != len(b) or not np.allclose(a1["lon"], b["lon"])


def test_past_actions_have_a_planted_effect_that_shows_in_the_incidents(demo_engine):
    import json

    from core.db import get_meta

    actions = pd.DataFrame(json.loads(get_meta("demo_actions", demo_engine)))
    assert len(actions) >= 8 * 10  # eight hospitals, one action a month for the past months
    df = load_incidents(demo_engine, columns=["hospital_id"]).dropna(subset=["hospital_id"])
    t = df["received_at"].dt.tz_localize(None)
    before = after = 0
    for a in actions.itertuples():
        day = pd.Timestamp(a.start).normalize()
        own = df["hospital_id"] == a.hospital_id
        before += int((own & (t >= day - pd.Timedelta(days=14)) & (t < day)).sum())
        after += int((own & (t >= day + pd.Timedelta(days=1)) & (t < day + pd.Timedelta(days=15))).sum())
    assert after < 0.75 * before
