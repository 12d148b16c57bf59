"""The store's one schema definition: every table of the project on one declarative :class:`Base`.

Alembic migrations (``core/db/migrations``) are generated from and checked against this module;
nothing else creates or alters tables. Times are stored as naive local time in
``settings.TIMEZONE`` (China has no daylight saving, so the mapping is one-to-one).
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    """Declarative base shared by all tables of the project."""


class Hospital(Base):
    """A monitored hospital (the candidates of the key-hospital list)."""

    __tablename__ = "hospitals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    grade: Mapped[str] = mapped_column(String(20), default="")
    district: Mapped[str] = mapped_column(String(40), default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    stationed_officers: Mapped[int] = mapped_column(Integer, default=0)
    #: Registration window opening and closing, "HH:MM" local time.
    reg_open: Mapped[str] = mapped_column(String(5), default="07:00")
    reg_close: Mapped[str] = mapped_column(String(5), default="17:00")
    source_note: Mapped[str] = mapped_column(String(200), default="")


class ImportBatch(Base):
    """One import of one file; counts always satisfy accepted + rejected + duplicates = total."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(16))
    crs: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    quarantine_path: Mapped[str] = mapped_column(String(400), default="")
    username: Mapped[str] = mapped_column(String(64), default="")


class Incident(Base):
    """One 110 call or one complaint."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_incident_source_id"),
        # One time index serves every page's period filter. A (hospital, time) index halved the
        # bulk-import speed (benchmarks/bench_import.py) for little gain at these volumes.
        Index("ix_incident_time", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))  # "110" or "complaint"
    source_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32), default="")  # 110, 12345, 12320, 医院投诉办 ...
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive, Asia/Shanghai
    lon: Mapped[float] = mapped_column(Float)  # WGS-84
    lat: Mapped[float] = mapped_column(Float)
    orig_crs: Mapped[str] = mapped_column(String(8), default="wgs84")
    approximate: Mapped[bool] = mapped_column(Boolean, default=False)  # placed at the named hospital
    address: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(32))
    source_category: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    caller_name: Mapped[str] = mapped_column(String(64), default="")  # sensitive
    caller_phone: Mapped[str] = mapped_column(String(32), default="")  # sensitive
    hospital_id: Mapped[str | None] = mapped_column(ForeignKey("hospitals.id"), nullable=True)
    hospital_distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"), nullable=True)


class PoliceUnit(Base):
    """A unit that can supply officers: stationed team, local police station, city reserve."""

    __tablename__ = "police_units"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # "stationed" | "station" (派出所) | "reserve" (治安)
    district: Mapped[str] = mapped_column(String(40), default="")
    hospital_id: Mapped[str | None] = mapped_column(ForeignKey("hospitals.id"), nullable=True)
    #: Officers the unit can release for a concentrated action on a normal day.
    available_per_day: Mapped[int] = mapped_column(Integer, default=0)


class Officer(Base):
    """A police officer; stationed officers (驻院民警) belong to one hospital."""

    __tablename__ = "officers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str] = mapped_column(ForeignKey("police_units.id"))
    hospital_id: Mapped[str | None] = mapped_column(ForeignKey("hospitals.id"), nullable=True)
    phone: Mapped[str] = mapped_column(String(32), default="")  # sensitive
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # reference data (issue 10.8): the roster's fixed shift and rest days (migration 0005).
    #: A shift name of ``settings.PATROL_SHIFTS`` the officer always works; "" rotates early and late shifts.
    shift: Mapped[str] = mapped_column(String(16), default="")
    #: Fixed weekly rest days as ISO weekdays ("6,7" = Saturday and Sunday); "" = a rotating 7-day cycle.
    rest_days: Mapped[str] = mapped_column(String(20), default="")


class Meta(Base):
    """Key/value facts about the store (e.g. ``demo = 1`` when it holds the synthetic demo)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


# --- reference data (issue 10.8)


