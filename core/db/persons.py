"""Scoped reads of target persons (重点人员) — the one place every page, export and CLI call reads them.

Role rules (enforced in the queries, not by hiding pages):

指挥员 (commander)
    Every person of the jurisdiction, masked; the clear name/ID number/phone only after
    :func:`core.trust.disclosure.unmask` (``scope.personal``) and only where the store keeps them.
驻院民警 (officer)
    The targets seen at their hospital, and only their appearances there; masked, no unmasking.
卫健联络员 (liaison)
    Counts per hospital, and the hand-over files addressed to them (masked, template fields only).
管理员 (admin)
    Counts only.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pandas as pd
import yaml
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from core import settings
from core.db.engine import get_engine
from core.db.schema import Hospital, Person, PersonHandover, PersonMention, table_of
from core.trust.access import SYSTEM, AccessScope, require

#: Columns of :func:`load_persons` (masked).
PERSON_VIEW_COLUMNS = [
    "person_id", "name_masked", "id_masked", "id_status", "phone_masked", "n_mentions", "n_incidents",
    "n_sightings", "first_seen", "last_seen", "main_hospital", "hospitals", "peak_window", "peak_center_min",
    "trend", "highest_sanction", "group_id", "min_confidence", "n_review", "demo",
]
#: Columns of :func:`load_person_events`.
EVENT_COLUMNS = [
    "mention_id", "person_id", "source", "record_id", "origin", "seen_at", "hospital_id", "camera_id",
    "sanction", "name_masked", "id_masked", "phone_masked", "phone_hash", "demo",
]
#: Person fields a hand-over template may name.
HANDOVER_SOURCES = ("person_id", "name_masked", "id_masked", "main_hospital", "main_hospital_name", "peak_window",
                    "highest_sanction", "first_seen", "last_seen")


def _rows_allowed(scope: AccessScope | None) -> None:
    if scope is not None and scope != SYSTEM:
        require(scope, rows=True, roles=("commander", "officer"))


def _officer_persons(conn, scope: AccessScope):
    t = table_of(PersonMention)
    return select(t.c.person_id).where(t.c.hospital_id.in_(sorted(scope.hospital_ids or ())),
                                       t.c.person_id.is_not(None)).distinct()


def load_persons(engine: Engine | None = None, *, scope: AccessScope | None = None) -> pd.DataFrame:
    """Persons (masked) visible in ``scope``; with ``scope.personal`` also the stored clear ``name, id_number, phone``."""
    _rows_allowed(scope)
    engine = engine or get_engine()
    pt = table_of(Person)
    stmt = select(*[pt.c[c] for c in PERSON_VIEW_COLUMNS]).order_by(pt.c.n_mentions.desc(), pt.c.person_id)
    with engine.connect() as conn:
        if scope is not None and scope.hospital_ids is not None:
            stmt = stmt.where(pt.c.person_id.in_(_officer_persons(conn, scope)))
        df = pd.read_sql(stmt, conn)
    if scope is None or scope.personal:
        df = df.merge(_clear_values(engine, df["person_id"].tolist()), on="person_id", how="left")
        for c in ("name", "id_number", "phone"):
            df[c] = df[c].fillna("")
    return df


def _clear_values(engine: Engine, person_ids: list[str]) -> pd.DataFrame:
    t = table_of(PersonMention)
    stmt = select(t.c.person_id, t.c.name_clear, t.c.id_clear, t.c.phone_clear).where(
        t.c.person_id.in_(person_ids))
    with engine.connect() as conn:
        m = pd.read_sql(stmt, conn)
    out = m.groupby("person_id").agg(
        name=("name_clear", lambda s: next((v for v in s if v), "")),
        id_number=("id_clear", lambda s: next((v for v in s if v), "")),
        phone=("phone_clear", lambda s: next((v for v in s if v), ""))).reset_index()
    return out if len(out) else pd.DataFrame(columns=["person_id", "name", "id_number", "phone"])


def load_person_events(
    engine: Engine | None = None,
    *,
    scope: AccessScope | None = None,
    person_ids: list[str] | None = None,
) -> pd.DataFrame:
    """Appearances (mentions with a person) visible in ``scope``: officers only those at their hospital."""
    _rows_allowed(scope)
    engine = engine or get_engine()
    t = table_of(PersonMention)
    stmt = select(*[t.c[c] for c in EVENT_COLUMNS]).where(t.c.person_id.is_not(None), t.c.seen_at.is_not(None))
    if scope is not None and scope.hospital_ids is not None:
        stmt = stmt.where(t.c.hospital_id.in_(sorted(scope.hospital_ids)))
    if person_ids is not None:
        stmt = stmt.where(t.c.person_id.in_(list(person_ids)))
    with engine.connect() as conn:
        df = pd.read_sql(stmt.order_by(t.c.seen_at, t.c.mention_id), conn)
    df["seen_at"] = pd.to_datetime(df["seen_at"])
    return df


def person_counts(engine: Engine | None = None, *, scope: AccessScope | None = None) -> pd.DataFrame:
    """Per hospital: persons seen and appearances — the only person data of liaisons and administrators."""
    engine = engine or get_engine()
    t = table_of(PersonMention)
    stmt = (select(t.c.hospital_id, func.count(func.distinct(t.c.person_id)).label("n_persons"),
                   func.count().label("n_appearances"))
            .where(t.c.person_id.is_not(None), t.c.hospital_id.is_not(None)).group_by(t.c.hospital_id))
    if scope is not None and scope.hospital_ids is not None:
        stmt = stmt.where(t.c.hospital_id.in_(sorted(scope.hospital_ids)))
    with engine.connect() as conn:
        df = pd.read_sql(stmt.order_by(t.c.hospital_id), conn)
    return df


def hospital_targets(engine: Engine | None = None, *, scope: AccessScope | None = None) -> pd.DataFrame:
    """Known targets' activity per hospital (for planning): persons whose main hospital it is, and their peaks.

    Returns ``hospital_id, n_targets, n_appearances, peak_windows`` (masked names are not included).
    """
    engine = engine or get_engine()
    pt = table_of(Person)
    stmt = select(pt.c.person_id, pt.c.main_hospital, pt.c.peak_center_min, pt.c.n_mentions).where(
        pt.c.main_hospital != "")
    if scope is not None and scope.hospital_ids is not None:
        stmt = stmt.where(pt.c.main_hospital.in_(sorted(scope.hospital_ids)))
    with engine.connect() as conn:
        p = pd.read_sql(stmt, conn)
    if p.empty:
        return pd.DataFrame(columns=["hospital_id", "n_targets", "n_appearances", "peak_centers_min"])
    g = p.groupby("main_hospital")
    return pd.DataFrame({
        "n_targets": g.size(), "n_appearances": g["n_mentions"].sum(),
        "peak_centers_min": g["peak_center_min"].agg(lambda s: [float(v) for v in s.dropna()]),
    }).rename_axis("hospital_id").reset_index()


def target_activity(engine: Engine | None = None, *, start=None, end=None) -> pd.DataFrame:
    """Known targets' appearances per hospital in ``[start, end)`` (naive local times): counts only (planning)."""
    engine = engine or get_engine()
    t = table_of(PersonMention)
    stmt = (select(t.c.hospital_id, func.count(func.distinct(t.c.person_id)).label("n_targets"),
                   func.count().label("n_appearances"))
            .where(t.c.person_id.is_not(None), t.c.hospital_id.is_not(None)).group_by(t.c.hospital_id))
    if start is not None:
        stmt = stmt.where(t.c.seen_at >= pd.Timestamp(start).tz_localize(None).to_pydatetime())
    if end is not None:
        stmt = stmt.where(t.c.seen_at < pd.Timestamp(end).tz_localize(None).to_pydatetime())
    with engine.connect() as conn:
        return pd.read_sql(stmt, conn)


