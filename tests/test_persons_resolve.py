"""Entity resolution: exact on ID number, name + phone with a confidence, never on a name alone."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest

from geo.persons.identity import protect_identity
from geo.persons.resolve import confirm, resolve_persons, split
from tests._persons_data import KEY, pipeline

ID1, ID2 = "110105199001011235", "110105199001011236"


def _mentions(rows: list[tuple]) -> pd.DataFrame:
    """Mentions from (mention_id, name, id_number, phone, person_ref, hospital_id) tuples."""
    f = pd.DataFrame(rows, columns=["mention_id", "name", "id_number", "phone", "person_ref", "hospital_id"])
    f["source"] = "sighting"
    f["seen_at"] = pd.Timestamp("2026-05-01 08:00")
    f["person_ref"] = f["person_ref"].fillna("")
    return protect_identity(f, KEY)


def _same(res, a: str, b: str) -> bool:
    return res.person_of(a) == res.person_of(b)


def test_same_id_number_merges_and_same_name_alone_does_not():
    m = _mentions([("m1", "张伟", ID1, None, None, "bj001"), ("m2", None, ID1, None, None, "bj002"),
                   ("m3", "张伟", ID2, None, None, "bj001"), ("m4", "张伟", None, None, None, "bj001")])
    res = resolve_persons(m)
    assert _same(res, "m1", "m2")
    assert not _same(res, "m1", "m3")
    assert not _same(res, "m1", "m4") and not _same(res, "m3", "m4")
    rv = res.reviews
    assert len(rv) >= 2 and (rv["decision"] == "review").all()
    assert set(rv["evidence"]) <= {"name", "name_hospital"}
    assert len(res.persons) == 3


def test_name_and_phone_merge_with_confidence():
    m = _mentions([("m1", "张伟", ID1, "13812345678", None, "bj001"),
                   ("m2", "张伟", None, "13812345678", None, "bj001"),
                   ("m3", "李娜", None, "13812345678", None, "bj001")])
    res = resolve_persons(m)
    assert _same(res, "m1", "m2") and not _same(res, "m1", "m3")
    row = res.matches[(res.matches["evidence"] == "name_phone") & (res.matches["decision"] == "merged")]
    assert len(row) == 1 and row["confidence"].iloc[0] == pytest.approx(0.9)
    # Raising the bar turns the same evidence into a review.
    strict = resolve_persons(m, min_confidence=0.95)
    assert not _same(strict, "m1", "m2")
    assert "name_phone" in set(strict.reviews["evidence"])


def test_name_phone_group_spanning_two_id_numbers_is_not_merged():
    m = _mentions([("m1", "张伟", ID1, "13812345678", None, "bj001"),
                   ("m2", "张伟", ID2, "13812345678", None, "bj001"),
                   ("m3", "张伟", None, "13812345678", None, "bj001")])
    res = resolve_persons(m)
    assert len(set(res.assignments["person_id"])) == 3
    assert (res.reviews["detail"] == "ambiguous_name_phone").any()


def test_watchlist_reference_links_but_never_joins_different_id_numbers():
    m = _mentions([("m1", None, ID1, None, "WL-1", "bj001"), ("m2", None, None, None, "WL-1", "bj001"),
                   ("m3", None, ID2, None, "WL-1", "bj001")])
    res = resolve_persons(m)
    assert not _same(res, "m1", "m3")
    assert (res.matches["decision"] == "conflict").sum() == 1
    assert res.persons["n_conflicts"].sum() == 2


def test_split_decision_separates_an_exact_match_and_confirm_joins():
    m = _mentions([("m1", "张伟", ID1, None, None, "bj001"), ("m2", "张伟", ID1, None, None, "bj001"),
                   ("m3", "张伟", None, None, None, "bj001")])
    res = resolve_persons(m, decisions=[split("m1", "m2", decision_id="d1"), confirm("m2", "m3", decision_id="d2")])
    assert not _same(res, "m1", "m2")
    assert _same(res, "m2", "m3")
    assert "confirmed" in set(res.matches["decision"])
    assert res.matches.loc[res.matches["decision"] == "conflict", "detail"].str.contains("d1").all()


def test_contradictory_or_unknown_decisions_are_refused():
    m = _mentions([("m1", "张伟", ID1, None, None, "bj001"), ("m2", "张伟", None, None, None, "bj001")])
    with pytest.raises(ValueError, match="both confirmed and split"):
        resolve_persons(m, decisions=[split("m1", "m2", decision_id="a"), confirm("m2", "m1", decision_id="b")])
    with pytest.raises(ValueError, match="unknown mention ids"):
        resolve_persons(m, decisions=[confirm("m1", "zz", decision_id="a")])


def test_person_ids_are_stable_when_mentions_are_added():
    base = [("m1", "张伟", ID1, None, None, "bj001"), ("m2", None, ID1, None, None, "bj002")]
    r1 = resolve_persons(_mentions(base))
    r2 = resolve_persons(_mentions([("m0", None, ID1, None, None, "bj003"), *base]))
    assert r1.person_of("m1") == r2.person_of("m1")


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_people_are_neither_split_nor_merged(seed):
    p = pipeline(seed)
    truth = p.truth
    # Truth of each mention from its clear ID number or watch-list reference.
    by_id = dict(zip(truth["id_number"], truth["truth_id"], strict=True))
    by_ref = dict(zip(truth["person_ref"], truth["truth_id"], strict=True))
    m = p.mentions.assign(truth_id=[by_id.get(i) or by_ref.get(r) for i, r in
                                    zip(p.mentions["id_number"], p.mentions["person_ref"], strict=True)])
    m = m.merge(p.resolution.assignments, on="mention_id")
    known = m[m["truth_id"].notna()]
    assert (known.groupby("person_id")["truth_id"].nunique() == 1).all(), "two planted people merged"
    assert (known.groupby("truth_id")["person_id"].nunique() == 1).all(), "a planted person split"
    # The two planted namesakes stay apart.
    same_name = truth[truth["name"].duplicated(keep=False)]
    assert len(same_name) == 2 and same_name["person_id"].nunique() == 2
    # ... and a commander is shown the pair to decide on.
    a, b = sorted(same_name["person_id"])
    rv = p.resolution.reviews
    pairs = set(zip(rv["person_a"], rv["person_b"], strict=True)) | set(zip(rv["person_b"], rv["person_a"], strict=True))
    assert (a, b) in pairs


def test_commander_decisions_on_the_review_queue_are_applied():
    p = pipeline(0)
    mentions = p.mentions.drop(columns=["name", "id_number", "phone"])
    rv = p.resolution.reviews
    picked = rv[rv["evidence"] == "name_hospital"]
    assert len(picked) > 0
    decisions = [confirm(a, b, decision_id=f"c{k}") for k, (a, b) in
                 enumerate(zip(picked["mention_a"], picked["mention_b"], strict=True))]
    again = resolve_persons(mentions, decisions=decisions)
    pairs = nx.Graph(list(zip(picked["person_a"], picked["person_b"], strict=True)))
    merges = pairs.number_of_nodes() - nx.number_connected_components(pairs)
    assert len(again.persons) == len(p.resolution.persons) - merges
    for a, b in zip(picked["mention_a"], picked["mention_b"], strict=True):
        assert again.person_of(a) == again.person_of(b)
    # Splitting one confirmed pair again undoes just that merge.
    a, b = picked["mention_a"].iloc[0], picked["mention_b"].iloc[0]
    undone = resolve_persons(mentions, decisions=[*decisions[1:], split(a, b, decision_id="s1")])
    assert undone.person_of(a) != undone.person_of(b)
