"""Server-side sign-in sessions bound to the browser by a cookie (issue 11).

A session is a row of ``auth_sessions``: the SHA-256 of a random token (the token itself is only in the
browser's cookie), the user, its kind (``user`` or the read-only ``display`` of the meeting screen 会商大屏),
when it was created and last seen, its absolute expiry, and when and why it ended. :func:`resolve` is called on
every rerun of the dashboard with the cookie's token: it refuses an unknown, ended, expired or idle session and
one whose user was disabled, and refreshes ``last_seen``. Ending a session (:func:`end`, :func:`end_all`) ends it
for every tab and websocket at once, because each rerun asks the store again.

A one-time *exchange code* (:func:`issue_code`, :func:`redeem_code`) lets a sign-in that happened inside the
Streamlit app hand its new session to the browser through the HTTP route ``/auth/exchange`` (which can set an
HttpOnly cookie; a websocket cannot). The code lives 60 seconds and works once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import settings
from core.db.schema import AuthSession, table_of

KINDS = {"user": "用户会话", "display": "会商大屏（只读）"}
#: Seconds an exchange code stays valid.
CODE_TTL_S = 60


def _now() -> dt.datetime:
    return pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None).to_pydatetime()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id(token: str) -> str:
    """The stored id of the session carried by ``token`` (:attr:`SessionInfo.id`; the token is never stored)."""
    return _hash(token)


@dataclass(frozen=True)
class SessionInfo:
    """A live session (never carries the token)."""

    id: str
    username: str
    kind: str
    created_at: dt.datetime
    expires_at: dt.datetime
    personal: bool


def create(engine: Engine, username: str, *, kind: str = "user", hours: float | None = None) -> str:
    """Start a session for ``username`` and return its token (for the cookie; only its hash is stored)."""
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {sorted(KINDS)}, got {kind!r}.")
    token = secrets.token_urlsafe(32)
    now = _now()
    life = hours if hours is not None else (
        settings.DISPLAY_SESSION_HOURS if kind == "display" else settings.SESSION_MAX_HOURS
    )
    with engine.begin() as conn:
        conn.execute(table_of(AuthSession).insert().values(
            id=_hash(token), username=username, kind=kind, created_at=now, last_seen=now,
            expires_at=now + dt.timedelta(hours=float(life)), ended_at=None, end_reason="", personal=False,
        ))
    return token


def resolve(engine: Engine, token: str | None, *, now: dt.datetime | None = None) -> SessionInfo | None:
    """The live session of ``token`` (refreshing its last activity), or None.

    Ends (and says why) a session that expired, idled longer than ``settings.SESSION_TIMEOUT_MIN`` (user
    sessions) or whose user is disabled.
    """
    from core.trust.auth import get_user

    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    now = now or _now()
    t = table_of(AuthSession)
    sid = _hash(token)
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == sid)).first()
    if row is None or row.ended_at is not None:
        return None
    reason = ""
    if now >= row.expires_at:
        reason = "会话到期"
    elif row.kind == "user" and now - row.last_seen > dt.timedelta(minutes=settings.SESSION_TIMEOUT_MIN):
        reason = f"会话超时（{settings.SESSION_TIMEOUT_MIN} 分钟无操作）"
    else:
        user = get_user(engine, row.username)
        if user is None or not user.active:
            reason = "账户已停用"
    if reason:
        _end_id(engine, sid, reason, row.username, now)
        return None
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id == sid, t.c.ended_at.is_(None)).values(last_seen=now))
    return SessionInfo(sid, row.username, row.kind, row.created_at, row.expires_at, bool(row.personal))


def set_personal(engine: Engine, token: str, personal: bool) -> None:
    """Record whether personal fields are shown in this session (unmasking itself is audited by the caller)."""
    t = table_of(AuthSession)
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id == _hash(token)).values(personal=bool(personal)))


def _end_id(engine: Engine, sid: str, reason: str, username: str, now: dt.datetime | None = None) -> bool:
    from core.trust.audit import record

    t = table_of(AuthSession)
    with engine.begin() as conn:
        n = conn.execute(
            t.update().where(t.c.id == sid, t.c.ended_at.is_(None)).values(ended_at=now or _now(), end_reason=reason[:64])
        ).rowcount
    if n:
        record("signout", username=username, detail=f"{reason}（会话 {sid[:8]}）", engine=engine)
    return bool(n)


def end(engine: Engine, token: str | None, reason: str = "退出登录") -> bool:
    """End the session of ``token`` everywhere (every tab, every websocket); True if it was live."""
    if not token:
        return False
    t = table_of(AuthSession)
    with engine.connect() as conn:
        username = conn.execute(select(t.c.username).where(t.c.id == _hash(token))).scalar_one_or_none()
    return _end_id(engine, _hash(token), reason, username or "") if username is not None else False


def end_all(engine: Engine, username: str, reason: str = "管理员结束全部会话") -> int:
    """End every live session of ``username``; returns how many."""
    t = table_of(AuthSession)
    with engine.connect() as conn:
        ids = list(conn.execute(select(t.c.id).where(t.c.username == username, t.c.ended_at.is_(None))).scalars())
    return sum(_end_id(engine, sid, reason, username) for sid in ids)


def issue_display(engine: Engine, *, by: str, hours: float | None = None) -> str:
    """A read-only meeting-display session (会商大屏) for ``hours``, issued by commander ``by`` (audited)."""
    from core.trust.audit import record

    hours = float(hours if hours is not None else settings.DISPLAY_SESSION_HOURS)
    token = create(engine, by, kind="display", hours=hours)
    record("session_display", username=by, detail=f"签发会商大屏只读会话 {hours:g} 小时", engine=engine)
    return token


# --------------------------------------------------------------------------- one-time exchange codes

_CODES: dict[str, tuple[str, float]] = {}
_LOCK = threading.Lock()


def issue_code(token: str) -> str:
    """A one-time code (valid :data:`CODE_TTL_S` seconds) that :func:`redeem_code` turns into ``token``."""
    code = secrets.token_urlsafe(24)
    with _LOCK:
        now = time.monotonic()
        for k in [k for k, (_t, exp) in _CODES.items() if exp < now]:
            del _CODES[k]
        _CODES[_hash(code)] = (token, now + CODE_TTL_S)
    return code


def redeem_code(code: str | None) -> str | None:
    """The token of ``code`` once (None if unknown, used or expired)."""
    if not code:
        return None
    with _LOCK:
        item = _CODES.pop(_hash(code), None)
    if item is None or item[1] < time.monotonic():
        return None
    return item[0]