# --------------------------------------------------------------------------- hand-over


def load_handover_templates(path: str | Path | None = None) -> dict[str, dict]:
    """The agreed hand-over templates (``data/handover_template.yaml``), checked against :data:`HANDOVER_SOURCES`."""
    p = Path(path) if path else Path(settings.DATA_DIR) / settings.PERSONS_HANDOVER_TEMPLATE
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    out = {}
    for name, spec in (data.get("templates") or {}).items():
        fields = [dict(f) for f in spec.get("fields") or []]
        bad = [f.get("field") for f in fields if f.get("field") not in HANDOVER_SOURCES]
        if bad:
            raise ValueError(f"移交模板 {name} 含不允许的字段 {bad}；允许：{list(HANDOVER_SOURCES)}")
        out[str(name)] = {"title": str(spec.get("title", name)), "recipients": str(spec.get("recipients", "")),
                          "fields": fields}
    return out


def handover_file(
    template: str,
    *,
    recipient: str,
    scope: AccessScope | None,
    engine: Engine | None = None,
    hospital_id: str | None = None,
    person_ids: list[str] | None = None,
) -> tuple[bytes, int]:
    """Build, record and audit a hand-over file: exactly the template's fields, masked (commanders only).

    Returns the CSV bytes (UTF-8 with BOM) and the id of the :class:`PersonHandover` record.
    """
    from core.trust.audit import record

    if scope is not None and scope != SYSTEM:
        require(scope, roles=("commander",))
    if not recipient or not recipient.strip():
        raise ValueError("须填写接收方。")
    engine = engine or get_engine()
    templates = load_handover_templates()
    if template not in templates:
        raise ValueError(f"未知的移交模板 {template!r}；可用：{'、'.join(templates)}")
    spec = templates[template]
    persons = load_persons(engine, scope=None)
    if hospital_id:
        persons = persons[persons["main_hospital"] == hospital_id]
    if person_ids is not None:
        persons = persons[persons["person_id"].isin(person_ids)]
    with engine.connect() as conn:
        names = pd.read_sql(select(Hospital.id, Hospital.name), conn).set_index("id")["name"]
    persons = persons.assign(
        main_hospital_name=persons["main_hospital"].map(names).fillna(""),
        first_seen=pd.to_datetime(persons["first_seen"]).dt.strftime("%Y-%m-%d"),
        last_seen=pd.to_datetime(persons["last_seen"]).dt.strftime("%Y-%m-%d"),
        highest_sanction=persons["highest_sanction"].map(lambda s: _sanction_label(s)),
    )
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([f["label"] for f in spec["fields"]])
    for r in persons.to_dict("records"):
        w.writerow([neutralize_cell(r.get(f["field"], "")) for f in spec["fields"]])
    data = ("\ufeff" + buf.getvalue()).encode("utf-8")
    sha = hashlib.sha256(data).hexdigest()
    now = pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None).to_pydatetime().replace(microsecond=0)
    filename = f"{spec['title']}_{now:%Y%m%d%H%M}.csv"
    t = table_of(PersonHandover)
    with engine.begin() as conn:
        hid = int(conn.execute(t.insert().values(
            template=template, recipient=recipient.strip()[:64], hospital_id=hospital_id, n_persons=len(persons),
            fields="+".join(f["field"] for f in spec["fields"]), filename=filename, sha256=sha,
            body=data.decode("utf-8"), username=(scope.username if scope else ""), at=now)).inserted_primary_key[0])  # type: ignore[index]
    record("persons_handover", username=scope.username if scope else "", data=data, engine=engine,
           detail=f"移交{spec['title']}给 {recipient.strip()}：{len(persons)} 人，文件 {filename}")
    return data, hid


