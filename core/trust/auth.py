"""Users and sign-in: argon2 password hashes, roles, throttling of failed attempts.

There is no default password and no built-in account: the first administrator is created on
the server with ``python -m planning users add NAME --role admin`` (password read from a
prompt). Passwords are stored as argon2id hashes (``argon2-cffi`` defaults, RFC 9106).

Failures are counted per user name and per source address (table ``login_throttle``), in one
locked transaction before the password is checked, so parallel attempts are all counted. Beyond
``settings.LOGIN_MAX_FAILURES`` failures of a user name (``LOGIN_SOURCE_FREE_FAILURES`` of a
source) within ``settings.LOGIN_LOCKOUT_MIN`` minutes, each further attempt must wait a delay that
doubles from ``LOGIN_DELAY_BASE_S`` up to ``LOGIN_USER_MAX_DELAY_S`` (``LOGIN_SOURCE_MAX_DELAY_S``):
guessing is slowed, but nobody can lock a user out for good by typing their name. Administrators
list and clear the counts (:func:`list_throttles`, :func:`clear_throttle`, ``users throttle``).

Every sign-in, failure and lockout is written to the audit trail (``core.trust.audit``).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from core import settings
from core.db.engine import get_engine, is_demo, session_scope
from core.db.schema import Hospital, LoginFailure, LoginThrottle, Officer, User, table_of
from core.trust.access import ROLES, AccessScope, require, scope_for_role

_HASHER = PasswordHasher()
_USERNAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fa5]{2,64}$")


class AuthError(Exception):
    """Sign-in refused; ``str(exc)`` is a Chinese message safe to show to the user."""


class InvalidCredentials(AuthError):
    """Unknown user name or wrong password (deliberately not told apart)."""

    def __init__(self) -> None:
        super().__init__("用户名或密码错误。")


class AccountDisabled(AuthError):
    """The account exists and the password is right, but the account is disabled."""

    def __init__(self, username: str) -> None:
        super().__init__(f"账户 {username} 已停用，请联系管理员。")


class AccountLocked(AuthError):
    """Too many failed attempts; ``retry_after_s`` seconds until the next attempt is allowed."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = int(retry_after_s)
        wait = f"{self.retry_after_s} 秒" if self.retry_after_s < 60 else f"{-(-self.retry_after_s // 60)} 分钟"
        super().__init__(f"登录失败次数过多，请 {wait}后再试（尝试会被逐步放慢，不会永久锁定）。")


@dataclass(frozen=True)
class UserInfo:
    """A user without the password hash (safe to pass around)."""

    username: str
    role: str
    hospital_id: str | None
    officer_id: str | None
    display_name: str
    active: bool
    demo: bool


# --------------------------------------------------------------------------- helpers


def _now() -> dt.datetime:
    return pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None).to_pydatetime()


def _engine(engine: Engine | None) -> Engine:
    return engine or get_engine()


def validate_password(password: str, *, username: str = "") -> None:
    """Raise ValueError (Chinese message) if ``password`` is too weak.

    Rules: at least ``settings.MIN_PASSWORD_LENGTH`` characters, not the user name, at
    least two kinds of characters (letters, digits, others).
    """
    if not isinstance(password, str) or not password:
        raise ValueError("`password` 不能为空（系统没有默认密码）。")
    if len(password) < settings.MIN_PASSWORD_LENGTH:
        raise ValueError(f"`password` 太短：至少需要 {settings.MIN_PASSWORD_LENGTH} 个字符。")
    if username and password.lower() == username.lower():
        raise ValueError("`password` 不能与用户名相同。")
    kinds = (
        any(c.isalpha() for c in password)
        + any(c.isdigit() for c in password)
        + any(not c.isalnum() for c in password)
    )
    if kinds < 2:
        raise ValueError("`password` 太简单：至少包含字母、数字、符号中的两类。")


