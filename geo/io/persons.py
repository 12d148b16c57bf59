"""Target persons into the store: mentions from stored incidents, sightings files, resolution runs.

The pure work is :mod:`geo.persons`; this module feeds it from the store and writes its results back:

- :func:`refresh_incident_mentions` extracts person mentions from the stored incidents' descriptions;
- :func:`import_sightings` imports a watch-list hits file (CSV/XLSX) with row accounting
  (accepted + rejected + duplicates = total, each rejection with a Chinese reason);
- :func:`run_resolution` resolves all mentions into persons (with the commanders' decisions), and stores
  each person's activity summary, highest sanction and gang lead;
- :func:`record_decision` stores a confirm/split decision (audited) and re-resolves.

Identity fields are stored as keyed hashes and masked forms; the clear values only with
``settings.PERSONS_KEEP_CLEAR``. The hash key is read from (or created in) :func:`hash_key_path`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Engine

from core import settings
from core.db.engine import get_engine
from core.db.schema import Person, PersonDecision, PersonMention, SightingBatch, table_of
from core.trust.access import SYSTEM, AccessScope, require
from core.trust.audit import record
from geo import persons as gp
from geo.persons.extract import SIGHTING_COLUMNS

#: Columns of ``person_mentions`` filled from a mentions frame (besides the clear values).
_STORED = [c for c in gp.MENTION_COLUMNS]
_CLEAR = {"name": "name_clear", "id_number": "id_clear", "phone": "phone_clear"}


def hash_key_path() -> Path:
    """Path of the identity-hash key file (``settings.PERSONS_HASH_KEY_FILE`` or ``var_dir/persons_hash.key``)."""
    configured = str(settings.PERSONS_HASH_KEY_FILE or "").strip()
    return Path(configured).expanduser() if configured else Path(settings.VAR_DIR) / "persons_hash.key"


def hash_key() -> bytes:
    """The deployment's secret key of the keyed identity hashes, created on first use (32 random bytes, 0600)."""
    path = hash_key_path()
    if path.is_file():
        data = path.read_bytes()
        if len(data) >= 16:
            return data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    os.chmod(path, 0o600)
    return path.read_bytes()


def _now() -> dt.datetime:
    return pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None).to_pydatetime().replace(microsecond=0)


def _rows(mentions: pd.DataFrame, *, batch_id: int | None, demo: bool) -> list[dict]:
    keep_clear = bool(settings.PERSONS_KEEP_CLEAR)
    m = mentions.copy()
    seen = pd.to_datetime(m["seen_at"], errors="coerce")
    out = []
    recs = m.to_dict("records")
    for r, t in zip(recs, seen, strict=True):
        row = {c: r.get(c) for c in _STORED}
        row["seen_at"] = None if pd.isna(t) else t.to_pydatetime()
        for c in ("lon", "lat"):
            v = row[c]
            row[c] = None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)
        hid = row["hospital_id"]
        row["hospital_id"] = None if hid is None or (isinstance(hid, float) and np.isnan(hid)) or hid == "" else str(hid)
        for c in ("record_id", "origin", "role", "camera_id", "person_ref", "sanction", "name_hash", "name_masked",
                  "id_hash", "id_masked", "id_status", "phone_hash", "phone_masked"):
            v = row.get(c)
            row[c] = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
        for clear, col in _CLEAR.items():
            v = r.get(clear) if keep_clear else None
            row[col] = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
        row.update(person_id=None, batch_id=batch_id, demo=demo)
        out.append(row)
    return out


def _insert_mentions(engine: Engine, rows: list[dict]) -> None:
    if rows:
        with engine.begin() as conn:
            for k in range(0, len(rows), 5000):
                conn.execute(table_of(PersonMention).insert(), rows[k:k + 5000])