def _sanction_label(s: object) -> str:
    return settings.SANCTION_LABELS.get(str(s), "") if s else ""


def neutralize_cell(v: object) -> str:
    """A CSV cell that no spreadsheet runs as a formula."""
    s = "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def load_handovers(engine: Engine | None = None, *, scope: AccessScope | None = None,
                   with_body: bool = False) -> pd.DataFrame:
    """Hand-over records: commanders all, a liaison only those addressed to them, others none."""
    engine = engine or get_engine()
    t = table_of(PersonHandover)
    cols = [t.c.id, t.c.template, t.c.recipient, t.c.hospital_id, t.c.n_persons, t.c.fields, t.c.filename,
            t.c.sha256, t.c.username, t.c.at] + ([t.c.body] if with_body else [])
    stmt = select(*cols).order_by(t.c.id.desc())
    if scope is not None and scope != SYSTEM:
        if scope.role == "liaison":
            stmt = stmt.where(t.c.recipient == scope.username)
        elif scope.role != "commander":
            stmt = stmt.where(t.c.id < 0)
    with engine.connect() as conn:
        return pd.read_sql(stmt, conn)


def handover_body(handover_id: int, *, scope: AccessScope | None, engine: Engine | None = None) -> bytes:
    """The stored hand-over file, for its recipient (or a commander); raises PermissionError otherwise."""
    h = load_handovers(engine, scope=scope, with_body=True)
    hit = h[h["id"] == int(handover_id)]
    if hit.empty:
        raise PermissionError("权限不足：该移交文件不是发给您的。")
    return str(hit["body"].iloc[0]).encode("utf-8")


__all__ = [
    "EVENT_COLUMNS", "HANDOVER_SOURCES", "PERSON_VIEW_COLUMNS", "handover_body", "handover_file",
    "hospital_targets", "load_handover_templates", "load_handovers", "load_person_events", "load_persons",
    "person_counts",
]