def _validate_user_fields(engine: Engine, username: str, role: str, hospital_id: str | None) -> None:
    problems = []
    if not _USERNAME.match(username or ""):
        problems.append("`username` 须为 2–64 个字母、数字、汉字或 _ . -")
    if role not in ROLES:
        problems.append(f"`role` 须为 {'、'.join(f'{k}（{v}）' for k, v in ROLES.items())} 之一，收到 {role!r}")
    if role == "officer" and not hospital_id:
        problems.append("驻院民警（officer）必须指定所属医院 `hospital_id`")
    if hospital_id:
        with session_scope(engine) as s:
            if s.get(Hospital, hospital_id) is None:
                problems.append(f"`hospital_id` {hospital_id!r} 不存在")
    if problems:
        raise ValueError("；".join(problems) + "。")


def _info(user: User) -> UserInfo:
    return UserInfo(
        username=user.username,
        role=user.role,
        hospital_id=user.hospital_id,
        officer_id=user.officer_id,
        display_name=user.display_name or "",
        active=bool(user.active),
        demo=bool(user.demo),
    )


# --------------------------------------------------------------------------- users


def create_user(
    engine: Engine | None,
    username: str,
    password: str,
    *,
    role: str,
    hospital_id: str | None = None,
    officer_id: str | None = None,
    display_name: str = "",
    created_by: str = "system",
    demo: bool = False,
) -> UserInfo:
    """Create a user with an argon2 password hash and record it in the audit trail.

    Parameters
    ----------
    engine
        Store engine; None for the configured store.
    username
        2–64 letters, digits, Chinese characters or ``_ . -``; must be new.
    password
        The password in clear (never stored); see :func:`validate_password`.
    role
        ``commander``, ``officer``, ``liaison`` or ``admin``.
    hospital_id
        Required for ``officer``: the hospital they are stationed at.
    officer_id
        The officer record of a stationed officer (for their own schedule).
    display_name
        Name shown in the dashboard.
    created_by
        Who creates the account (audit trail).
    demo
        Mark as a demo account (one-click sign-in on the demo store only).

    Returns
    -------
    UserInfo
    """
    from core.trust.audit import record

    engine = _engine(engine)
    username = (username or "").strip()
    _validate_user_fields(engine, username, role, hospital_id)
    validate_password(password, username=username)
    if officer_id is None and role == "officer":
        officer_id = _default_officer(engine, hospital_id)
    now = _now()
    with session_scope(engine) as s:
        if s.get(User, username) is not None:
            raise ValueError(f"`username` {username!r} 已存在。")
        user = User(
            username=username,
            password_hash=_HASHER.hash(password),
            role=role,
            hospital_id=hospital_id,
            officer_id=officer_id,
            display_name=display_name or "",
            active=True,
            demo=demo,
            created_at=now,
            password_changed_at=now,
        )
        s.add(user)
        s.flush()
        info = _info(user)
    where = f"，医院 {hospital_id}" if hospital_id else ""
    record("user_add", username=created_by, detail=f"新增用户 {username}（{ROLES[role]}{where}）", engine=engine)
    return info


def _default_officer(engine: Engine, hospital_id: str | None) -> str | None:
    """The first active officer stationed at ``hospital_id`` (None if there is none)."""
    with session_scope(engine) as s:
        return s.execute(
            select(Officer.id).where(Officer.hospital_id == hospital_id, Officer.active.is_(True)).order_by(Officer.id)
        ).scalars().first()


def get_user(engine: Engine | None, username: str) -> UserInfo | None:
    """The user named ``username`` or None."""
    engine = _engine(engine)
    with session_scope(engine) as s:
        user = s.get(User, username)
        return _info(user) if user is not None else None


def has_users(engine: Engine | None = None) -> bool:
    """True when at least one active, non-demo user exists."""
    engine = _engine(engine)
    with session_scope(engine) as s:
        n = s.execute(
            select(func.count()).select_from(User).where(User.active.is_(True), User.demo.is_(False))
        ).scalar_one()
    return n > 0


def list_users(engine: Engine | None = None, *, scope: AccessScope | None = None) -> pd.DataFrame:
    """All users (never their hashes), for administrators.

    Returns
    -------
    pandas.DataFrame
        Columns username, display_name, role, role_label, hospital_id, officer_id, active, demo,
        created_at, password_changed_at.
    """
    require(scope, roles=("admin",))
    engine = _engine(engine)
    t = table_of(User)
    cols = ["username", "display_name", "role", "hospital_id", "officer_id", "active", "demo", "created_at",
            "password_changed_at"]
    with engine.connect() as conn:
        df = pd.read_sql(select(*(t.c[c] for c in cols)).order_by(t.c.username), conn)
    df.insert(3, "role_label", df["role"].map(ROLES).astype(object))
    return df


