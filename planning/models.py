"""Tables of the planning concern, on the shared :class:`geo.store.Base`.

``geo.store.init_db`` must not import ``planning``, so every planning entry point calls
:func:`ensure_tables` first (cheap: ``create_all`` skips existing tables).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from geo.store import Base


class KeylistEntry(Base):
    """One hospital's row of the key-hospital list of one month (proposal and final decision)."""

    __tablename__ = "plan_keylist"
    __table_args__ = (Index("ix_plan_keylist_month", "month", "hospital_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))  # "YYYY-MM"
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    proposal: Mapped[str] = mapped_column(String(8), default="")  # 列入 | 销号 | 保持 | ""
    proposed_listed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Final decision: the proposal unless a commander overrode it.
    listed: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[str] = mapped_column(Text, default="")
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    override_note: Mapped[str] = mapped_column(Text, default="")
    override_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class PlanRecord(Base):
    """A generated monthly plan; the full plan is kept as its documented JSON (docs/plan_json.md)."""

    __tablename__ = "plan_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))
    seed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    username: Mapped[str] = mapped_column(String(64), default="")
    parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the plan this one re-plans
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)  # plan.json


class PlanAction(Base):
    """One concentrated action of a stored plan (outcomes refer to it)."""

    __tablename__ = "plan_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan_plans.id"))
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    start: Mapped[dt.datetime] = mapped_column(DateTime)  # naive local time
    end: Mapped[dt.datetime] = mapped_column(DateTime)
    officers: Mapped[int] = mapped_column(Integer, default=0)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)


class PlanEdit(Base):
    """A commander's edit of a plan: lock, move, forces change, officer absence."""

    __tablename__ = "plan_edits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan_plans.id"))
    kind: Mapped[str] = mapped_column(String(16))  # lock | move | forces | absent
    payload: Mapped[str] = mapped_column(Text)  # JSON
    note: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class ActionOutcome(Base):
    """Results reported for one concentrated action."""

    __tablename__ = "plan_action_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    date: Mapped[dt.date] = mapped_column(Date)
    officers: Mapped[int] = mapped_column(Integer, default=0)
    persons_checked: Mapped[int] = mapped_column(Integer, default=0)
    scalpers_caught: Mapped[int] = mapped_column(Integer, default=0)
    touts_caught: Mapped[int] = mapped_column(Integer, default=0)
    warned_away: Mapped[int] = mapped_column(Integer, default=0)
    cases_handed_over: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class DailyOutcome(Base):
    """Results of one day of patrols at one hospital."""

    __tablename__ = "plan_daily_outcomes"
    __table_args__ = (Index("ix_plan_daily_outcome", "date", "hospital_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    date: Mapped[dt.date] = mapped_column(Date)
    visits_done: Mapped[int] = mapped_column(Integer, default=0)
    persons_checked: Mapped[int] = mapped_column(Integer, default=0)
    scalpers_caught: Mapped[int] = mapped_column(Integer, default=0)
    touts_caught: Mapped[int] = mapped_column(Integer, default=0)
    warned_away: Mapped[int] = mapped_column(Integer, default=0)
    cases_handed_over: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime)


def ensure_tables(engine: Engine) -> None:
    """Create the planning tables on ``engine`` if they do not exist yet."""
    Base.metadata.create_all(
        engine,
        tables=[m.__table__ for m in (KeylistEntry, PlanRecord, PlanAction, PlanEdit, ActionOutcome, DailyOutcome)],
    )
