"""Serve the dashboard with browser-bound sessions: ``python -m dashboard.serve [--host H] [--port P]``.

Streamlit's own ``st.login`` keeps its identity in a cookie set by an HTTP route of the server
(``/oauth2callback``), because only an HTTP response can set an HttpOnly cookie; a websocket message cannot.
This launcher does the same for local passwords: it wraps the dashboard in Streamlit's ASGI application
(``st.App``, Streamlit 1.67 serves through Starlette/uvicorn) and adds

* ``GET /auth/exchange?code=…[&next=/page]``: turns the one-time code a sign-in inside the app produced
  (:func:`core.trust.sessions.issue_code`) into the session cookie ``settings.SESSION_COOKIE`` (HttpOnly,
  SameSite=Strict, Secure when the request came by HTTPS or ``SESSION_COOKIE_SECURE``) and redirects;
* ``GET /auth/logout``: ends the session in the store and deletes the cookie; for a single sign-on user (an
  ``st.login`` identity cookie, :mod:`core.trust.sso`) it also does what Streamlit's own route of that path does
  (clear the identity cookies, go to the identity provider's end-session endpoint);
* a middleware refusing ``/media/…`` (downloads, images) and ``/_stcore/upload_file/…`` to requests without a
  live session cookie, so an exported file's URL is useless outside a signed-in browser; and serving a media file
  only to the session that made it (:class:`MediaOwners`, filled by :func:`bind_media`), so another signed-in
  user's cookie gets 404 for it;
* a Chinese error page for uncaught script errors (no English traceback, no outside links).

It sets ``settings.SESSION_COOKIE_REQUIRED``: every rerun then checks the cookie (:mod:`dashboard.session`).
See docs/deployment_trust.md (reverse proxy with TLS, single sign-on).
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
from collections.abc import Callable
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse, RedirectResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from core import settings  # noqa: E402

APP_SCRIPT = Path(__file__).resolve().parent / "app.py"
#: Paths only a signed-in browser may fetch.
GUARDED = ("/media/", "/_stcore/upload_file/")


def _public_media() -> frozenset[str]:
    """The media URLs every visitor may fetch: the tab icon, shown before sign-in (not data)."""
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    icon = (Path(__file__).resolve().parent / "static" / "favicon.png").read_bytes()
    # Streamlit names a media file by the hash of its bytes and type; the page icon has no file name.
    return frozenset({f"/media/{_calculate_file_id(icon, 'image/png')}.png"})


PUBLIC_MEDIA = _public_media()


def _engine():
    from core.db import get_engine

    return get_engine(settings.DB_URL)


def media_file_id(path: str) -> str:
    """The media file id of a ``/media/<id>.<ext>`` path or URL (Streamlit's storage key)."""
    return path.rsplit("/", 1)[-1].split("?", 1)[0].split(".", 1)[0]


class MediaOwners:
    """Which server-side sessions made each media file (file id -> session ids, see :func:`bind_media`).

    Streamlit names a media file by the hash of its bytes, type and file name, so two sessions that produce the
    same bytes share one file id; both then own it (each made it). A file nobody is recorded for is served to
    nobody (a deferred download, a file added outside a script run): the guard fails closed.
    """

    #: Above this many recorded files, entries whose file Streamlit has already deleted are dropped.
    PRUNE_ABOVE = 512

    def __init__(self) -> None:
        self._owners: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def add(self, file_id: str, session_id: str, *, alive: Callable[[str], bool] | None = None) -> None:
        """Record that ``session_id`` made ``file_id``; prune files ``alive`` says are gone when many are kept."""
        with self._lock:
            self._owners.setdefault(file_id, set()).add(session_id)
            if alive is not None and len(self._owners) > self.PRUNE_ABOVE:
                for fid in [f for f in self._owners if f != file_id and not alive(f)]:
                    del self._owners[fid]

    def owns(self, file_id: str, session_id: str) -> bool:
        """Whether ``session_id`` made ``file_id``."""
        with self._lock:
            return session_id in self._owners.get(file_id, ())

    def __len__(self) -> int:
        with self._lock:
            return len(self._owners)


#: The owners of the media files of this server process.
OWNERS = MediaOwners()


def _script_token() -> str | None:
    """The session token of the browser whose script run is adding a media file (None outside a run)."""
    from dashboard.session import browser_token

    return browser_token()


def bind_media(manager, owners: MediaOwners = OWNERS, token_of: Callable[[], str | None] = _script_token) -> None:
    """Record the making session of every file ``manager`` (Streamlit's ``MediaFileManager``) stores.

    ``MediaFileManager.add`` runs in the script thread of the browser session that renders a download button or
    an image; it is wrapped (once) so the file id it returns is recorded in ``owners`` for the server session of
    that browser's cookie (``token_of``). Idempotent.
    """
    from core.trust.sessions import token_id

    if getattr(manager.add, "_hh_bound", False):
        return
    original = manager.add

    def alive(file_id: str) -> bool:
        return manager.read_file(file_id) is not None if manager.can_read_files else True

    @functools.wraps(original)
    def add(*args, **kwargs):
        url = original(*args, **kwargs)
        token = token_of()
        if token:
            owners.add(media_file_id(url), token_id(token), alive=alive)
        return url

    add._hh_bound = True  # type: ignore[attr-defined]
    manager.add = add


def _bind_runtime_media() -> None:
    """:func:`bind_media` on the running Streamlit runtime's media manager (no-op before it exists)."""
    from streamlit import runtime

    if runtime.exists():
        bind_media(runtime.get_instance().media_file_mgr)


def safe_next(value: str | None) -> str:
    """A same-site path to go to after sign-in (anything else, e.g. ``//evil.example``, becomes ``/``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or "\n" in value:
        return "/"
    return value


def _secure(request: Request) -> bool:
    return bool(settings.SESSION_COOKIE_SECURE) or request.url.scheme == "https" or (
        request.headers.get("x-forwarded-proto", "") == "https"
    )


async def exchange(request: Request) -> Response:
    """Set the session cookie from a one-time code, then redirect (to ``next`` or the start page)."""
    from core.trust import sessions

    token = sessions.redeem_code(request.query_params.get("code"))
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    if token is None:
        return response
    info = await run_in_threadpool(sessions.resolve, _engine(), token)
    if info is None:
        return response
    response.set_cookie(
        settings.SESSION_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/",
        max_age=int((info.expires_at - info.created_at).total_seconds()),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


#: Streamlit's identity cookie of ``st.login`` (single sign-on, :mod:`core.trust.sso`).
SSO_COOKIE = "_streamlit_user"


async def _sso_logout(request: Request) -> Response | None:
    """Streamlit's own ``/auth/logout`` response (clears its identity cookies, goes to the IdP's end-session
    endpoint), which this module's route of the same path shadows; None when it is not available."""
    try:
        from streamlit.web.server.starlette.starlette_auth_routes import _auth_logout
    except ImportError:  # pragma: no cover - another Streamlit layout
        return None
    return await _auth_logout(request, "")