def set_active(engine: Engine | None, username: str, active: bool, *, by: str = "system") -> None:
    """Enable or disable a user (accounts are never deleted: the audit trail names them)."""
    from core.trust.audit import record

    engine = _engine(engine)
    with session_scope(engine) as s:
        user = s.get(User, username)
        if user is None:
            raise ValueError(f"`username` {username!r} 不存在。")
        user.active = bool(active)
    action = "user_enable" if active else "user_disable"
    record(action, username=by, detail=f"{'启用' if active else '停用'}用户 {username}", engine=engine)


def disable_user(engine: Engine | None, username: str, *, by: str = "system") -> None:
    """Disable ``username``: sign-in is refused from then on."""
    set_active(engine, username, False, by=by)


def set_password(engine: Engine | None, username: str, password: str, *, by: str = "system") -> None:
    """Replace the password of ``username`` (and clear its failed attempts)."""
    from core.trust.audit import record

    engine = _engine(engine)
    validate_password(password, username=username)
    with session_scope(engine) as s:
        user = s.get(User, username)
        if user is None:
            raise ValueError(f"`username` {username!r} 不存在。")
        user.password_hash = _HASHER.hash(password)
        user.password_changed_at = _now()
        s.execute(delete(LoginFailure).where(LoginFailure.username == username))
        s.execute(
            table_of(LoginThrottle).update().where(LoginThrottle.key == f"user:{username}")
            .values(failures=0, next_allowed=_now())
        )
    record("user_password", username=by, detail=f"重置用户 {username} 的密码", engine=engine)


# --------------------------------------------------------------------------- sign-in


def scope_for(user: User | UserInfo) -> AccessScope:
    """The access scope of a user, following the role rules of :mod:`core.trust.access`."""
    return scope_for_role(
        user.role, username=user.username, hospital_id=user.hospital_id, officer_id=user.officer_id
    )


# --------------------------------------------------------------------------- throttling


def _throttle_keys(username: str, source: str) -> list[tuple[str, int, float]]:
    """(key, free failures, longest delay) for the user name and, if known, the source address."""
    keys = [(f"user:{username}", settings.LOGIN_MAX_FAILURES, settings.LOGIN_USER_MAX_DELAY_S)]
    if source:
        keys.append((f"source:{source[:140]}", settings.LOGIN_SOURCE_FREE_FAILURES, settings.LOGIN_SOURCE_MAX_DELAY_S))
    return sorted(keys)


def _delay_s(failures: int, free: int, longest: float) -> float:
    """Seconds to wait after ``failures`` failures: none within the free ones, then doubling up to ``longest``."""
    if failures < free:
        return 0.0
    return float(min(settings.LOGIN_DELAY_BASE_S * 2.0 ** min(failures - free, 40), longest))


def _reserve_attempt(engine: Engine, username: str, source: str, now: dt.datetime) -> int:
    """Count one attempt for the user name and the source, atomically; return the seconds to wait (0 = go on).

    The rows are locked for the whole transaction (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite takes its write
    lock with the first statement), so parallel attempts are counted one after the other and every one of them is
    counted. An allowed attempt is counted as a failure *before* the password is checked (and undone on success),
    so the check and the count cannot be raced; a refused attempt is counted but does not extend the delay.
    """
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    keys = _throttle_keys(username, source)
    t = table_of(LoginThrottle)
    window = dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MIN)
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with engine.begin() as conn:
        conn.execute(
            insert(t).values([{"key": k, "failures": 0, "next_allowed": now} for k, _f, _m in keys])
            .on_conflict_do_nothing(index_elements=["key"])
        )
        stmt = select(t).where(t.c.key.in_([k for k, _f, _m in keys])).order_by(t.c.key)
        if engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        rows = {r.key: r for r in conn.execute(stmt)}
        wait = 0.0
        fresh = {}
        for key, _free, _longest in keys:
            row = rows[key]
            stale = row.last_failure is None or now - row.last_failure > window
            fresh[key] = 0 if stale else int(row.failures)
            if not stale:
                wait = max(wait, (row.next_allowed - now).total_seconds())
        for key, free, longest in keys:
            failures = fresh[key] + 1
            values = {"failures": failures, "last_failure": now}
            if wait <= 0:
                values["next_allowed"] = now + dt.timedelta(seconds=_delay_s(failures, free, longest))
            conn.execute(t.update().where(t.c.key == key).values(**values))
    return int(wait + 0.999) if wait > 0 else 0


