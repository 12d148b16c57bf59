"""Outcomes per action and per day add up to the monthly quantified statistics table."""

from __future__ import annotations

import datetime as dt

import pytest

from planning.outcomes import LABELS, monthly_statistics, record_action_outcome, record_daily_outcome
from tests._planning_store import writable


@pytest.fixture
def engine(tmp_path_factory):
    return writable(tmp_path_factory, "outcomes")


def test_monthly_statistics_sum_actions_and_days(engine):
    record_action_outcome(engine, hospital_id="bj001", date=dt.date(2026, 11, 9), officers=20,
                          persons_checked=40, scalpers_caught=3, touts_caught=2, warned_away=15, cases_handed_over=1)
    record_daily_outcome(engine, hospital_id="bj001", date=dt.date(2026, 11, 10), visits_done=12,
                         persons_checked=6, scalpers_caught=1)
    record_daily_outcome(engine, hospital_id="bj001", date=dt.date(2026, 11, 11), visits_done=10, warned_away=4)
    record_daily_outcome(engine, hospital_id="bj002", date=dt.date(2026, 11, 11), visits_done=8, touts_caught=1)
    # A report for another month does not count, and re-reporting a day replaces it.
    record_daily_outcome(engine, hospital_id="bj001", date=dt.date(2026, 12, 1), visits_done=99)
    record_daily_outcome(engine, hospital_id="bj002", date=dt.date(2026, 11, 11), visits_done=9, touts_caught=2)
    st = monthly_statistics(engine, month="2026-11").set_index("name")
    a = st.loc["北京协和医院"]
    assert (a["actions_done"], a["action_officers"], a["patrol_days"], a["visits_done"]) == (1, 20, 2, 22)
    assert (a["persons_checked"], a["scalpers_caught"], a["warned_away"]) == (46, 4, 19)
    b = st.loc["北京同仁医院"]
    assert (b["visits_done"], b["touts_caught"], b["patrol_days"]) == (9, 2, 1)
    total = st.loc["合计"]
    assert total["visits_done"] == 31 and total["touts_caught"] == 4
    assert set(LABELS) <= set(st.columns)


def test_invalid_counts_are_refused(engine):
    with pytest.raises(ValueError, match="persons_checked"):
        record_daily_outcome(engine, hospital_id="bj001", date=dt.date(2026, 11, 1), persons_checked=-1)
    with pytest.raises(ValueError, match="Unknown"):
        record_action_outcome(engine, hospital_id="bj001", date=dt.date(2026, 11, 1), arrests=1)
    assert monthly_statistics(engine, month="2026-11").empty


def test_evaluate_actions_detects_planted_changes(engine):
    import pandas as pd

    from planning.outcomes import evaluate_actions

    # bj002 cools down from October on, bj001 heats up (see tests/_planning_store.py).
    acts = pd.DataFrame({"hospital_id": ["bj002", "bj001"],
                         "start": pd.to_datetime(["2026-09-30 07:00", "2026-09-30 07:00"])})
    res = evaluate_actions(engine, month="2026-09", actions=acts, window_days=28)
    t = res.table.set_index("hospital_id")
    assert t.loc["bj002", "wdd"] < 0 and t.loc["bj002", "wdd_z"] <= -1.96 and "显著下降" in t.loc["bj002", "verdict"]
    assert t.loc["bj001", "wdd"] > 0 and "显著上升" in t.loc["bj001", "verdict"]
    assert t.loc["bj002", "t_before"] > t.loc["bj002", "t_after"]
    assert bool(t.loc["bj002", "complete"]) and res.params["n_controls"] == 4
    # An action whose after window reaches past the data gets no verdict and no after figures yet.
    late = evaluate_actions(engine, month="2026-10", actions=acts.assign(start=pd.Timestamp("2026-10-20 07:00")))
    row = late.table.iloc[0]
    assert row["verdict"] == "待评估（观察期至 2026-11-17）" and not row["complete"]
    assert row["t_after"] is None and row["wdd"] is None and row["wdd_p"] is None


def test_only_approved_plans_are_evaluated(engine):
    """A draft (as the CLI stores it) never reaches the evaluation; its approval does."""
    from core.trust.access import scope_for_role
    from planning.lifecycle import approve_plan, save_draft
    from planning.outcomes import evaluate_actions
    from planning.plan import make_plan
    from tests._planning_store import MONTH

    plan = make_plan(engine, month=MONTH, seed=3)
    pid = save_draft(engine, plan, username="cli")
    with pytest.raises(ValueError, match="没有已批准"):
        evaluate_actions(engine, month=MONTH)
    with pytest.raises(PermissionError):
        approve_plan(engine, pid, scope=scope_for_role("liaison", username="l"))
    approve_plan(engine, pid, scope=scope_for_role("commander", username="c"))
    table = evaluate_actions(engine, month=MONTH).table
    # The data end before the plan month: every action is still waiting for its after-window.
    assert len(table) == len(plan.actions) and table["verdict"].str.startswith("待评估（观察期至").all()


def test_evaluate_without_stored_plan_is_a_chinese_error(engine):
    from planning.outcomes import evaluate_actions

    with pytest.raises(ValueError, match="没有已批准"):
        evaluate_actions(engine, month="2026-11")


@pytest.mark.slow
def test_evaluate_finds_the_demo_planted_effect(demo_db_url, tmp_path):
    """The demo plants a two-week drop after each past action: the evaluation sees the drop."""
    import pandas as pd

    from planning.outcomes import evaluate_actions
    from tests._planning_store import copy_store

    engine = copy_store(demo_db_url, f"sqlite:///{tmp_path / 'demo.sqlite'}")
    tables = [evaluate_actions(engine, month=m, window_days=14) for m in ("2026-07", "2026-08", "2026-09")]
    assert all(t.params["source"].startswith("演示数据") for t in tables)
    table = pd.concat([t.table for t in tables])
    assert len(table) >= 3 and table["complete"].all()
    assert table["wdd"].mean() < 0 and (table["t_after"] < table["t_before"]).mean() > 0.6