def refresh_incident_mentions(engine: Engine | None = None) -> int:
    """Re-extract person mentions from every stored incident (descriptions); returns how many were stored.

    Mentions of incidents are rebuilt as a whole (an incident's text does not change, but the extractor may);
    sightings and the demo's synthetic mentions are kept.
    """
    from core.db.loaders import load_hospitals, load_incidents

    engine = engine or get_engine()
    inc = load_incidents(engine, columns=["source", "source_id", "hospital_id", "lon", "lat", "description"])
    frame = pd.DataFrame({
        "source_id": (inc["source"].astype(str) + ":" + inc["source_id"].astype(str)).to_numpy(),
        "received_at": inc["received_at"].to_numpy() if len(inc) else [],
        "hospital_id": inc["hospital_id"].to_numpy(), "lon": inc["lon"].to_numpy(), "lat": inc["lat"].to_numpy(),
        "description": inc["description"].to_numpy(),
    })
    if len(inc):
        frame["received_at"] = inc["received_at"].dt.tz_localize(None).to_numpy()
    mentions = gp.extract_incident_mentions(frame, key=hash_key(), keep_clear=bool(settings.PERSONS_KEEP_CLEAR),
                                            hospitals=load_hospitals(engine))
    t = table_of(PersonMention)
    with engine.begin() as conn:
        conn.execute(delete(t).where(t.c.source == "incident", t.c.demo.is_(False)))
    _insert_mentions(engine, _rows(mentions, batch_id=None, demo=False))
    return len(mentions)


@dataclass
class SightingsResult:
    """Row accounting of one sightings import (``accepted + rejected + duplicates == total``)."""

    batch_id: int
    filename: str
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    rejections: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        """One Chinese line for the CLI and the page."""
        return (f"布控告警导入（批次 {self.batch_id}，{self.filename}）：共 {self.total} 行，接收 {self.accepted}，"
                f"拒收 {self.rejected}，重复 {self.duplicates}")


def _col(frame: pd.DataFrame, key: str) -> str | None:
    return next((c for c in SIGHTING_COLUMNS[key] if c in frame.columns), None)


def read_sightings_frame(data: bytes) -> pd.DataFrame:
    """A sightings file's rows (CSV in any common Chinese encoding, or XLSX) with its header row as columns."""
    from geo.io.ingest import read_grid

    grid, _enc = read_grid(data)
    if grid.empty:
        return pd.DataFrame()
    grid = grid.reset_index(drop=True)
    header = [str(v).strip() if v is not None else "" for v in grid.iloc[0].tolist()]
    body = grid.iloc[1:].reset_index(drop=True)
    body.columns = header
    body = body.loc[:, [h for h in header if h]]
    return body.replace({"": None})


