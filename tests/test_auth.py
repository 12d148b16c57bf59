"""Sign-in: hashed passwords, no default password, throttling, disabled accounts, demo accounts, CLI."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import create_engine, text

from core import settings
from core.db import set_meta
from core.trust import auth
from core.trust.audit import list_entries
from core.trust.auth import (
    AccountDisabled,
    AccountLocked,
    AuthError,
    InvalidCredentials,
    authenticate,
    create_user,
    demo_sign_in,
    ensure_demo_users,
    lockout_remaining,
)
from tests._trust_data import build_store, use_fast_hasher

GOOD = "Hotspots-2026!"


@pytest.fixture()
def engine(tmp_path, monkeypatch):
    use_fast_hasher(monkeypatch)
    return build_store(tmp_path / "auth.sqlite")


def test_password_is_stored_as_argon2_hash_never_in_clear(tmp_path):
    # Production parameters here (the other tests use cheap ones for speed).
    engine = build_store(tmp_path / "prod.sqlite")
    create_user(engine, "admin1", GOOD, role="admin")
    with engine.connect() as conn:
        stored = conn.execute(text("select password_hash from users where username='admin1'")).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536")
    assert GOOD not in stored
    assert authenticate(engine, "admin1", GOOD).role == "admin"


@pytest.mark.parametrize("password", ["", "short1!", "onlyletterslong", "admin1"])
def test_weak_or_missing_password_is_refused(engine, password):
    with pytest.raises(ValueError, match="password"):
        create_user(engine, "admin1", password, role="admin")


def test_bad_role_and_missing_hospital_are_named(engine):
    with pytest.raises(ValueError, match="role"):
        create_user(engine, "x1", GOOD, role="root")
    with pytest.raises(ValueError, match="hospital_id"):
        create_user(engine, "x2", GOOD, role="officer")
    with pytest.raises(ValueError, match="不存在"):
        create_user(engine, "x3", GOOD, role="officer", hospital_id="NOPE")


def test_authenticate_returns_role_scope(engine):
    create_user(engine, "cmd", GOOD, role="commander")
    create_user(engine, "off", GOOD, role="officer", hospital_id="H1")
    create_user(engine, "lia", GOOD, role="liaison")
    cmd = authenticate(engine, "cmd", GOOD)
    assert (cmd.role, cmd.hospital_ids, cmd.personal, cmd.can_unmask) == ("commander", None, False, True)
    off = authenticate(engine, "off", GOOD)
    assert off.hospital_ids == frozenset({"H1"}) and off.officer_id == "O1" and not off.can_unmask
    lia = authenticate(engine, "lia", GOOD)
    assert lia.aggregates_only and not lia.personal and not lia.can_unmask


def test_wrong_password_and_unknown_user_get_the_same_message(engine):
    create_user(engine, "cmd", GOOD, role="commander")
    with pytest.raises(InvalidCredentials) as wrong:
        authenticate(engine, "cmd", GOOD + "x")
    with pytest.raises(InvalidCredentials) as unknown:
        authenticate(engine, "nobody", GOOD)
    assert str(wrong.value) == str(unknown.value) == "用户名或密码错误。"


def test_repeated_failures_slow_the_account_even_for_the_right_password(engine):
    create_user(engine, "cmd", GOOD, role="commander")
    t0 = dt.datetime(2026, 11, 1, 9, 0)
    for _i in range(settings.LOGIN_MAX_FAILURES):
        with pytest.raises(InvalidCredentials):
            authenticate(engine, "cmd", "wrong-password-1", now=t0)
    with pytest.raises(AccountLocked, match="放慢") as slowed:
        authenticate(engine, "cmd", GOOD, now=t0 + dt.timedelta(seconds=1))
    # Slowed, not locked out: the wait is bounded by the longest per-user delay.
    assert 0 < slowed.value.retry_after_s <= settings.LOGIN_USER_MAX_DELAY_S
    # The counts live in the database: a second engine (another process) sees them.
    other = create_engine(str(engine.url))
    assert lockout_remaining(other, "cmd", now=t0 + dt.timedelta(seconds=1)) > 0
    other.dispose()
    # Once the delay has passed the right password works and clears the count.
    later = t0 + dt.timedelta(seconds=settings.LOGIN_USER_MAX_DELAY_S + 1)
    assert authenticate(engine, "cmd", GOOD, now=later).role == "commander"
    assert lockout_remaining(engine, "cmd", now=later) == 0
    actions = list_entries(engine)["action"].tolist()
    assert actions.count("signin_failed") == settings.LOGIN_MAX_FAILURES + 1
    assert "lockout" in actions and "signin" in actions


def test_the_delay_grows_but_never_beyond_the_cap(engine):
    t = dt.datetime(2026, 11, 1, 9, 0)
    waits = []
    for _ in range(settings.LOGIN_MAX_FAILURES + 12):
        while True:
            try:
                authenticate(engine, "ghost", "whatever-123", now=t)
            except AccountLocked as exc:
                t += dt.timedelta(seconds=exc.retry_after_s)
                continue
            except InvalidCredentials:
                waits.append(lockout_remaining(engine, "ghost", now=t))
                break
    grown = [w for w in waits if w > 0]
    assert grown == sorted(grown) and len(grown) >= 5  # increasing delay ...
    assert max(grown) <= settings.LOGIN_USER_MAX_DELAY_S  # ... capped: slowing, never a lock-out


def test_unknown_user_names_are_throttled_too(engine):
    t0 = dt.datetime(2026, 11, 1, 9, 0)
    for _ in range(settings.LOGIN_MAX_FAILURES):
        with pytest.raises(InvalidCredentials):
            authenticate(engine, "ghost", "whatever-123", now=t0)
    with pytest.raises(AccountLocked):
        authenticate(engine, "ghost", "whatever-123", now=t0 + dt.timedelta(seconds=1))


def test_twenty_parallel_wrong_attempts_are_all_counted_and_few_are_checked(store_url, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from core.db import get_engine
    from core.db.schema import LoginThrottle

    use_fast_hasher(monkeypatch)
    eng = get_engine(store_url)
    create_user(eng, "cmd", GOOD, role="commander")
    checked = []
    real = auth._HASHER

    class CountingHasher:
        def verify(self, *a):
            checked.append(1)
            return real.verify(*a)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(auth, "_HASHER", CountingHasher())
    now = dt.datetime(2026, 11, 1, 9, 0)

    def attempt(_i):
        try:
            authenticate(eng, "cmd", "wrong-password-1", now=now, source="10.0.0.66")
        except (InvalidCredentials, AccountLocked) as exc:
            return type(exc).__name__
        return "signed in"

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert "signed in" not in outcomes
    with eng.connect() as conn:
        counts = dict(conn.execute(text("SELECT key, failures FROM login_throttle")).all())
    assert counts == {"user:cmd": 20, "source:10.0.0.66": 20}
    # Only the free attempts reached the password check; the others were slowed without a check.
    assert len(checked) == settings.LOGIN_MAX_FAILURES
    assert LoginThrottle.__tablename__ == "login_throttle"


def test_password_spraying_from_one_source_is_slowed(engine):
    t0 = dt.datetime(2026, 11, 1, 9, 0)
    names = [f"user{i:02d}" for i in range(settings.LOGIN_SOURCE_FREE_FAILURES)]
    for name in names:  # one guess per user name: no user name is ever slowed ...
        with pytest.raises(InvalidCredentials):
            authenticate(engine, name, "Spring2026!", now=t0, source="10.9.9.9")
    # ... but the source is.
    with pytest.raises(AccountLocked):
        authenticate(engine, "another", "Spring2026!", now=t0, source="10.9.9.9")
    # Another source is not affected.
    with pytest.raises(InvalidCredentials):
        authenticate(engine, "another", "Spring2026!", now=t0, source="10.1.1.1")


def test_an_administrator_sees_and_clears_the_counts(engine, capsys):
    from core.trust.access import SYSTEM, scope_for_role
    from planning.cli import main

    create_user(engine, "cmd", GOOD, role="commander")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        with pytest.raises(InvalidCredentials):
            authenticate(engine, "cmd", "wrong-password-1", source="10.0.0.5")
    with pytest.raises(PermissionError):
        auth.list_throttles(engine, scope=scope_for_role("commander", username="cmd"))
    df = auth.list_throttles(engine, scope=SYSTEM)
    assert set(df["key"]) == {"user:cmd", "source:10.0.0.5"} and (df["failures"] == 5).all()
    url = str(engine.url)
    assert main(["users", "throttle", "list", "--db", url]) == 0
    assert "user:cmd" in capsys.readouterr().out
    assert main(["users", "throttle", "clear", "user:cmd", "--db", url]) == 0
    assert lockout_remaining(engine, "cmd") == 0
    assert authenticate(engine, "cmd", GOOD).role == "commander"
    assert "throttle_clear" in list_entries(engine)["action"].tolist()


def test_disabled_user_cannot_sign_in(engine):
    create_user(engine, "cmd", GOOD, role="commander")
    auth.disable_user(engine, "cmd", by="admin1")
    with pytest.raises(AccountDisabled, match="停用"):
        authenticate(engine, "cmd", GOOD)
    auth.set_active(engine, "cmd", True)
    assert authenticate(engine, "cmd", GOOD).role == "commander"


def test_password_change_takes_effect(engine):
    create_user(engine, "cmd", GOOD, role="commander")
    auth.set_password(engine, "cmd", "Another-Pass-9")
    with pytest.raises(InvalidCredentials):
        authenticate(engine, "cmd", GOOD)
    assert authenticate(engine, "cmd", "Another-Pass-9").username == "cmd"


def test_demo_accounts_only_on_the_demo_store(engine):
    assert ensure_demo_users(engine) == []
    with pytest.raises(AuthError, match="演示"):
        demo_sign_in(engine, "demo_commander")
    set_meta("demo", "1", engine)
    made = {u.username: u for u in ensure_demo_users(engine)}
    assert set(made) == set(auth.DEMO_ACCOUNTS)
    assert made["demo_officer"].hospital_id == "H1"
    assert demo_sign_in(engine, "demo_liaison").aggregates_only
    # Demo accounts have random passwords: nothing guessable signs in.
    for guess in ("", "demo", "demo_commander", "123456"):
        with pytest.raises(InvalidCredentials):
            authenticate(engine, "demo_commander", guess)
    # A real account is not a demo account.
    create_user(engine, "cmd", GOOD, role="commander")
    with pytest.raises(AuthError):
        demo_sign_in(engine, "cmd")
    # When the store stops being the demo store, one-click sign-in stops too.
    set_meta("demo", "0", engine)
    with pytest.raises(AuthError):
        demo_sign_in(engine, "demo_commander")


# --------------------------------------------------------------------------- CLI


def _cli(monkeypatch, argv, stdin=""):
    from planning.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def test_cli_creates_first_admin_from_stdin_and_lists_users(engine, monkeypatch, capsys):
    db = engine.url.render_as_string(hide_password=False)
    assert _cli(monkeypatch, ["users", "add", "chief", "--role", "admin", "--password-stdin", "--db", db],
                GOOD + "\n") == 0
    assert authenticate(engine, "chief", GOOD).role == "admin"
    assert _cli(monkeypatch, ["users", "add", "off1", "--role", "officer", "--hospital", "H2",
                              "--password-stdin", "--db", db], GOOD + "\n") == 0
    assert authenticate(engine, "off1", GOOD).hospital_ids == frozenset({"H2"})
    capsys.readouterr()
    assert _cli(monkeypatch, ["users", "list", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "chief" in out and "管理员" in out and "off1" in out and "H2" in out
    assert "$argon2" not in out


def test_cli_refuses_missing_or_weak_password_with_one_line(engine, monkeypatch, capsys):
    db = engine.url.render_as_string(hide_password=False)
    assert _cli(monkeypatch, ["users", "add", "chief", "--role", "admin", "--password-stdin", "--db", db], "") == 2
    assert _cli(monkeypatch, ["users", "add", "chief", "--role", "admin", "--password-stdin", "--db", db],
                "123\n") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err
    assert auth.get_user(engine, "chief") is None


def test_cli_disable_blocks_sign_in(engine, monkeypatch):
    create_user(engine, "cmd", GOOD, role="commander")
    assert _cli(monkeypatch, ["users", "disable", "cmd", "--db", engine.url.render_as_string(hide_password=False)]) == 0
    with pytest.raises(AccountDisabled):
        authenticate(engine, "cmd", GOOD)


# --------------------------------------------------------------------------- dashboard sign-in


def _login_app():
    import streamlit as st

    from dashboard.session import require_login

    scope = require_login()
    st.write(f"ROLE={scope.role}")


@pytest.fixture()
def app(engine, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(settings, "DB_URL", engine.url.render_as_string(hide_password=False))
    create_user(engine, "cmd", GOOD, role="commander")
    return AppTest.from_function(_login_app, default_timeout=30)


def _shown(at) -> str:
    return " ".join(str(m.value) for m in at.markdown)


def _sign_in(at, username, password):
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if b.label == "登录").click()
    at.run()


def test_dashboard_shows_only_the_sign_in_form_until_signed_in(app):
    app.run()
    assert not app.exception
    assert "ROLE=" not in _shown(app)
    assert [b.label for b in app.button] == ["登录"]  # no demo accounts outside the demo store


def test_dashboard_sign_in_and_wrong_password(app):
    app.run()
    _sign_in(app, "cmd", "wrong-password-1")
    assert "ROLE=" not in _shown(app)
    assert any("用户名或密码错误" in e.value for e in app.error)
    _sign_in(app, "cmd", GOOD)
    assert not app.exception
    assert "ROLE=commander" in _shown(app)


def test_dashboard_session_expires_after_inactivity(app, engine):
    app.run()
    _sign_in(app, "cmd", GOOD)
    assert "ROLE=commander" in _shown(app)
    # Age the server-side session record (as if the user had been away).
    with engine.begin() as conn:
        conn.execute(text("UPDATE auth_sessions SET last_seen = '2000-01-01 00:00:00'"))
    app.run()
    assert "ROLE=" not in _shown(app)
    assert any("超时" in w.value for w in app.warning)
    assert "signout" in list_entries(engine)["action"].tolist()


def test_dashboard_disabled_user_is_signed_out(app, engine):
    app.run()
    _sign_in(app, "cmd", GOOD)
    auth.disable_user(engine, "cmd")
    app.run()
    assert "ROLE=" not in _shown(app)


def test_dashboard_demo_buttons_only_on_demo_store(app, engine):
    set_meta("demo", "1", engine)
    app.run()
    labels = [b.label for b in app.button]
    assert {"指挥员", "驻院民警", "卫健联络员", "管理员"} <= set(labels)
    next(b for b in app.button if b.label == "卫健联络员").click()
    app.run()
    assert "ROLE=liaison" in _shown(app)
    assert "signin" in list_entries(engine)["action"].tolist()


def _admin_page(engine, monkeypatch, scope):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(settings, "DB_URL", engine.url.render_as_string(hide_password=False))
    at = AppTest.from_file("../dashboard/views/admin.py", default_timeout=30)
    at.session_state["_auth"] = {"scope": scope, "last": 1e18, "display": ""}
    at.run()
    return at


def test_admin_page_lists_users_and_audit_for_admins_only(engine, monkeypatch):
    from core.trust.access import scope_for_role

    create_user(engine, "cmd", GOOD, role="commander")
    at = _admin_page(engine, monkeypatch, scope_for_role("admin", username="adm"))
    assert not at.exception and not at.error
    assert "cmd" in at.dataframe[0].value["用户名"].tolist()
    next(b for b in at.button if b.label.startswith("生成审计记录导出")).click()
    at.run()
    assert not at.exception
    assert list_entries(engine, limit=1).iloc[0]["action"] == "audit_export"
    denied = _admin_page(engine, monkeypatch, scope_for_role("liaison", username="lia"))
    assert denied.error and "权限不足" in denied.error[0].value
    assert not denied.dataframe


def test_cli_without_terminal_or_stdin_flag_asks_for_password_stdin(engine, monkeypatch, capsys):
    assert _cli(monkeypatch, ["users", "add", "chief", "--role", "admin", "--db", engine.url.render_as_string(hide_password=False)], GOOD + "\n") == 2
    assert "--password-stdin" in capsys.readouterr().err
    assert auth.get_user(engine, "chief") is None


def test_cli_end_to_end_in_a_real_process(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "HOSPITAL_HOTSPOTS_DB": f"sqlite:///{tmp_path / 'cli.sqlite'}",
           "HOSPITAL_HOTSPOTS_VAR": str(tmp_path), "PYTHONPATH": str(root)}
    run = [sys.executable, "-m", "planning"]
    add = subprocess.run([*run, "users", "add", "chief", "--role", "admin", "--password-stdin"], input=GOOD + "\n",
                         capture_output=True, text=True, env=env, cwd=root, timeout=120)
    assert add.returncode == 0, add.stderr
    assert "已创建用户 chief" in add.stdout
    from core.db import get_engine

    assert authenticate(get_engine(env["HOSPITAL_HOTSPOTS_DB"]), "chief", GOOD).role == "admin"
