"""Each role sees exactly its share, enforced in the data access functions and exports."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from core.db import load_hospitals, load_incidents, load_officers
from core.db.aggregates import export_counts_csv, incident_counts
from core.trust import access
from core.trust.access import SYSTEM, AccessScope, require, scope_for_role
from core.trust.audit import list_entries, sha256_bytes
from core.trust.auth import create_user
from core.trust.disclosure import unmask
from tests._trust_data import IDS, NAMES, PHONES, build_store, use_fast_hasher

GOOD = "Hotspots-2026!"


@pytest.fixture()
def engine(tmp_path, monkeypatch):
    use_fast_hasher(monkeypatch)
    return build_store(tmp_path / "access.sqlite")


COMMANDER = scope_for_role("commander", username="cmd")
OFFICER = scope_for_role("officer", username="off", hospital_id="H1", officer_id="O1")
LIAISON = scope_for_role("liaison", username="lia")
ADMIN = scope_for_role("admin", username="adm")


def _text_of(df: pd.DataFrame) -> str:
    return df.astype(str).to_csv()


def _assert_no_personal(blob: str) -> None:
    digits = blob.replace("-", "")
    for value in PHONES + IDS:
        assert value.replace("-", "") not in digits, value
    for name in NAMES:
        assert name not in blob, name


def test_role_rules():
    assert COMMANDER.hospital_ids is None and not COMMANDER.personal and COMMANDER.can_unmask
    assert OFFICER.hospital_ids == frozenset({"H1"}) and not OFFICER.can_unmask
    assert LIAISON.aggregates_only and not LIAISON.personal and not LIAISON.can_unmask
    assert ADMIN.aggregates_only and not ADMIN.personal
    with pytest.raises(ValueError, match="hospital_id"):
        scope_for_role("officer", username="x")
    with pytest.raises(ValueError, match="personal"):
        AccessScope(role="liaison", aggregates_only=True, personal=True)


def test_commander_sees_every_incident_masked(engine):
    full = load_incidents(engine)
    df = load_incidents(engine, scope=COMMANDER)
    assert len(df) == len(full) == 10
    _assert_no_personal(_text_of(df))
    # Masked, not dropped: the surname and the shape of the phone stay for a meeting.
    assert df["caller_name"].str.match(r"^[\u4e00-\u9fa5]{1,2}\*+$").all()
    assert df["caller_phone"].str.contains(r"\*{4,}").all()


def test_commander_unmasking_is_logged_and_shows_personal_fields(engine):
    scope = unmask(COMMANDER, reason="回访报警人", engine=engine)
    df = load_incidents(engine, scope=scope)
    assert set(PHONES) <= set(df["caller_phone"])
    log = list_entries(engine, action="unmask")
    assert len(log) == 1 and log.iloc[0]["username"] == "cmd" and "回访报警人" in log.iloc[0]["detail"]
    assert not access.mask(scope).personal


@pytest.mark.parametrize("scope", [OFFICER, LIAISON, ADMIN])
def test_other_roles_cannot_unmask(engine, scope):
    with pytest.raises(PermissionError, match="权限不足"):
        unmask(scope, reason="想看", engine=engine)
    assert list_entries(engine, action="unmask").empty


def test_unmask_needs_a_reason(engine):
    with pytest.raises(ValueError, match="reason"):
        unmask(COMMANDER, reason="  ", engine=engine)


def test_officer_sees_only_own_hospital(engine):
    df = load_incidents(engine, scope=OFFICER)
    full = load_incidents(engine)
    assert len(df) == (full["hospital_id"] == "H1").sum() > 0
    assert set(df["hospital_id"]) == {"H1"}
    # Asking for another hospital gives nothing, not a leak.
    assert load_incidents(engine, scope=OFFICER, hospital_ids=["H2"]).empty
    _assert_no_personal(_text_of(df))
    assert load_hospitals(engine, scope=OFFICER)["hospital_id"].tolist() == ["H1"]
    officers = load_officers(engine, scope=OFFICER)
    assert officers["officer_id"].tolist() == ["O1"] and (officers["phone"] == "").all()


@pytest.mark.parametrize("scope", [LIAISON, ADMIN])
def test_aggregate_roles_get_no_incident_rows(engine, scope):
    with pytest.raises(PermissionError, match="汇总统计"):
        load_incidents(engine, scope=scope)
    officers = load_officers(engine, scope=scope)
    _assert_no_personal(_text_of(officers))
    assert not officers["name"].isin(["赵刚", "钱敏", "孙立"]).any()


def test_aggregates_count_every_attributed_incident_per_scope(engine):
    full = load_incidents(engine)
    attributed = full.dropna(subset=["hospital_id"])
    counts = incident_counts(engine, scope=LIAISON)
    assert counts["count"].sum() == len(attributed)
    assert list(counts.columns) == ["hospital_id", "hospital_name", "month", "category", "count"]
    expected = attributed.groupby("hospital_id").size()
    got = counts.groupby("hospital_id")["count"].sum()
    pd.testing.assert_series_equal(got, expected, check_names=False)
    own = incident_counts(engine, scope=OFFICER)
    assert set(own["hospital_id"]) == {"H1"} and own["count"].sum() == expected["H1"]
    with pytest.raises(ValueError, match="by"):
        incident_counts(engine, by=("caller_phone",))


def test_liaison_export_has_no_personal_data_and_is_audited(engine):
    data = export_counts_csv(engine, scope=LIAISON)
    _assert_no_personal(data.decode("utf-8-sig"))
    df = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert {"医院", "月份", "类别", "警情数"} <= set(df.columns)
    log = list_entries(engine, action="export")
    assert len(log) == 1 and log.iloc[0]["username"] == "lia"
    assert log.iloc[0]["sha256"] == sha256_bytes(data)


def test_require_checks_each_condition():
    require(None, rows=True, personal=True)  # internal use
    require(SYSTEM, rows=True, personal=True, hospital_id="H9")
    with pytest.raises(PermissionError, match="医院 H2"):
        require(OFFICER, hospital_id="H2")
    with pytest.raises(PermissionError, match="个人信息"):
        require(COMMANDER, personal=True)
    with pytest.raises(PermissionError, match="管理员"):
        require(COMMANDER, roles=("admin",))


def test_pages_follow_roles():
    from dashboard.session import ALIASES, PAGES, allowed_pages

    def canonical(scope):
        return allowed_pages(scope) & PAGES

    assert canonical(COMMANDER) == PAGES - {"admin", "import", "today"}
    assert canonical(OFFICER) == {"overview", "map", "hotspots", "plan", "today", "persons"}
    assert canonical(LIAISON) == {"overview", "keylist", "evaluation", "persons"}
    assert canonical(ADMIN) == {"overview", "import", "admin"}
    # The dashboard's file stems for the same pages come along, and nothing else.
    for scope in (COMMANDER, OFFICER, LIAISON, ADMIN):
        keys = canonical(scope)
        assert allowed_pages(scope) - keys == {ALIASES[k] for k in keys if k in ALIASES}


# --------------------------------------------------------------------------- through the CLI


def _cli(monkeypatch, argv, stdin=""):
    from planning.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def test_cli_export_shows_each_user_their_share(engine, monkeypatch, tmp_path, capsys):
    create_user(engine, "lia", GOOD, role="liaison")
    create_user(engine, "off", GOOD, role="officer", hospital_id="H2")
    db = engine.url.render_as_string(hide_password=False)
    out_l, out_o, out_s = tmp_path / "l.csv", tmp_path / "o.csv", tmp_path / "s.csv"
    assert _cli(monkeypatch, ["stats", "export", "--out", str(out_l), "--user", "lia", "--password-stdin",
                              "--db", db], GOOD + "\n") == 0
    assert _cli(monkeypatch, ["stats", "export", "--out", str(out_o), "--user", "off", "--password-stdin",
                              "--db", db], GOOD + "\n") == 0
    assert _cli(monkeypatch, ["stats", "export", "--out", str(out_s), "--db", db]) == 0
    liaison = pd.read_csv(out_l, encoding="utf-8-sig")
    officer = pd.read_csv(out_o, encoding="utf-8-sig")
    system = pd.read_csv(out_s, encoding="utf-8-sig")
    assert set(officer["医院编号"]) == {"H2"}
    assert liaison["警情数"].sum() == system["警情数"].sum() == 9
    _assert_no_personal(out_l.read_text(encoding="utf-8-sig"))
    # Wrong password: refused with one line, nothing written.
    bad = tmp_path / "bad.csv"
    assert _cli(monkeypatch, ["stats", "export", "--out", str(bad), "--user", "lia", "--password-stdin",
                              "--db", db], "nope\n") == 2
    assert not bad.exists()
    # A liaison may not export the audit trail.
    assert _cli(monkeypatch, ["audit", "export", "--out", str(bad), "--user", "lia", "--password-stdin",
                              "--db", db], GOOD + "\n") == 2
    assert "权限不足" in capsys.readouterr().err
    assert len(list_entries(engine, action="export")) == 3


# --------------------------------------------------------------------------- on the demo data


@pytest.fixture()
def demo_copy(demo_copy_url):
    """A private copy of the shared demo store (exports write to the audit trail)."""
    from core.db import get_engine

    return get_engine(demo_copy_url)


def test_demo_liaison_export_and_commander_view_hold_no_phone_or_id(demo_copy):
    full = load_incidents(demo_copy).set_index("incident_id")
    shown = load_incidents(demo_copy, scope=COMMANDER).set_index("incident_id").loc[full.index]
    text_cols = ["description", "address", "caller_name", "caller_phone"]
    masked = shown[text_cols].astype(str).agg(" ".join, axis=1).str.replace(r"[-\s]", "", regex=True)
    phones = full["caller_phone"].astype(str).str.replace(r"\D", "", regex=True)
    names = full["caller_name"].astype(str)
    assert (phones.str.len() >= 7).sum() > 50, "the demo data should contain callers' phones"
    # Row by row: the caller's own phone and name are gone from the masked row (descriptions included).
    leaks = [i for i, p, n, m in zip(full.index, phones, names, masked, strict=True)
             if (len(p) >= 7 and p in m) or (len(n) >= 2 and n in m)]
    assert leaks == []
    # And no mobile or ID number of anyone is left anywhere in the masked text.
    assert not masked.str.contains(r"(?<!\d)1[3-9]\d{9}(?!\d)|(?<!\d)\d{17}[\dXx]", regex=True).any()

    data = export_counts_csv(demo_copy, scope=LIAISON)
    exported = data.decode("utf-8-sig")
    cells = {c for row in exported.splitlines() for c in row.split(",")}
    assert not re.search(r"\d{7,}", exported)  # no phone or ID number of any format
    assert cells.isdisjoint(set(names[names.str.len() >= 2]))
    assert list_entries(demo_copy, action="export").iloc[0]["sha256"] == sha256_bytes(data)


# --------------------------------------------------------------------------- plan exports


def _small_plan(engine):
    """A two-hospital plan shaped like planning.plan.Plan (making a real one takes ~30 s here)."""
    from types import SimpleNamespace

    hospitals = load_hospitals(engine)[["hospital_id", "name", "lon", "lat"]]
    hid = ["H1", "H1", "H2"]
    visits = pd.DataFrame({
        "visit_id": ["V1", "V2", "V3"], "date": ["2026-11-02"] * 3, "hospital_id": hid,
        "point_id": ["H1-a", "H1-a", "H2-a"], "officer_id": ["O1", "O1", "O2"],
        "start": pd.to_datetime(["2026-11-02 07:00"] * 3).tz_localize("Asia/Shanghai"),
        "end": pd.to_datetime(["2026-11-02 07:15"] * 3).tz_localize("Asia/Shanghai"),
    })
    points = pd.DataFrame({
        "point_id": ["H1-a", "H2-a"], "hospital_id": ["H1", "H2"], "name": ["东门", "挂号大厅"], "kind": ["hotspot"] * 2,
        "lon": [116.417, 116.418], "lat": [39.912, 39.900], "share": [0.6, 0.4], "hot": [True, False],
        "peak_windows": [["07:00-08:00"], []],
    })
    officers = load_officers(engine).query("hospital_id.notna()", engine="python")
    empty = pd.DataFrame({"hospital_id": pd.Series([], dtype=object)})
    plan = SimpleNamespace(
        month="2026-11", seed=1, demo=False, engine=engine, listed=["H1"], hospitals=hospitals, points=points,
        visits=visits, roster=visits[["hospital_id", "officer_id"]].drop_duplicates(), officers=officers,
        actions=empty, forces=empty,
    )
    plan.hospital_name = lambda h: dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True)).get(h, h)
    return plan


def test_plan_exports_follow_the_roles(engine):
    import json

    from planning.export import scoped
    from planning.export.geojson import export_geojson

    plan = _small_plan(engine)
    full = json.loads(export_geojson(plan, scope=COMMANDER))
    own = json.loads(export_geojson(plan, scope=OFFICER))
    assert {f["properties"]["hospital_id"] for f in full["features"]} == {"H1", "H2", "H3"}
    assert {f["properties"]["hospital_id"] for f in own["features"]} == {"H1"}
    with pytest.raises(PermissionError):
        export_geojson(plan, scope=LIAISON)
    sp = scoped(plan, OFFICER)
    assert set(sp.visits["officer_id"]) == {"O1"} and sp.officers["officer_id"].tolist() == ["O1"]
    # Officers are named for the roles that carry out duty (officers are not the people masking protects).
    assert "*" not in sp.officers["display_name"].iloc[0] and sp.officers["display_name"].iloc[0].startswith("赵")
    assert "13500001111" not in sp.officers.astype(str).to_csv()
    log = list_entries(engine, action="export")
    assert len(log) == 2 and set(log["username"]) == {"cmd", "off"}  # the refused export is not logged