async def logout(request: Request) -> Response:
    """End the session of the cookie everywhere and delete the cookie (and a single sign-on identity)."""
    from core.trust import sessions

    token = request.cookies.get(settings.SESSION_COOKIE)
    await run_in_threadpool(sessions.end, _engine(), token, "退出登录")
    response = None
    if SSO_COOKIE in request.cookies:  # st.logout() of a single sign-on user lands here too
        response = await _sso_logout(request)
    if response is None:
        response = RedirectResponse("/", status_code=303)
    response.delete_cookie(settings.SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


class SessionGuard:
    """ASGI middleware: downloads and uploads only for a browser with a live session cookie, and a media file
    (download, image) only for the session that made it (``owners``).

    On its first call it binds the Streamlit runtime's media manager to ``owners`` (:func:`bind_media`); pass
    ``bind`` to bind another manager (tests).
    """

    def __init__(self, app, owners: MediaOwners = OWNERS, bind: Callable[[], None] | None = None) -> None:
        self.app = app
        self.owners = owners
        self._bind = bind or _bind_runtime_media
        self._bound = False

    async def __call__(self, scope, receive, send) -> None:
        if not self._bound:
            self._bind()
            self._bound = True
        if scope["type"] == "http" and scope["path"].startswith(GUARDED) and scope["path"] not in PUBLIC_MEDIA:
            from core.trust import sessions

            token = Request(scope).cookies.get(settings.SESSION_COOKIE)
            info = await run_in_threadpool(sessions.resolve, _engine(), token)
            if info is None:
                await PlainTextResponse("未登录或会话已结束，无法下载。", status_code=403)(scope, receive, send)
                return
            if scope["path"].startswith("/media/") and not self.owners.owns(media_file_id(scope["path"]), info.id):
                await PlainTextResponse("文件不存在，或不是本会话生成的。", status_code=404)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def on_script_error(exc: Exception) -> bool:
    """Show the Chinese error page instead of Streamlit's English one (see :mod:`dashboard.errors`)."""
    from dashboard.errors import show_error_page

    show_error_page(exc)
    return True


def build_app():
    """The ASGI application: the dashboard plus the routes and middleware above."""
    import streamlit as st

    settings.SESSION_COOKIE_REQUIRED = True
    return st.App(
        str(APP_SCRIPT),
        routes=[Route("/auth/exchange", exchange, methods=["GET"]), Route("/auth/logout", logout, methods=["GET"])],
        middleware=[Middleware(SessionGuard)],
        on_script_error=on_script_error,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the dashboard with uvicorn."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m dashboard.serve", description="启动看板（会话绑定浏览器）")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8501)
    args = parser.parse_args(argv)
    from dashboard.ui import start_preload

    start_preload()  # imports and default analyses before the first user arrives, not on their first page
    # No per-request access log here (the reverse proxy in front keeps one; sign-ins and exports are audited).
    uvicorn.run(build_app(), host=args.host, port=args.port, proxy_headers=True, forwarded_allow_ips="127.0.0.1",
                access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
