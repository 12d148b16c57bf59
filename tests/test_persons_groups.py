"""Co-occurrence ties and communities: planted gangs come back as groups."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from geo.persons.groups import TIE_COLUMNS, co_occurrence_ties, describe_groups, find_groups
from tests._persons_data import pipeline


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("method", ["louvain", "greedy"])
def test_planted_gangs_are_recovered_as_communities(seed, method):
    p = pipeline(seed)
    groups = find_groups(co_occurrence_ties(p.events), method=method, seed=seed)
    members = p.truth[p.truth["gang"] >= 0]
    ari = adjusted_rand_score(members["gang"], groups.labels(members["person_id"]))
    assert ari >= 0.9, f"ARI {ari:.2f}"
    # Lone scalpers at the same hospitals and hours are not drawn into the gangs.
    loners = p.truth[p.truth["gang"] < 0]
    gang_groups = set(groups.labels(members["person_id"]))
    assert not set(groups.labels(loners["person_id"])) & gang_groups


def test_groups_carry_parameters_and_describe_hospitals_and_hours():
    p = pipeline(0)
    g = p.groups
    assert g.params["method"] == "louvain" and g.params["seed"] == 0
    desc = describe_groups(g, p.events)
    gang0 = p.truth[p.truth["gang"] == 0]
    gid = g.labels(gang0["person_id"])[0]
    row = desc.set_index("group_id").loc[gid]
    assert row["main_hospital"] == gang0["main_hospital"].iloc[0]
    planted = p.data.gangs.set_index("gang").loc[0, "peak_center_min"]
    assert abs((row["peak_center_min"] - planted + 720) % 1440 - 720) <= 30
    assert set(row["core_members"].split("+")) <= set(row["members"].split("+"))


def _ev(rows):
    return pd.DataFrame(rows, columns=["person_id", "source", "record_id", "seen_at", "hospital_id", "phone_hash"]) \
        .assign(seen_at=lambda f: pd.to_datetime(f["seen_at"]))


def test_tie_kinds_are_counted_once_per_occasion():
    e = _ev([
        ("a", "sighting", "s1", "2026-05-01 08:00", "H", ""), ("b", "sighting", "s2", "2026-05-01 08:20", "H", ""),
        ("b", "sighting", "s3", "2026-05-01 08:25", "H", ""),              # same day and hospital: one occasion
        ("a", "sighting", "s4", "2026-05-02 08:00", "H", ""), ("b", "sighting", "s5", "2026-05-02 08:40", "H", ""),
        ("a", "sighting", "s6", "2026-05-03 08:00", "H", ""), ("b", "sighting", "s7", "2026-05-03 08:10", "K", ""),
        ("a", "sighting", "s8", "2026-05-04 08:00", "H", ""), ("b", "sighting", "s9", "2026-05-04 08:30", "H", ""),
        ("a", "incident", "i1", "2026-05-05 09:00", "H", "p1"), ("c", "incident", "i1", "2026-05-05 09:00", "H", ""),
        ("d", "sighting", "s10", "2026-05-06 09:00", "K", "p1"),
    ])
    t = co_occurrence_ties(e, window_min=30, chance_correction=False).set_index(["person_a", "person_b"])
    assert t.loc[("a", "b"), "seen_together"] == 2        # 05-01 and 05-04 (40 min apart and other hospital excluded)
    assert t.loc[("a", "c"), "named_together"] == 1
    assert t.loc[("a", "d"), "shared_phone"] == 1
    assert t.loc[("a", "b"), "weight"] == 2.0
    strict = co_occurrence_ties(e, window_min=30, min_seen_together=3, chance_correction=False)
    assert not ((strict["person_a"] == "a") & (strict["person_b"] == "b")).any()


def test_regulars_of_one_hospital_are_not_tied_by_chance_but_a_pair_that_comes_together_is():
    days = pd.date_range("2026-05-01", periods=20, freq="D")
    rows = []
    for k, d in enumerate(days):
        for p in ("r1", "r2"):  # both at H every day: meeting is certain, no evidence of a tie
            rows.append((p, "sighting", f"{p}{k}", d + pd.Timedelta(hours=8), "H", ""))
        if k % 4 == 0:  # g1 and g2 come only together, on 5 of the 20 days
            for p in ("g1", "g2"):
                rows.append((p, "sighting", f"{p}{k}", d + pd.Timedelta(hours=14), "K", ""))
    t = co_occurrence_ties(_ev(rows)).set_index(["person_a", "person_b"])
    assert ("r1", "r2") not in t.index
    assert t.loc[("g1", "g2"), "seen_together"] == 5
    assert t.loc[("g1", "g2"), "seen_expected"] == pytest.approx(5 * 5 / 20)
    assert t.loc[("g1", "g2"), "weight"] == pytest.approx(5 - 1.25)
    raw = co_occurrence_ties(_ev(rows), chance_correction=False).set_index(["person_a", "person_b"])
    assert raw.loc[("r1", "r2"), "weight"] == 20


def test_bad_method_is_refused():
    with pytest.raises(ValueError, match="method"):
        find_groups(pd.DataFrame(columns=list(TIE_COLUMNS)), method="kmeans")


def test_same_seed_same_groups():
    p = pipeline(1)
    ties = co_occurrence_ties(p.events)
    a, b = find_groups(ties, seed=7), find_groups(ties, seed=7)
    pd.testing.assert_frame_equal(a.membership, b.membership)
    assert a.params["seed"] == 7