def _attempt_succeeded(engine: Engine, username: str, source: str, now: dt.datetime) -> None:
    """Undo the pessimistic count: the user name starts afresh, the source gets its attempt back."""
    t = table_of(LoginThrottle)
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.key == f"user:{username}").values(failures=0, next_allowed=now))
        if source:
            key = f"source:{source[:140]}"
            conn.execute(t.update().where(t.c.key == key, t.c.failures > 0).values(failures=t.c.failures - 1))


def lockout_remaining(
    engine: Engine | None, username: str, *, now: dt.datetime | None = None, source: str = ""
) -> int:
    """Seconds until ``username`` (from ``source``, if given) may try again (0 when it may now)."""
    engine = _engine(engine)
    now = now or _now()
    t = table_of(LoginThrottle)
    keys = [k for k, _f, _m in _throttle_keys(username, source)]
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.key.in_(keys))).all()
    window = dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MIN)
    wait = max(
        [(r.next_allowed - now).total_seconds() for r in rows if r.last_failure and now - r.last_failure <= window],
        default=0.0,
    )
    return int(wait + 0.999) if wait > 0 else 0


def list_throttles(engine: Engine | None = None, *, scope: AccessScope | None = None) -> pd.DataFrame:
    """Counted failures per user name and source, for administrators.

    Returns
    -------
    pandas.DataFrame
        Columns key, kind (``user`` / ``source``), name, failures, last_failure, next_allowed, wait_s; only keys
        with failures in the counting window.
    """
    require(scope, roles=("admin",))
    engine = _engine(engine)
    now = _now()
    t = table_of(LoginThrottle)
    since = now - dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MIN)
    with engine.connect() as conn:
        df = pd.read_sql(
            select(t).where(t.c.failures > 0, t.c.last_failure >= since).order_by(t.c.next_allowed.desc()), conn
        )
    parts = df["key"].astype(str).str.split(":", n=1)
    df.insert(1, "kind", parts.str[0].astype(object))
    df.insert(2, "name", parts.str[1].astype(object))
    wait = (pd.to_datetime(df["next_allowed"]) - pd.Timestamp(now)).dt.total_seconds().clip(lower=0)
    df["wait_s"] = wait.round().astype(int)
    return df


def clear_throttle(engine: Engine | None, key: str, *, by: str = "system", scope: AccessScope | None = None) -> bool:
    """Forget the failures of one key (``user:NAME`` or ``source:ADDRESS``); audited. True if it was counted."""
    from core.trust.audit import record

    require(scope, roles=("admin",))
    engine = _engine(engine)
    t = table_of(LoginThrottle)
    with engine.begin() as conn:
        n = conn.execute(
            t.update().where(t.c.key == key, t.c.failures > 0).values(failures=0, next_allowed=_now())
        ).rowcount
    if n:
        record("throttle_clear", username=by, detail=f"解除登录限制 {key}", engine=engine)
    return bool(n)


# --------------------------------------------------------------------------- sign-in (continued)


