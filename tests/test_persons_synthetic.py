"""The synthetic scalpers are visibly fake, seeded, and plant what the tests rely on."""

from __future__ import annotations

import pandas as pd

from geo.io.hospitals import read_hospital_file
from geo.persons.identity import check_id_number, normalize_phone
from geo.persons.synthetic import DEMO_LABEL, FAKE_GIVEN, FAKE_SURNAMES, make_synthetic_persons
from tests._persons_data import pipeline


def test_identities_are_fake_by_construction():
    t = pipeline(0).truth
    assert (t["id_number"].map(check_id_number) == "checksum").all()
    assert t["phone"].str.fullmatch(r"1990000\d{4}").all()
    assert t["phone"].map(normalize_phone).notna().all()
    assert t["name"].map(lambda n: n[0] in FAKE_SURNAMES and all(c in FAKE_GIVEN for c in n[1:])).all()


def test_every_frame_is_labelled_demo():
    d = pipeline(0).data
    for f in (d.incidents, d.sightings, d.actions):
        assert (f["data_label"] == DEMO_LABEL).all()


def test_same_seed_same_data_other_seed_other_data():
    h = read_hospital_file()
    a, b = make_synthetic_persons(h, seed=5), make_synthetic_persons(h, seed=5)
    pd.testing.assert_frame_equal(a.sightings, b.sightings)
    pd.testing.assert_frame_equal(a.incidents, b.incidents)
    assert not make_synthetic_persons(h, seed=6).sightings.equals(a.sightings)


def test_planted_structure():
    d = pipeline(0).data
    t = d.truth
    twins = t[t["name"].duplicated(keep=False)]
    assert len(twins) == 2 and twins["id_number"].nunique() == 2 and twins["main_hospital"].nunique() == 2
    assert t.loc[t["gang"] == 0, "phone"].duplicated().any()      # a shared phone inside the first gang
    assert (t["displaced_to"] != "").any() and set(d.actions["hospital_id"]) <= set(t["main_hospital"])
    assert set(d.sightings["医院编号"].replace("", pd.NA).dropna()) <= set(read_hospital_file()["hospital_id"])