def import_sightings(
    src: str | Path | bytes,
    *,
    engine: Engine | None = None,
    username: str = "",
    min_score: float | None = None,
    demo: bool = False,
    resolve: bool = True,
) -> SightingsResult:
    """Import a watch-list hits file: every row accepted, rejected (with a Chinese reason) or a duplicate.

    Parameters
    ----------
    src
        Path or bytes of a CSV/XLSX with columns as :data:`geo.persons.extract.SIGHTING_COLUMNS`.
    engine
        Store engine.
    username
        Who imports (batch record and audit trail).
    min_score
        Similarity below which a hit is rejected; default ``settings.PERSONS_MIN_SCORE``.
    demo
        Mark the mentions as the demo's synthetic data.
    resolve
        Re-run :func:`run_resolution` afterwards.
    """
    from core.db.loaders import load_hospitals
    from geo.io.ingest import read_bytes

    engine = engine or get_engine()
    data, name = read_bytes(src) if not isinstance(src, pd.DataFrame) else (b"", "frame")
    frame = src.copy() if isinstance(src, pd.DataFrame) else read_sightings_frame(data)
    sha = hashlib.sha256(data).hexdigest() if data else ""
    bt = table_of(SightingBatch)
    with engine.begin() as conn:
        batch_id = int(conn.execute(bt.insert().values(filename=name[:300], sha256=sha, started_at=_now(),
                                                       username=username[:64])).inserted_primary_key[0])
    res = SightingsResult(batch_id=batch_id, filename=name, total=len(frame))
    threshold = float(settings.PERSONS_MIN_SCORE if min_score is None else min_score)
    reasons = np.full(len(frame), "", dtype=object)
    if len(frame):
        tcol = _col(frame, "time")
        if tcol is None:
            raise ValueError(f"布控告警文件缺少时间列（可用列名：{'、'.join(SIGHTING_COLUMNS['time'])}）。")
        times = pd.to_datetime(frame[tcol], errors="coerce")
        reasons[times.isna().to_numpy()] = "抓拍时间缺失或无法识别"
        refs = [c for c in (_col(frame, "person_ref"), _col(frame, "id_numbers"), _col(frame, "names")) if c]
        has_ref = np.zeros(len(frame), dtype=bool)
        for c in refs:
            has_ref |= frame[c].notna().to_numpy() & (frame[c].astype(str).str.strip() != "").to_numpy()
        reasons[(reasons == "") & ~has_ref] = "缺少人员标识（布控编号、身份证号或姓名）"
        scol = _col(frame, "score")
        if scol:
            score = pd.to_numeric(frame[scol], errors="coerce").to_numpy(float)
            reasons[(reasons == "") & (score < threshold)] = f"相似度低于 {threshold:.2f}"
        hcol, ncol = _col(frame, "hospital_id"), _col(frame, "hospital_name")
        lon, lat = _col(frame, "lon"), _col(frame, "lat")
        has_place = np.zeros(len(frame), dtype=bool)
        for c in (hcol, ncol):
            if c:
                has_place |= frame[c].notna().to_numpy() & (frame[c].astype(str).str.strip() != "").to_numpy()
        if lon and lat:
            has_place |= (pd.to_numeric(frame[lon], errors="coerce").notna()
                          & pd.to_numeric(frame[lat], errors="coerce").notna()).to_numpy()
        reasons[(reasons == "") & ~has_place] = "缺少地点（医院编号、医院名称或经纬度）"
        # A stable id per hit: the file's id column, else a hash of what identifies the hit.
        rid = _col(frame, "record_id")
        if rid is None:
            parts = frame[[c for c in (tcol, *refs, _col(frame, "camera_id")) if c]].astype(str).agg("|".join, axis=1)
            frame = frame.assign(sighting_id=[hashlib.sha256(p.encode()).hexdigest()[:20] for p in parts])
            rid = "sighting_id"
        ids = frame[rid].astype(str).to_numpy()
        mids = np.asarray([f"S:{v}" for v in ids], dtype=object)
        t = table_of(PersonMention)
        with engine.connect() as conn:
            stored = set(conn.execute(select(t.c.mention_id).where(t.c.source == "sighting")).scalars())
        dup = np.asarray([m in stored for m in mids]) | pd.Series(mids).duplicated().to_numpy()
        ok = (reasons == "") & ~dup
        accepted = frame[ok].reset_index(drop=True)
        mentions = gp.parse_sightings(accepted, key=hash_key(), hospitals=load_hospitals(engine),
                                      keep_clear=bool(settings.PERSONS_KEEP_CLEAR)) if len(accepted) else None
        n_acc = 0
        if mentions is not None:
            placed = mentions["hospital_id"].notna()
            lost = set(accepted[rid].astype(str)) - set(mentions.loc[placed, "record_id"].astype(str))
            for k in np.flatnonzero(ok):
                if str(ids[k]) in lost:
                    reasons[k] = "不在任何医院周边（超出医院半径）"
            mentions = mentions[placed]
            _insert_mentions(engine, _rows(mentions, batch_id=batch_id, demo=demo))
            n_acc = len(mentions)
        res.accepted = n_acc
        res.duplicates = int((dup & (reasons == "")).sum())
        res.rejected = res.total - res.accepted - res.duplicates
        res.rejections = [{"row": int(k) + 2, "reason": str(reasons[k])} for k in np.flatnonzero(reasons != "")]
    with engine.begin() as conn:
        conn.execute(update(bt).where(bt.c.id == batch_id).values(
            finished_at=_now(), total=res.total, accepted=res.accepted, rejected=res.rejected,
            duplicates=res.duplicates, rejections=json.dumps(res.rejections, ensure_ascii=False)))
    record("persons_import", username=username, detail=res.summary(), data=data or None, engine=engine)
    if resolve:
        run_resolution(engine)
    return res


