"""Sessions bound to the browser (issue 11): a replayed Streamlit session without the cookie gets the sign-in form,
a reload keeps the session, sign-out and expiry end it everywhere, the cookie is HttpOnly and SameSite=Strict."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from core import settings
from core.trust import sessions
from core.trust.auth import create_user, disable_user
from tests._trust_data import build_store, use_fast_hasher

GOOD = "Zhihui-2026!x"


@pytest.fixture()
def engine(tmp_path, monkeypatch):
    use_fast_hasher(monkeypatch)
    engine = build_store(tmp_path / "s.sqlite")
    create_user(engine, "cmd", GOOD, role="commander")
    monkeypatch.setattr(settings, "DB_URL", str(engine.url))
    return engine


def _app():
    import streamlit as st

    from dashboard.session import require_login

    scope = require_login()
    st.write(f"ROLE={scope.role}")


def _browser(monkeypatch, cookie: dict) -> AppTest:
    """An AppTest run in bound mode whose websocket request carried ``cookie``."""
    import dashboard.session as ds

    monkeypatch.setattr(settings, "SESSION_COOKIE_REQUIRED", True)
    monkeypatch.setattr(ds, "browser_token", lambda: cookie.get(settings.SESSION_COOKIE))
    at = AppTest.from_function(_app, default_timeout=30)
    return at


def _shown(at) -> str:
    return " ".join(str(m.value) for m in at.markdown)


def test_records_expire_idle_and_end_everywhere(engine):
    token = sessions.create(engine, "cmd")
    assert sessions.resolve(engine, token).username == "cmd"
    assert sessions.resolve(engine, "forged-token") is None
    later = sessions._now() + dt.timedelta(minutes=settings.SESSION_TIMEOUT_MIN + 1)
    assert sessions.resolve(engine, token, now=later) is None  # idle
    assert sessions.resolve(engine, token) is None  # and it stays ended
    t2 = sessions.create(engine, "cmd", hours=1)
    assert sessions.resolve(engine, t2, now=sessions._now() + dt.timedelta(hours=1, seconds=1)) is None
    t3, t4 = sessions.create(engine, "cmd"), sessions.create(engine, "cmd")
    assert sessions.end_all(engine, "cmd") == 2
    assert sessions.resolve(engine, t3) is None and sessions.resolve(engine, t4) is None
    t5 = sessions.create(engine, "cmd")
    disable_user(engine, "cmd")
    assert sessions.resolve(engine, t5) is None
    with engine.connect() as conn:  # only hashes are stored, never the token
        ids = set(conn.execute(text("SELECT id FROM auth_sessions")).scalars())
    assert token not in ids and len(ids) == 5


def test_a_display_session_is_read_only_and_time_limited(engine, monkeypatch):
    token = sessions.issue_display(engine, by="cmd", hours=2)
    info = sessions.resolve(engine, token)
    assert info.kind == "display"
    # No idle timeout on the wall screen, but the set time ends it.
    assert sessions.resolve(engine, token, now=sessions._now() + dt.timedelta(hours=1)) is not None
    assert sessions.resolve(engine, token, now=sessions._now() + dt.timedelta(hours=2, minutes=1)) is None
    token = sessions.issue_display(engine, by="cmd", hours=2)
    at = _browser(monkeypatch, {settings.SESSION_COOKIE: token})
    at.run()
    assert "ROLE=commander" in _shown(at)
    assert at.session_state["_session_kind"] == "display"  # allowed_pages then offers the meeting screen only
    assert not [b for b in at.sidebar.button if b.label == "签发"]  # a display cannot issue more sessions


def test_a_replayed_session_without_the_cookie_gets_the_sign_in_form(engine, monkeypatch):
    token = sessions.create(engine, "cmd")
    # The attacker's websocket carries no cookie, even with the victim's token planted in the Streamlit session.
    at = _browser(monkeypatch, {})
    at.session_state["_session_token"] = token
    at.session_state["_auth"] = {"scope": None, "display": "", "kind": "user"}
    at.run()
    assert "ROLE=" not in _shown(at)
    assert any(b.label == "登录" for b in at.button)
    # The owner's browser (with the cookie) is unaffected.
    owner = _browser(monkeypatch, {settings.SESSION_COOKIE: token})
    owner.run()
    assert "ROLE=commander" in _shown(owner)


def test_reload_keeps_the_session_and_sign_out_ends_it_everywhere(engine, monkeypatch):
    token = sessions.create(engine, "cmd")
    cookie = {settings.SESSION_COOKIE: token}
    tab1 = _browser(monkeypatch, cookie)
    tab1.run()
    assert "ROLE=commander" in _shown(tab1)
    reloaded = _browser(monkeypatch, cookie)  # F5 / a deep link: a new Streamlit session, same cookie
    reloaded.run()
    assert "ROLE=commander" in _shown(reloaded)
    next(b for b in tab1.sidebar.button if b.label == "退出登录").click()
    tab1.run()
    reloaded.run()
    assert "ROLE=" not in _shown(reloaded)


def test_sign_in_in_bound_mode_hands_the_session_over_by_a_one_time_code(engine, monkeypatch):
    at = _browser(monkeypatch, {})
    at.run()
    at.text_input(key="login_username").input("cmd")
    at.text_input(key="login_password").input(GOOD)
    next(b for b in at.button if b.label == "登录").click()
    at.run()
    assert "ROLE=" not in _shown(at)  # not signed in inside Streamlit: only the cookie signs in
    assert any("登录成功" in s.value for s in at.success)


def _request(path: str, query: str = "", cookie: str = "", scheme: str = "http"):
    from starlette.requests import Request

    headers = [(b"host", b"dash.local")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return Request({"type": "http", "method": "GET", "path": path, "query_string": query.encode(),
                    "headers": headers, "scheme": scheme, "server": ("dash.local", 80), "root_path": ""})


def test_the_exchange_route_sets_an_httponly_strict_cookie_once(engine):
    from dashboard.serve import exchange, logout

    token = sessions.create(engine, "cmd")
    code = sessions.issue_code(token)
    resp = asyncio.run(exchange(_request("/auth/exchange", f"code={code}&next=/map", scheme="https")))
    assert resp.status_code == 303 and resp.headers["location"] == "/map"
    cookie = resp.headers["set-cookie"]
    assert f"{settings.SESSION_COOKIE}={token}" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    again = asyncio.run(exchange(_request("/auth/exchange", f"code={code}")))  # a code works once
    assert "set-cookie" not in again.headers
    evil = asyncio.run(exchange(_request("/auth/exchange", "code=x&next=//evil.example/")))
    assert evil.headers["location"] == "/"  # no open redirect
    out = asyncio.run(logout(_request("/auth/logout", cookie=f"{settings.SESSION_COOKIE}={token}")))
    assert out.status_code == 303 and sessions.resolve(engine, token) is None


def test_downloads_need_a_live_session_cookie(engine):
    from dashboard.serve import MediaOwners, SessionGuard

    sent = []

    async def inner(scope, receive, send):
        sent.append("served")

    async def send(message):
        if message["type"] == "http.response.start":
            sent.append(message["status"])

    async def receive():
        return {"type": "http.request"}

    owners = MediaOwners()
    guard = SessionGuard(inner, owners=owners, bind=lambda: None)
    token = sessions.create(engine, "cmd")
    owners.add("abc123", sessions.token_id(token))
    for cookie, expected in (("", 403), (f"{settings.SESSION_COOKIE}=forged", 403),
                             (f"{settings.SESSION_COOKIE}={token}", "served")):
        sent.clear()
        scope = _request("/media/abc123.csv", cookie=cookie).scope
        asyncio.run(guard(scope, receive, send))
        assert sent[0] == expected


@pytest.fixture()
def media_server(engine):
    """Streamlit's real media route and file manager behind :class:`SessionGuard`, served by uvicorn over HTTP.

    ``server.browser`` names the browser session whose script run is adding files (the token its cookie holds).
    """
    import socket
    import threading
    import time
    from types import SimpleNamespace

    import uvicorn
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.web.server.starlette.starlette_routes import create_media_routes

    from dashboard.serve import MediaOwners, SessionGuard, bind_media

    storage = MemoryMediaFileStorage("/media")
    manager = MediaFileManager(storage)
    owners = MediaOwners()
    state = SimpleNamespace(browser=None, manager=manager, owners=owners)
    bind_media(manager, owners, token_of=lambda: state.browser)
    app = Starlette(routes=create_media_routes(storage, None),
                    middleware=[Middleware(SessionGuard, owners=owners, bind=lambda: None)])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    state.base = f"http://127.0.0.1:{port}"
    yield state
    server.should_exit = True
    thread.join(timeout=10)


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url)
    if token:
        req.add_header("Cookie", f"{settings.SESSION_COOKIE}={token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_an_export_is_served_only_to_the_session_that_made_it(engine, media_server):
    """Two signed-in users: neither can fetch the other's export by its URL; signed out, nobody can."""
    create_user(engine, "liaison", GOOD, role="liaison")
    mine, theirs = sessions.create(engine, "cmd"), sessions.create(engine, "liaison")
    media_server.browser = mine  # the commander's page renders a download button
    body = "医院,警情数\n甲医院,12\n".encode()
    url = media_server.base + media_server.manager.add(body, "text/csv", "1.(2).3", file_name="警情.csv",
                                                       is_for_static_download=True)
    media_server.browser = theirs
    other = media_server.base + media_server.manager.add(b"officer plan", "text/plain", "1.(4).1",
                                                         file_name="plan.txt", is_for_static_download=True)

    assert _get(url, mine) == (200, body)
    status, leaked = _get(url, theirs)  # another live session's cookie
    assert status == 404 and body not in leaked
    assert _get(url)[0] == 403  # a signed-out browser
    assert _get(other, theirs)[0] == 200 and _get(other, mine)[0] == 404
    # Identical bytes made by the second session too: it made them, so it may fetch them.
    media_server.manager.add(body, "text/csv", "9.(9).9", file_name="警情.csv", is_for_static_download=True)
    assert _get(url, theirs) == (200, body)
    # Signing out ends the owner's access as well.
    sessions.end(engine, mine)
    assert _get(url, mine)[0] == 403


def test_files_added_outside_a_signed_in_run_are_served_to_nobody(engine, media_server):
    token = sessions.create(engine, "cmd")
    media_server.browser = None  # e.g. a deferred download executed outside the script run
    url = media_server.base + media_server.manager.add(b"x,y\n", "text/csv", "1", file_name="a.csv",
                                                       is_for_static_download=True)
    assert _get(url, token)[0] == 404