def authenticate(
    engine: Engine | None, username: str, password: str, *, now: dt.datetime | None = None, source: str = ""
) -> AccessScope:
    """Check a user name and password and return the user's scope.

    Parameters
    ----------
    engine
        Store engine; None for the configured store.
    username, password
        As typed by the user.
    now
        Current local time (naive, Asia/Shanghai); for tests.
    source
        Where the attempt comes from (the client address, ``cli``); failures are counted per user name and per
        source, so spraying one password over many user names is slowed too.

    Returns
    -------
    AccessScope
        The scope of the user (see :func:`scope_for`).

    Raises
    ------
    AccountLocked
        Attempts for this user name or source are being slowed; checked (and counted) before the password.
    InvalidCredentials
        Unknown user or wrong password (recorded as a failure).
    AccountDisabled
        Right password, but the account is disabled.
    """
    from core.trust.audit import record

    engine = _engine(engine)
    now = now or _now()
    username = (username or "").strip()[:64]
    source = (source or "").strip()
    wait = _reserve_attempt(engine, username, source, now)
    where = f"（来源 {source}）" if source else ""
    if wait:
        record("signin_failed", username=username, detail=f"登录尝试过于频繁，已放慢{where}", engine=engine)
        raise AccountLocked(wait)
    with session_scope(engine) as s:
        user = s.get(User, username)
        stored = user.password_hash if user is not None else None
        info = _info(user) if user is not None else None
    ok = False
    try:
        # Verify against a dummy hash for unknown users so timing does not reveal who exists.
        ok = _HASHER.verify(stored or _dummy_hash(), password or "") and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        record("signin_failed", username=username, detail=f"用户名或密码错误{where}", engine=engine)
        if lockout_remaining(engine, username, now=now, source=source):
            record(
                "lockout", username=username,
                detail=f"登录失败次数过多，之后的尝试将被放慢（最长 {settings.LOGIN_USER_MAX_DELAY_S:.0f} 秒）{where}",
                engine=engine,
            )
        raise InvalidCredentials()
    if info is None:  # unreachable: a failed lookup never verifies
        raise InvalidCredentials()
    if not info.active:
        record("signin_failed", username=username, detail="账户已停用", engine=engine)
        raise AccountDisabled(username)
    _attempt_succeeded(engine, username, source, now)
    with session_scope(engine) as s:
        user = s.get(User, username)
        if user is not None and stored is not None and _HASHER.check_needs_rehash(stored):
            user.password_hash = _HASHER.hash(password)
    record("signin", username=username, detail=f"登录成功（{ROLES[info.role]}）{where}", engine=engine)
    return scope_for(info)


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(_HASHER.hash(secrets.token_urlsafe(16)))
    return _DUMMY[0]


# --------------------------------------------------------------------------- demo accounts

#: Demo accounts created on the demo store: user name -> (role, display name).
DEMO_ACCOUNTS = {
    "demo_commander": ("commander", "演示·指挥员"),
    "demo_officer": ("officer", "演示·驻院民警"),
    "demo_liaison": ("liaison", "演示·卫健联络员"),
    "demo_admin": ("admin", "演示·管理员"),
}


def ensure_demo_users(engine: Engine | None = None) -> list[UserInfo]:
    """Create the demo accounts on the demo store (random passwords nobody knows).

    Does nothing and returns ``[]`` unless the store holds the synthetic demo data
    (:func:`core.db.is_demo`). The stationed officer account belongs to the hospital of
    the first active stationed officer.
    """
    from core.trust.storekind import store_kind

    engine = _engine(engine)
    if not is_demo(engine) or store_kind(engine) != "demo":
        return []
    out = []
    for username, (role, label) in DEMO_ACCOUNTS.items():
        existing = get_user(engine, username)
        if existing is not None:
            out.append(existing)
            continue
        hospital_id = officer_id = None
        if role == "officer":
            with session_scope(engine) as s:
                row = s.execute(
                    select(Officer.id, Officer.hospital_id)
                    .where(Officer.hospital_id.is_not(None), Officer.active.is_(True))
                    .order_by(Officer.hospital_id, Officer.id)
                ).first()
            if row is None:
                continue
            officer_id, hospital_id = row
        out.append(
            create_user(
                engine, username, secrets.token_urlsafe(24) + "!1", role=role, hospital_id=hospital_id,
                officer_id=officer_id, display_name=label, created_by="demo", demo=True,
            )
        )
    return out


def demo_sign_in(engine: Engine | None, username: str) -> AccessScope:
    """One-click sign-in as a demo account; refused unless the store is the demo store."""
    from core.trust.audit import record
    from core.trust.storekind import store_kind

    engine = _engine(engine)
    if not is_demo(engine) or store_kind(engine) != "demo":
        raise AuthError("演示账户仅在加载演示数据时可用。")
    info = get_user(engine, username)
    if info is None or not info.demo or not info.active:
        raise AuthError(f"{username} 不是可用的演示账户。")
    record("signin", username=username, detail=f"演示账户一键登录（{ROLES[info.role]}）", engine=engine)
    return scope_for(info)