def load_mentions_frame(engine: Engine) -> pd.DataFrame:
    """Every stored mention as a mentions frame (hashes and masked forms only; internal use)."""
    t = table_of(PersonMention)
    cols = [t.c[c] for c in gp.MENTION_COLUMNS] + [t.c.demo]
    with engine.connect() as conn:
        m = pd.read_sql(select(*cols).order_by(t.c.mention_id), conn)
    for c in ("name_hash", "id_hash", "phone_hash", "person_ref", "id_status"):
        m[c] = m[c].fillna("").astype(str)
    m["seen_at"] = pd.to_datetime(m["seen_at"])
    return m


def load_decisions_frame(engine: Engine) -> pd.DataFrame:
    """Stored commanders' decisions as a :func:`geo.persons.resolve_persons` decisions frame."""
    t = table_of(PersonDecision)
    with engine.connect() as conn:
        d = pd.read_sql(select(t.c.id, t.c.kind, t.c.mention_a, t.c.mention_b).order_by(t.c.id), conn)
    return d.rename(columns={"id": "decision_id"}).astype({"decision_id": str})


def demo_actions(engine: Engine) -> pd.DataFrame:
    """Past actions used for displacement: the demo's synthetic persons' actions and the recorded results."""
    from core.db.engine import get_meta

    rows = []
    raw = get_meta("demo_person_actions", engine)
    if raw:
        rows.extend(json.loads(raw))
    from core.db.schema import ActionResult

    t = table_of(ActionResult)
    with engine.connect() as conn:
        for r in conn.execute(select(t.c.id, t.c.hospital_id, t.c.date)):
            rows.append({"action_id": f"R{r.id}", "hospital_id": r.hospital_id, "date": str(r.date)})
    return pd.DataFrame(rows, columns=["action_id", "hospital_id", "date"])


def run_resolution(engine: Engine | None = None, *, seed: int = 0) -> gp.Resolution:
    """Resolve every stored mention into persons and store them with their activity summary and gang lead."""
    engine = engine or get_engine()
    m = load_mentions_frame(engine)
    res = gp.resolve_persons(m.drop(columns=["demo"]), decisions=load_decisions_frame(engine))
    t, pt = table_of(PersonMention), table_of(Person)
    now = _now()
    with engine.begin() as conn:
        conn.execute(delete(pt))
        if len(res.assignments):
            conn.execute(update(t).where(t.c.mention_id == bindparam("mid")).values(person_id=bindparam("pid")),
                         [{"mid": a, "pid": b} for a, b in res.assignments.itertuples(index=False)])
    if res.persons.empty:
        return res
    events = gp.person_events(m, res)
    summary = gp.activity_summary(events).set_index("person_id") if len(events) else pd.DataFrame()
    ladder = gp.sanction_ladder(events).set_index("person_id") if len(events) else pd.DataFrame()
    groups = gp.find_groups(gp.co_occurrence_ties(events), seed=seed) if len(events) else None
    gmap = groups.membership.set_index("person_id")["group_id"] if groups is not None else pd.Series(dtype=object)
    demo = m.groupby(m["mention_id"].map(res.assignments.set_index("mention_id")["person_id"]))["demo"].all()
    rows = []
    for p in res.persons.to_dict("records"):
        pid = p["person_id"]
        s = summary.loc[pid] if pid in summary.index else None
        lad = ladder.loc[pid] if pid in ladder.index else None

        def ts(v):
            return None if v is None or pd.isna(v) else pd.Timestamp(v).to_pydatetime()

        rows.append({
            "person_id": pid, "name_masked": p["name_masked"] or "", "id_masked": p["id_masked"] or "",
            "id_status": p["id_status"] or "", "phone_masked": p["phone_masked"] or "", "id_hash": p["id_hash"] or "",
            "n_mentions": int(p["n_mentions"]), "n_incidents": int(p["n_incidents"]),
            "n_sightings": int(p["n_sightings"]), "first_seen": ts(p["first_seen"]), "last_seen": ts(p["last_seen"]),
            "main_hospital": str(s["main_hospital"]) if s is not None else "",
            "hospitals": str(s["hospitals"]) if s is not None else "",
            "peak_window": str(s["peak_window"]) if s is not None else "",
            "peak_center_min": None if s is None or pd.isna(s["peak_center_min"]) else float(s["peak_center_min"]),
            "trend": str(s["trend"]) if s is not None else "",
            "highest_sanction": str(lad["highest"]) if lad is not None else "",
            "group_id": str(gmap.get(pid, "")), "min_confidence": float(p["min_confidence"]),
            "n_review": int(p["n_review"]), "demo": bool(demo.get(pid, False)), "updated_at": now,
        })
    with engine.begin() as conn:
        for k in range(0, len(rows), 5000):
            conn.execute(pt.insert(), rows[k:k + 5000])
    return res


