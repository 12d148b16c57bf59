"""Persons in the store: sightings import accounting, resolution stored, decisions audited, scoped reads,
hand-over with exactly the template's fields, and no clear ID number or phone reaching a liaison."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from core import settings
from core.db import persons as dbp
from core.trust.access import SYSTEM, scope_for_role
from core.trust.audit import list_entries
from geo.io import persons as iop
from planning.actions import add_target_peaks, best_windows
from planning.cli import main
from tests._persons_data import ID_RE, PHONE_RE, pipeline


def _sightings_csv(tmp_path, n: int = 400) -> tuple[str, pd.DataFrame]:
    data = pipeline().data
    s = data.sightings.head(n).copy()
    bad = s.head(3).copy()
    bad["抓拍时间"] = ["", "不是时间", ""]
    bad["告警编号"] = ["X1", "X2", "X3"]
    dup = s.head(2).copy()
    frame = pd.concat([s, bad, dup], ignore_index=True)
    path = tmp_path / "sightings.csv"
    frame.to_csv(path, index=False, encoding="gb18030")
    return str(path), frame


@pytest.fixture
def loaded(empty_engine, tmp_path):
    path, frame = _sightings_csv(tmp_path)
    res = iop.import_sightings(path, engine=empty_engine, username="tester")
    return empty_engine, res, frame, path


def test_sightings_import_accounts_for_every_row(loaded):
    engine, res, frame, _ = loaded
    assert res.total == len(frame)
    assert res.accepted + res.rejected + res.duplicates == res.total
    assert res.duplicates >= 2
    reasons = {r["reason"] for r in res.rejections}
    assert "抓拍时间缺失或无法识别" in reasons
    low = (pd.to_numeric(frame["相似度"]) < settings.PERSONS_MIN_SCORE).sum()
    assert res.rejected >= 3 + low - 1  # low-score false hits and unreadable times rejected
    persons = dbp.load_persons(engine, scope=scope_for_role("commander", username="c"))
    assert len(persons) > 0 and persons["main_hospital"].ne("").any()
    # A second import of the same file only finds duplicates.
    again = iop.import_sightings(loaded[3], engine=engine, username="tester")
    assert again.accepted == 0 and again.duplicates + again.rejected == again.total


def test_no_clear_identity_is_stored_by_default(loaded):
    engine = loaded[0]
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT name_clear, id_clear, phone_clear, id_masked, id_hash FROM person_mentions").fetchall()
    assert rows and all(r[0] == "" and r[1] == "" and r[2] == "" for r in rows)
    assert any("*" in r[3] for r in rows) and all(not ID_RE.search(r[3]) for r in rows)


def test_decisions_need_a_commander_and_a_reason_and_are_audited(loaded):
    engine = loaded[0]
    ev = dbp.load_person_events(engine, scope=SYSTEM)
    pid = ev["person_id"].value_counts().index[0]
    mine = ev[ev["person_id"] == pid]["mention_id"].tolist()
    commander = scope_for_role("commander", username="chief")
    with pytest.raises(PermissionError):
        iop.record_decision("split", mine[0], mine[1], reason="x", scope=scope_for_role("liaison", username="l"),
                            engine=engine)
    with pytest.raises(ValueError):
        iop.record_decision("split", mine[0], mine[1], reason=" ", scope=commander, engine=engine)
    # The two mentions share an ID number: a split of them conflicts and is refused, nothing stored.
    iop.record_decision("confirm", mine[0], mine[1], reason="同一人，现场核实", scope=commander, engine=engine)
    audit = list_entries(engine, scope=SYSTEM, action="persons_decision")
    assert len(audit) == 1 and "同一人，现场核实" in audit["detail"].iloc[0]
    after = dbp.load_person_events(engine, scope=SYSTEM).set_index("mention_id")["person_id"]
    assert after[mine[0]] == after[mine[1]]


def test_scoped_reads_by_role(loaded):
    engine = loaded[0]
    allp = dbp.load_persons(engine, scope=scope_for_role("commander", username="c"))
    h = dbp.load_person_events(engine, scope=SYSTEM)["hospital_id"].value_counts().index[0]
    officer = scope_for_role("officer", username="o", hospital_id=h)
    mine = dbp.load_persons(engine, scope=officer)
    ev = dbp.load_person_events(engine, scope=officer)
    assert 0 < len(mine) <= len(allp)
    assert set(ev["hospital_id"]) == {h}
    assert set(ev["person_id"]) <= set(mine["person_id"])
    liaison = scope_for_role("liaison", username="liaison1")
    for fn in (dbp.load_persons, dbp.load_person_events):
        with pytest.raises(PermissionError):
            fn(engine, scope=liaison)
    counts = dbp.person_counts(engine, scope=liaison)
    assert counts["n_persons"].sum() >= len(allp)
    assert "name" not in allp.columns  # masked unless unmasked


def _leaks(text: str, clear_ids: set[str], clear_phones: set[str]) -> list[str]:
    return [v for v in clear_ids | clear_phones if v in text]


def test_no_clear_id_or_phone_reaches_a_liaison(loaded, capsys, tmp_path, monkeypatch):
    engine = loaded[0]
    truth = pipeline().data.truth
    clear_ids, clear_phones = set(truth["id_number"]), set(truth["phone"])
    commander = scope_for_role("commander", username="chief")
    for template in dbp.load_handover_templates():
        data, _ = dbp.handover_file(template, recipient="liaison1", scope=commander, engine=engine)
        header = data.decode("utf-8-sig").splitlines()[0].split(",")
        spec = dbp.load_handover_templates()[template]
        assert header == [f["label"] for f in spec["fields"]]  # exactly the template's fields
    liaison = scope_for_role("liaison", username="liaison1")
    other = scope_for_role("liaison", username="liaison2")
    texts = [dbp.person_counts(engine, scope=liaison).to_csv()]
    h = dbp.load_handovers(engine, scope=liaison, with_body=True)
    assert len(h) == 2 and dbp.load_handovers(engine, scope=other).empty
    with pytest.raises(PermissionError):
        dbp.handover_body(int(h["id"].iloc[0]), scope=other, engine=engine)
    for hid in h["id"]:
        texts.append(dbp.handover_body(int(hid), scope=liaison, engine=engine).decode("utf-8"))
    texts.append(dbp.target_activity(engine).to_csv())
    # CLI as a liaison.
    from core.trust.auth import create_user

    create_user(engine, "liaison1", "Liaison-Pass-2026", role="liaison", created_by="test")
    url = engine.url.render_as_string(hide_password=False)
    for argv in (["persons", "list"], ["persons", "handovers"],
                 ["persons", "handovers", "--get", str(int(h["id"].iloc[0])), "--out", str(tmp_path / "h.csv")]):
        monkeypatch.setattr("sys.stdin", io.StringIO("Liaison-Pass-2026\n"))
        code = main([*argv, "--user", "liaison1", "--password-stdin", "--db", url])
        out = capsys.readouterr()
        assert code == 0, out.err
        texts.append(out.out + out.err)
    texts.append((tmp_path / "h.csv").read_text(encoding="utf-8-sig"))
    for argv in (["persons", "refresh"], ["persons", "handover", "--template", "health_blacklist", "--to", "x"]):
        monkeypatch.setattr("sys.stdin", io.StringIO("Liaison-Pass-2026\n"))
        assert main([*argv, "--user", "liaison1", "--password-stdin", "--db", url]) == 2
        texts.append("".join(capsys.readouterr()))
    joined = "\n".join(texts)
    assert not _leaks(joined, clear_ids, clear_phones)
    found = [joined[max(m.start() - 40, 0):m.end() + 40] for r in (ID_RE, PHONE_RE) for m in r.finditer(joined)]
    assert not found, found
    assert len(list_entries(engine, scope=SYSTEM, action="persons_handover")) == 2


def test_target_peaks_move_the_action_window():
    hourly = pd.DataFrame({"hospital_id": "h1", "date": pd.Timestamp("2026-12-01").date(), "hour": range(24),
                           "risk": [1.0 if 8 <= h < 11 else 0.5 for h in range(24)]})
    base = best_windows(hourly).iloc[0]
    targets = pd.DataFrame({"hospital_id": ["h1"], "peak_centers_min": [[16 * 60 + 10, 16 * 60 + 40, 17 * 60]]})
    moved = best_windows(add_target_peaks(hourly, targets, weight=3.0)).iloc[0]
    assert 8 <= base["start_h"] < 11
    assert moved["start_h"] <= 16 < moved["start_h"] + moved["hours"]
    same = add_target_peaks(hourly, targets, weight=0.0)
    assert same["risk"].equals(hourly["risk"])