class HospitalEntrance(Base):
    """A named entrance of a hospital (东门, 急诊入口 ...): a fixed patrol point of the hospital."""

    __tablename__ = "hospital_entrances"
    __table_args__ = (UniqueConstraint("hospital_id", "name", name="uq_hospital_entrance_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    name: Mapped[str] = mapped_column(String(40))
    lon: Mapped[float] = mapped_column(Float)  # WGS-84
    lat: Mapped[float] = mapped_column(Float)


# --------------------------------------------------------------------------- users


class User(Base):
    """A dashboard user with a hashed password and one role."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    hospital_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    officer_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    #: Demo accounts (random passwords) offered as one-click sign-in on the demo store only.
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class LoginFailure(Base):
    """One failed sign-in attempt (for throttling; pruned after a successful sign-in)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive, Asia/Shanghai


# --------------------------------------------------------------------------- audit trail


class AuditTamperError(RuntimeError):
    """Raised on any attempt to change or delete an audit entry."""


class AuditEntry(Base):
    """One audited action: who, when, what, and the SHA-256 of an exported file."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive, Asia/Shanghai
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(32))  # see ACTIONS
    detail: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")


# SQLite: refuse UPDATE/DELETE at the database level too (raw SQL, other programs).
# SQLite triggers and PostgreSQL privileges that make the table append-only at the database level are created by
# the migrations (core/db/migrations).


@event.listens_for(Session, "before_flush")
def _guard_audit_entries(session: Session, _flush_context, _instances) -> None:
    """Refuse ORM updates and deletes of audit entries."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTamperError("审计记录只能追加，不能修改或删除。")


@event.listens_for(AuditEntry, "before_update")
def _no_update(_mapper, _conn, _target) -> None:
    raise AuditTamperError("审计记录只能追加，不能修改或删除。")


@event.listens_for(AuditEntry, "before_delete")
def _no_delete(_mapper, _conn, _target) -> None:
    raise AuditTamperError("审计记录只能追加，不能修改或删除。")


# --- trust (issue 11) -------------------------------------------------------------------
# The audit trail is a hash chain: each entry stores the hash of the entry before it (``prev_hash``, the genesis
# value for the first) and its own hash over its canonical fields and ``prev_hash`` (``entry_hash``), see
# core.trust.audit. A unique ``prev_hash`` makes a fork (two entries after one) impossible.
AuditEntry.prev_hash = mapped_column(String(64), default="", nullable=False)
AuditEntry.entry_hash = mapped_column(String(64), default="", nullable=False)
Index("ux_audit_log_prev_hash", AuditEntry.__table__.c.prev_hash, unique=True)


class AuthSession(Base):
    """A signed-in browser session (core.trust.sessions); the cookie carries the token, the store only its hash."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_username", "username"),)

    #: SHA-256 (hex) of the random session token; the token itself is never stored.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    #: ``user`` (a signed-in user) or ``display`` (read-only meeting display, 会商大屏).
    kind: Mapped[str] = mapped_column(String(16), default="user")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime)
    #: Absolute end of the session (idle expiry is ``last_seen`` + ``settings.SESSION_TIMEOUT_MIN``).
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    end_reason: Mapped[str] = mapped_column(String(64), default="")
    #: Personal fields shown in this session (unmasked by a commander with a reason, audited).
    personal: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginThrottle(Base):
    """Failed sign-ins counted per user name (``user:NAME``) and per source (``source:ADDRESS``).

    Updated under a row lock in one transaction (core.trust.auth), so parallel attempts are all counted.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    #: No attempt for this key is checked before this time (the growing delay).
    next_allowed: Mapped[dt.datetime] = mapped_column(DateTime)


# --------------------------------------------------------------------------- planning


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


# --- campaign loop (issue 13)


class PlanStatus(Base):
    """Where a stored plan is in its life: draft → approved (in effect during its month) → closed.

    ``superseded`` marks a draft replaced by its edited successor or an approved plan replaced by
    a later approval of the same month. "In effect" is not stored: an approved plan is in effect
    while its month runs (:func:`planning.lifecycle.plan_state`).
    """

    __tablename__ = "plan_status"

    plan_id: Mapped[int] = mapped_column(ForeignKey("plan_plans.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft | approved | closed | superseded
    approved_by: Mapped[str] = mapped_column(String(64), default="")
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    #: SHA-256 of the stored plan.json at approval, and of the files issued with it (JSON name -> hash).
    sha256: Mapped[str] = mapped_column(String(64), default="")
    files_sha256: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class VisitCheckin(Base):
    """A stationed officer's check-in of one planned patrol visit (done, or missed with a reason).

    The planned visit is copied in (hospital, point, officer, planned times), so the record stands
    on its own even where no stored plan exists (the demo's past months).
    """

    __tablename__ = "plan_checkins"
    __table_args__ = (
        Index("ix_plan_checkin_visit", "officer_id", "point_id", "planned_start", unique=True),
        Index("ix_plan_checkin_time", "planned_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_id: Mapped[str] = mapped_column(String(16), default="")
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    point_id: Mapped[str] = mapped_column(String(48))
    point_name: Mapped[str] = mapped_column(String(100), default="")
    officer_id: Mapped[str] = mapped_column(String(32))
    planned_start: Mapped[dt.datetime] = mapped_column(DateTime)  # naive local time
    planned_end: Mapped[dt.datetime] = mapped_column(DateTime)
    peak: Mapped[bool] = mapped_column(Boolean, default=False)  # inside a guaranteed peak window
    status: Mapped[str] = mapped_column(String(8))  # done | missed
    reason: Mapped[str] = mapped_column(String(32), default="")
    actual_start: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    findings: Mapped[str] = mapped_column(Text, default="")
    persons_checked: Mapped[int] = mapped_column(Integer, default=0)
    scalpers_caught: Mapped[int] = mapped_column(Integer, default=0)
    touts_caught: Mapped[int] = mapped_column(Integer, default=0)
    warned_away: Mapped[int] = mapped_column(Integer, default=0)
    cases_handed_over: Mapped[int] = mapped_column(Integer, default=0)
    username: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class ActionResult(Base):
    """A commander's record of one concentrated action's results, with the units that took part."""

    __tablename__ = "plan_action_results"
    __table_args__ = (Index("ix_plan_action_result", "hospital_id", "date", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    date: Mapped[dt.date] = mapped_column(Date)
    officers: Mapped[int] = mapped_column(Integer, default=0)
    #: JSON list of {"unit_id", "name", "officers"}.
    units: Mapped[str] = mapped_column(Text, default="[]")
    persons_checked: Mapped[int] = mapped_column(Integer, default=0)
    scalpers_caught: Mapped[int] = mapped_column(Integer, default=0)
    touts_caught: Mapped[int] = mapped_column(Integer, default=0)
    warned_away: Mapped[int] = mapped_column(Integer, default=0)
    cases_handed_over: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


# --- persons (issue 14)
# Target persons (重点人员, geo.persons): identity fields are keyed hashes (HMAC-SHA256, key file
# ``settings.PERSONS_HASH_KEY_FILE``) plus masked display forms; the clear values are stored only when
# ``settings.PERSONS_KEEP_CLEAR`` is on, else never. Reads go through core.db.persons (scoped).


class SightingBatch(Base):
    """One import of a sightings file (watch-list hits); accepted + rejected + duplicates = total."""

    __tablename__ = "person_sighting_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    #: JSON list of {"row", "reason"} of the rejected rows (reasons in Chinese; no row contents).
    rejections: Mapped[str] = mapped_column(Text, default="[]")
    username: Mapped[str] = mapped_column(String(64), default="")


class PersonMention(Base):
    """One appearance of one person in one record (incident or sighting), see geo.persons.extract."""

    __tablename__ = "person_mentions"
    __table_args__ = (
        Index("ix_person_mentions_person", "person_id"),
        Index("ix_person_mentions_hospital", "hospital_id", "seen_at"),
    )

    mention_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    person_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    source: Mapped[str] = mapped_column(String(16))  # incident | sighting
    record_id: Mapped[str] = mapped_column(String(100), default="")
    origin: Mapped[str] = mapped_column(String(40), default="")
    role: Mapped[str] = mapped_column(String(16), default="")
    seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # naive local time
    hospital_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    camera_id: Mapped[str] = mapped_column(String(64), default="")
    person_ref: Mapped[str] = mapped_column(String(64), default="")
    sanction: Mapped[str] = mapped_column(String(16), default="")
    name_hash: Mapped[str] = mapped_column(String(64), default="")
    name_masked: Mapped[str] = mapped_column(String(64), default="")
    id_hash: Mapped[str] = mapped_column(String(64), default="")
    id_masked: Mapped[str] = mapped_column(String(24), default="")
    id_status: Mapped[str] = mapped_column(String(12), default="")
    phone_hash: Mapped[str] = mapped_column(String(64), default="")
    phone_masked: Mapped[str] = mapped_column(String(24), default="")
    #: Clear values: only with ``settings.PERSONS_KEEP_CLEAR``, else always empty (sensitive).
    name_clear: Mapped[str] = mapped_column(String(64), default="")
    id_clear: Mapped[str] = mapped_column(String(24), default="")
    phone_clear: Mapped[str] = mapped_column(String(24), default="")
    batch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)


class Person(Base):
    """One resolved person with the summary of their activity (rebuilt by each resolution run)."""

    __tablename__ = "persons"

    person_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_masked: Mapped[str] = mapped_column(String(64), default="")
    id_masked: Mapped[str] = mapped_column(String(24), default="")
    id_status: Mapped[str] = mapped_column(String(12), default="")
    phone_masked: Mapped[str] = mapped_column(String(24), default="")
    id_hash: Mapped[str] = mapped_column(String(64), default="")
    n_mentions: Mapped[int] = mapped_column(Integer, default=0)
    n_incidents: Mapped[int] = mapped_column(Integer, default=0)
    n_sightings: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_seen: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    main_hospital: Mapped[str] = mapped_column(String(32), default="")
    hospitals: Mapped[str] = mapped_column(Text, default="")  # "bj001:62%;bj004:30%"
    peak_window: Mapped[str] = mapped_column(String(40), default="")
    peak_center_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    trend: Mapped[str] = mapped_column(String(8), default="")
    highest_sanction: Mapped[str] = mapped_column(String(16), default="")
    group_id: Mapped[str] = mapped_column(String(16), default="")
    min_confidence: Mapped[float] = mapped_column(Float, default=1.0)
    n_review: Mapped[int] = mapped_column(Integer, default=0)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class PersonDecision(Base):
    """A commander's resolution decision: two mentions are (confirm) or are not (split) the same person."""

    __tablename__ = "person_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # confirm | split
    mention_a: Mapped[str] = mapped_column(String(120))
    mention_b: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class PersonHandover(Base):
    """A watch list / blacklist sent to a hospital or the health commission: what, to whom, when, file hash."""

    __tablename__ = "person_handovers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    template: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(64))  # user name of the receiving liaison / organisation
    hospital_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    n_persons: Mapped[int] = mapped_column(Integer, default=0)
    fields: Mapped[str] = mapped_column(Text, default="")  # the template's fields, "+"-joined
    filename: Mapped[str] = mapped_column(String(200), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    #: The file as sent (CSV, only the template's fields; masked unless the template allows more).
    body: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime)


def table_of(model: type[Base]) -> Table:
    """The Core :class:`~sqlalchemy.Table` of a mapped class (typed, for insert/update/select statements)."""
    return cast(Table, model.__table__)