def record_decision(
    kind: str,
    mention_a: str,
    mention_b: str,
    *,
    reason: str,
    scope: AccessScope | None,
    engine: Engine | None = None,
) -> int:
    """Store a commander's confirm/split decision (audited) and re-resolve; returns the decision id.

    Raises
    ------
    PermissionError
        Unless the caller is a commander (or the operator's command line).
    ValueError
        Unknown kind or mention ids, an empty reason, or a decision contradicting an earlier one.
    """
    if scope is not None and scope != SYSTEM:
        require(scope, roles=("commander",))
    if kind not in ("confirm", "split"):
        raise ValueError(f"决定类型须为 confirm（确认同一人）或 split（拆分），收到 {kind!r}。")
    if not reason or not reason.strip():
        raise ValueError("确认或拆分须填写理由。")
    engine = engine or get_engine()
    t = table_of(PersonMention)
    with engine.connect() as conn:
        known = set(conn.execute(select(t.c.mention_id).where(t.c.mention_id.in_([mention_a, mention_b]))).scalars())
    missing = sorted({mention_a, mention_b} - known)
    if missing:
        raise ValueError(f"未知的人员记录编号：{'、'.join(missing)}")
    dt_ = table_of(PersonDecision)
    user = scope.username if scope is not None else ""
    with engine.begin() as conn:
        did = int(conn.execute(dt_.insert().values(kind=kind, mention_a=mention_a, mention_b=mention_b,
                                                   reason=reason.strip(), username=user, at=_now()))
                  .inserted_primary_key[0])
    try:
        run_resolution(engine)
    except ValueError:
        with engine.begin() as conn:
            conn.execute(delete(dt_).where(dt_.c.id == did))
        run_resolution(engine)
        raise
    label = "确认同一人" if kind == "confirm" else "拆分为不同人"
    record("persons_decision", username=user, engine=engine,
           detail=f"人员研判{label}：{mention_a} / {mention_b}，理由：{reason.strip()}")
    return did


def add_demo_persons(engine: Engine, hospitals: pd.DataFrame, *, start: pd.Timestamp, days: int,
                     seed: int) -> dict:
    """Plant the demo's synthetic persons (演示, fictitious) with gangs moving between hospitals; see build_demo."""
    from core.db.engine import set_meta

    syn = gp.make_synthetic_persons(hospitals, start=str(pd.Timestamp(start).date()), days=int(days), seed=seed,
                                    n_gangs=4, n_loners=12, n_displaced=2)
    key = hash_key()
    keep = bool(settings.PERSONS_KEEP_CLEAR)
    inc = gp.extract_incident_mentions(syn.incidents, key=key, keep_clear=keep, hospitals=hospitals)
    sig = gp.parse_sightings(syn.sightings, key=key, hospitals=hospitals, min_score=settings.PERSONS_MIN_SCORE,
                             keep_clear=keep)
    mentions = gp.combine_mentions(inc, sig)
    mentions = mentions[mentions["hospital_id"].notna()]
    _insert_mentions(engine, _rows(mentions, batch_id=None, demo=True))
    set_meta("demo_person_actions", syn.actions.drop(columns=["data_label"]).to_json(orient="records",
                                                                                       force_ascii=False), engine)
    res = run_resolution(engine, seed=seed)
    return {"mentions": len(mentions), "persons": len(res.persons), "gangs": len(syn.gangs)}
