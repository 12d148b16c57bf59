"""Serve the dashboard with browser-bound sessions: ``python -m dashboard.serve [--host H] [--port P]``.

Streamlit's own ``st.login`` keeps its identity in a cookie set by an HTTP route of the server
(``/oauth2callback``), because only an HTTP response can set an HttpOnly cookie; a websocket message cannot.
This launcher does the same for local passwords: it wraps the dashboard in Streamlit's ASGI application
(``st.App``, Streamlit 1.67 serves through Starlette/uvicorn) and adds

* ``GET /auth/exchange?code=…[&next=/page]``: turns the one-time code a sign-in inside the app produced
  (:func:`core.trust.sessions.issue_code`) into the session cookie ``settings.SESSION_COOKIE`` (HttpOnly,
  SameSite=Strict, Secure when the request came by HTTPS or ``SESSION_COOKIE_SECURE``) and redirects;
* ``GET /auth/logout``: ends the session in the store and deletes the cookie;
* a middleware refusing ``/media/…`` (downloads, images) and ``/_stcore/upload_file/…`` to requests without a
  live session cookie, so an exported file's URL is useless outside a signed-in browser;
* a Chinese error page for uncaught script errors (no English traceback, no outside links).

It sets ``settings.SESSION_COOKIE_REQUIRED``: every rerun then checks the cookie (:mod:`dashboard.session`).
See docs/deployment_trust.md (reverse proxy with TLS, single sign-on).
"""

from __future__ import annotations

import argparse
import sys
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


async def logout(request: Request) -> Response:
    """End the session of the cookie everywhere and delete the cookie."""
    from core.trust import sessions

    token = request.cookies.get(settings.SESSION_COOKIE)
    await run_in_threadpool(sessions.end, _engine(), token, "退出登录")
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(settings.SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


class SessionGuard:
    """ASGI middleware: downloads and uploads only for a browser with a live session cookie."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(GUARDED) and scope["path"] not in PUBLIC_MEDIA:
            from core.trust import sessions

            token = Request(scope).cookies.get(settings.SESSION_COOKIE)
            if await run_in_threadpool(sessions.resolve, _engine(), token) is None:
                await PlainTextResponse("未登录或会话已结束，无法下载。", status_code=403)(scope, receive, send)
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
    uvicorn.run(build_app(), host=args.host, port=args.port, proxy_headers=True, forwarded_allow_ips="127.0.0.1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
