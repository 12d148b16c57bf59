"""Scoping in one place: every public reader of the foundation, called with each role, returns only that role's
share of the data (checked against the unscoped truth), on SQLite and on PostgreSQL."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from core.db import load_hospitals, load_incidents, load_officers
from core.db.aggregates import incident_counts, incident_facts
from core.trust.access import SYSTEM, scope_for_role
from core.trust.audit import list_entries
from core.trust.auth import list_users

PHONE = re.compile(r"1[3-9]\d{9}")
ID_NO = re.compile(r"\d{17}[\dXx]")


def _busiest_hospital(engine) -> str:
    inc = load_incidents(engine, columns=["hospital_id"])
    return str(inc["hospital_id"].dropna().value_counts().index[0])


@pytest.fixture
def scopes(demo_engine):
    hid = _busiest_hospital(demo_engine)
    return {
        "commander": scope_for_role("commander", username="c"),
        "officer": scope_for_role("officer", username="o", hospital_id=hid),
        "liaison": scope_for_role("liaison", username="l"),
        "admin": scope_for_role("admin", username="a"),
    }, hid


def _no_clear_personal_data(df: pd.DataFrame) -> None:
    for col in ("description", "address", "caller_name", "caller_phone", "phone"):
        if col in df:
            text = " ".join(df[col].fillna("").astype(str))
            assert not PHONE.search(text), f"clear phone number in {col}"
            assert not ID_NO.search(text), f"clear ID number in {col}"


def test_incident_rows_follow_the_scope(demo_engine, scopes):
    (by_role, hid) = scopes
    everything = load_incidents(demo_engine)
    assert everything["hospital_id"].nunique() > 1  # otherwise the test proves nothing
    commander = load_incidents(demo_engine, scope=by_role["commander"])
    assert len(commander) == len(everything)
    _no_clear_personal_data(commander)
    officer = load_incidents(demo_engine, scope=by_role["officer"])
    assert len(officer) == int((everything["hospital_id"] == hid).sum()) > 0
    assert set(officer["hospital_id"]) == {hid}
    _no_clear_personal_data(officer)
    # An officer asking for another hospital gets nothing of it, not an error that leaks its existence.
    other = everything.loc[everything["hospital_id"] != hid, "hospital_id"].dropna().iloc[0]
    assert load_incidents(demo_engine, scope=by_role["officer"], hospital_ids=[other]).empty
    for role in ("liaison", "admin"):
        with pytest.raises(PermissionError, match="汇总统计"):
            load_incidents(demo_engine, scope=by_role[role])


def test_statistics_follow_the_scope(demo_engine, scopes):
    (by_role, hid) = scopes
    truth = incident_counts(demo_engine, scope=SYSTEM)
    for role in ("commander", "liaison", "admin"):
        got = incident_counts(demo_engine, scope=by_role[role])
        assert got["count"].sum() == truth["count"].sum()
    officer = incident_counts(demo_engine, scope=by_role["officer"])
    assert set(officer["hospital_id"]) == {hid}
    assert officer["count"].sum() == truth.loc[truth["hospital_id"] == hid, "count"].sum()
    facts = incident_facts(demo_engine, scope=by_role["liaison"])
    assert set(facts.columns) <= {"source", "channel", "received_at", "category", "hospital_id"}
    assert set(incident_facts(demo_engine, scope=by_role["officer"])["hospital_id"]) == {hid}


def test_reference_readers_follow_the_scope(demo_engine, scopes):
    (by_role, hid) = scopes
    assert len(load_hospitals(demo_engine, scope=by_role["commander"])) == len(load_hospitals(demo_engine))
    assert list(load_hospitals(demo_engine, scope=by_role["officer"])["hospital_id"]) == [hid]
    officers = load_officers(demo_engine, scope=by_role["officer"])
    assert set(officers["hospital_id"]) <= {hid}
    _no_clear_personal_data(load_officers(demo_engine, scope=by_role["commander"]))


@pytest.mark.parametrize("role", ["commander", "officer", "liaison"])
def test_administration_readers_refuse_other_roles(demo_engine, scopes, role):
    (by_role, _hid) = scopes
    with pytest.raises(PermissionError):
        list_users(demo_engine, scope=by_role[role])
    with pytest.raises(PermissionError):
        list_entries(demo_engine, scope=by_role[role])
    assert len(list_users(demo_engine, scope=by_role["admin"])) >= 0
