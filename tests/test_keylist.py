"""Key-hospital list: scores follow the planted patterns, proposals carry Chinese reasons, overrides are audited."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from planning.keylist import (
    final_keylist,
    keylist_history,
    override_keylist,
    propose_keylist,
    save_keylist,
    score_hospitals,
)
from tests._planning_store import MONTH, writable


@pytest.fixture
def engine(tmp_path_factory):
    return writable(tmp_path_factory, "keylist")


def test_rising_hotspot_hospital_ranks_first_with_reasons(engine):
    kl = propose_keylist(engine, month=MONTH, size=2)
    top = kl.iloc[0]
    assert top["hospital_id"] == "bj001" and top["rank"] == 1 and top["proposal"] == "列入" and top["listed"]
    assert "上升" in top["reasons"] and "显著热点" in top["reasons"] and "2026-10" in top["reasons"]
    cooling = kl.set_index("hospital_id").loc["bj002"]
    assert cooling["trend"] < -0.5 and "下降" in cooling["reasons"]
    assert kl["listed"].sum() == 2
    assert kl["score"].is_monotonic_decreasing and kl["score"].between(0, 100).all()


def test_severity_weights_change_the_score(engine):
    from core.db import load_hospitals, load_incidents

    ev = load_incidents(engine, start="2026-06-01", end="2026-11-01")
    hosp = load_hospitals(engine)
    base = score_hospitals(ev, hosp, month=MONTH).set_index("hospital_id")
    heavy = score_hospitals(ev, hosp, month=MONTH, severity_weights={"号贩子/倒号": 50.0}).set_index("hospital_id")
    # bj001's hotspot is made of scalpers and touts: weighting scalpers raises its severity share.
    share = base["severity"] / base["severity"].sum()
    share_heavy = heavy["severity"] / heavy["severity"].sum()
    assert share_heavy["bj001"] > share["bj001"]
    with pytest.raises(ValueError, match="weights"):
        score_hospitals(ev, hosp, month=MONTH, weights={"bogus": 1.0})


def test_delisting_uses_last_months_final_list(engine):
    prev = propose_keylist(engine, month="2026-10", size=2)
    save_keylist(engine, prev, month="2026-10")
    override_keylist(engine, month="2026-10", hospital_id="bj005", listed=True, note="上级督办")
    assert "bj005" in final_keylist(engine, month="2026-10")
    kl = propose_keylist(engine, month=MONTH, size=1).set_index("hospital_id")
    # bj005 was listed last month and is not in the top 1.5 now: de-list, with the reason.
    assert kl.loc["bj005", "proposal"] == "销号" and not kl.loc["bj005", "listed"]
    assert "销号" in kl.loc["bj005", "reasons"]
    assert kl.loc["bj001", "proposal"] in {"列入", "保持"}


def test_override_needs_note_is_audited_and_kept_in_history(engine):
    from core.db.schema import AuditEntry

    with pytest.raises(ValueError, match="note"):
        override_keylist(engine, month=MONTH, hospital_id="bj006", listed=True, note="  ")
    save_keylist(engine, propose_keylist(engine, month=MONTH, size=2), month=MONTH)
    assert "bj006" not in final_keylist(engine, month=MONTH)
    override_keylist(engine, month=MONTH, hospital_id="bj006", listed=True, note="群众来信集中反映", username="cmd1")
    assert "bj006" in final_keylist(engine, month=MONTH)
    # Re-proposing keeps the commander's decision.
    save_keylist(engine, propose_keylist(engine, month=MONTH, size=2), month=MONTH)
    assert "bj006" in final_keylist(engine, month=MONTH)
    hist = keylist_history(engine, hospital_id="bj006")
    row = hist[hist["month"] == MONTH].iloc[0]
    assert bool(row["overridden"]) and row["override_note"] == "群众来信集中反映" and row["override_by"] == "cmd1"
    with engine.connect() as conn:
        audit = pd.read_sql(select(AuditEntry).where(AuditEntry.action == "override"), conn)
    assert audit["detail"].str.contains("bj006").any() and (audit["username"] == "cmd1").any()
    with pytest.raises(ValueError, match="hospital_id"):
        override_keylist(engine, month=MONTH, hospital_id="nope", listed=True, note="x")
