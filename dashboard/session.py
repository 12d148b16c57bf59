"""Sign-in for the dashboard, bound to the browser by a server-side session and an HttpOnly cookie (issue 11).

``require_login()`` shows a Chinese sign-in form until the browser holds a live session, then returns the user's
:class:`~core.trust.access.AccessScope`. On **every rerun** the session token is checked against the store
(:func:`core.trust.sessions.resolve`): an ended, expired, idle or disabled session shows the sign-in form again.

*Bound mode* (``settings.SESSION_COOKIE_REQUIRED``, set by ``python -m dashboard.serve``): the token is read only
from the cookie the browser sent with the websocket request (``st.context.cookies``), never from Streamlit's
session state. A replayed Streamlit session id over a new websocket carries no cookie, so it gets the sign-in
form; a reload or a deep link sends the cookie again, so the session continues. A sign-in inside the app creates
the server session and hands it to the browser through a one-time code and the HTTP route ``/auth/exchange``,
which sets the cookie (HttpOnly, SameSite=Strict, Secure behind TLS) and redirects back.

*Development mode* (plain ``streamlit run dashboard/app.py``, AppTest): the same server-side sessions, with the
token kept in the Streamlit session (not bound to the browser; do not deploy this way).

Sign-out ends the session in the store, so it ends in every tab at once. Commanders can issue a read-only
meeting-display session (会商大屏) for a set number of hours. One-click demo accounts are offered only on a demo
store. ``allowed_pages(scope)`` lists the page keys of a role (a display session: the meeting screen only).
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from core import settings
from core.trust.access import ROLES, AccessScope
from dashboard import registry
from dashboard.safe import md

#: Access names of the dashboard's pages, from the one page registry (dashboard/registry.py).
PAGES = frozenset(p.access for p in registry.PAGES)
#: The file stems under which some of these pages live in dashboard/views/ (access name -> key).
ALIASES = {p.access: p.key for p in registry.PAGES if p.access != p.key}
#: Pages per role (指挥员 everything operational, 驻院民警 own hospital, 卫健联络员 statistics,
#: 管理员 users, settings and imports).
ROLE_PAGES: dict[str, frozenset[str]] = {
    "commander": frozenset({"overview", "map", "hotspots", "keylist", "plan", "evaluation", "meeting", "persons"}),
    "officer": frozenset({"overview", "map", "hotspots", "plan", "today", "persons"}),
    "liaison": frozenset({"overview", "keylist", "evaluation", "persons"}),
    "admin": frozenset({"overview", "import", "admin"}),
}

_TOKEN = "_session_token"  # development mode only
_KIND = "_session_kind"
_MESSAGE = "_auth_message"
_STATE = "_auth"
_SSO_SEEN = "_sso_seen"


def allowed_pages(scope: AccessScope) -> set[str]:
    """Page keys ``scope`` may open (with their file-stem aliases, e.g. ``hotspots`` and ``analysis``)."""
    keys = {"meeting"} if st.session_state.get(_KIND) == "display" else set(ROLE_PAGES.get(scope.role, frozenset()))
    return keys | {ALIASES[k] for k in keys if k in ALIASES}


def _engine():
    from core.db import get_engine

    return get_engine(settings.DB_URL)


def _bound() -> bool:
    return bool(settings.SESSION_COOKIE_REQUIRED)


def browser_token() -> str | None:
    """The session token this rerun may use: the cookie (bound mode) or the Streamlit session's (development)."""
    if _bound():
        try:
            value = st.context.cookies.get(settings.SESSION_COOKIE)
        except Exception:
            return None
        return value if isinstance(value, str) else None
    return st.session_state.get(_TOKEN)


def _source() -> str:
    try:
        return str(st.context.ip_address or "")
    except Exception:
        return ""


def sso_config():
    """The single sign-on configuration of ``.streamlit/secrets.toml`` (:mod:`core.trust.sso`), or None.

    Raises ``ValueError`` (Chinese reasons) when ``[auth.bureau]`` is configured incompletely.
    """
    from streamlit.runtime.secrets import secrets_singleton

    from core.trust.sso import config_from_secrets

    try:
        if not secrets_singleton.load_if_toml_exists():
            return None
    except Exception:
        return None
    return config_from_secrets(secrets_singleton)


def _sso_claims() -> dict | None:
    """The identity provider's claims of this browser (``st.user`` after ``st.login``), or None."""
    try:
        return dict(st.user.to_dict()) if st.user.is_logged_in else None
    except Exception:
        return None


def sign_out(reason: str = "退出登录") -> None:
    """End this browser's session in the store (every tab and websocket at once), and the IdP identity."""
    from core.trust import sessions

    sessions.end(_engine(), browser_token(), reason)
    st.session_state.pop(_TOKEN, None)
    st.session_state.pop(_STATE, None)
    if _sso_claims() is not None:
        st.session_state.pop(_SSO_SEEN, None)
        st.logout()  # drops Streamlit's identity cookie, or the next sign-in form would sign straight back in


def _scope_of_session() -> AccessScope | None:
    """The scope of this browser's live session, or None."""
    from core.trust import sessions
    from core.trust.auth import get_user, scope_for

    engine = _engine()
    token = browser_token()
    info = sessions.resolve(engine, token)
    if info is None:
        if token:
            st.session_state[_MESSAGE] = "会话已结束（已退出、超时或到期），请重新登录。"
        st.session_state.pop(_STATE, None)
        st.session_state.pop(_KIND, None)
        return None
    user = get_user(engine, info.username)
    if user is None:
        return None
    scope = scope_for(user)
    if info.kind == "display":
        scope = dataclasses.replace(scope, personal=False)
    elif info.personal and scope.can_unmask:
        scope = dataclasses.replace(scope, personal=True)
    st.session_state[_KIND] = info.kind
    st.session_state[_STATE] = {"scope": scope, "display": user.display_name or "", "kind": info.kind}
    return scope


def _start_session(username: str) -> None:
    """Create the server session; hand it to the browser (bound mode) or keep it in this session (development)."""
    from core.trust import sessions

    token = sessions.create(_engine(), username)
    st.session_state.pop(_MESSAGE, None)
    if _bound():
        code = sessions.issue_code(token)
        st.success("登录成功。")
        st.link_button("进入系统", f"/auth/exchange?code={code}", type="primary")
        st.caption("如未自动进入，请在 60 秒内点击上方按钮。")
        st.stop()
    st.session_state[_TOKEN] = token
    st.rerun()


def _login_form() -> None:
    from core.db import is_demo
    from core.trust.auth import AuthError, authenticate, demo_sign_in, ensure_demo_users, has_users

    engine = _engine()
    st.title("医院周边警情研判与巡防排班")
    st.subheader("用户登录")
    if st.session_state.get(_MESSAGE):
        st.warning(st.session_state[_MESSAGE])
    demo = is_demo(engine)
    if not demo and not has_users(engine):
        st.info("系统尚未创建任何用户。请管理员在服务器上运行：`python -m planning users add 用户名 --role admin`")
    _sso_block(engine)
    with st.form("login_form"):
        username = st.text_input("用户名", key="login_username")
        password = st.text_input("密码", type="password", key="login_password")
        submitted = st.form_submit_button("登录", type="primary")
    if submitted:
        try:
            scope = authenticate(engine, username, password, source=_source())
        except AuthError as exc:
            st.error(str(exc))
        else:
            _start_session(scope.username)
    if demo:
        st.divider()
        st.markdown("**演示模式**（当前为合成演示数据，非真实警情）：可一键以演示账户进入。")
        accounts = ensure_demo_users(engine)
        cols = st.columns(max(len(accounts), 1))
        for col, info in zip(cols, accounts, strict=False):
            if col.button(f"{ROLES[info.role]}", key=f"demo_{info.username}", width="stretch"):
                try:
                    scope = demo_sign_in(engine, info.username)
                except AuthError as exc:
                    st.error(str(exc))
                else:
                    _start_session(scope.username)


def _sso_block(engine) -> None:
    """The single sign-on button; after the IdP's sign-in, the mapped local user's session (or why not)."""
    from core.trust.sso import map_identity

    try:
        config = sso_config()
    except ValueError as exc:
        st.error(md(exc))
        return
    if config is None:
        return
    claims = _sso_claims()
    if claims is None:
        st.button(config.label, key="login_sso", type="primary", on_click=st.login, args=(config.provider,))
        st.caption("或使用本系统账户和密码登录：")
        return
    seen = st.session_state.get(_SSO_SEEN)
    if seen is None:  # map (and audit) once per sign-in, not on every rerun of the form
        result = map_identity(engine, claims, config, source=_source())
        seen = st.session_state[_SSO_SEEN] = {"username": result.username, "message": result.message}
    if seen["username"]:
        _start_session(seen["username"])
        return
    st.warning(md(seen["message"]))
    st.button("换一个统一身份认证账户", key="login_sso_out", on_click=st.logout)


def _user_box(scope: AccessScope) -> None:
    """Sidebar: who is signed in, unmasking for roles that may, meeting-display sessions, sign-out."""
    from core.trust import sessions
    from core.trust.disclosure import unmask

    state = st.session_state[_STATE]
    sb = st.sidebar
    name = state.get("display") or scope.username
    where = ""
    if scope.hospital_ids and len(scope.hospital_ids) == 1:
        from dashboard import data

        hid = next(iter(scope.hospital_ids))
        known = data.hospitals(scope)
        # The hospital by its name, as everywhere a person reads it (the id only if the store lacks it).
        where = f" · {dict(zip(known['hospital_id'], known['name'], strict=True)).get(hid, f'医院 {hid}')}"
    kind = "，会商大屏只读" if state.get("kind") == "display" else ""
    sb.caption(f"当前用户：{md(name)}（{scope.role_label}{md(where)}{kind}）")
    token = browser_token()
    if state.get("kind") != "display" and scope.can_unmask:
        if scope.personal:
            sb.warning("个人信息已显示（已记录审计）")
            if sb.button("恢复脱敏显示", key="auth_mask"):
                sessions.set_personal(_engine(), token, False)
                st.rerun()
        else:
            with sb.expander("查看个人信息（需填写事由）"):
                reason = st.text_input("事由", key="auth_unmask_reason")
                if st.button("显示个人信息", key="auth_unmask"):
                    try:
                        unmask(scope, reason=reason, engine=_engine())
                    except (ValueError, PermissionError) as exc:
                        st.error(md(exc))
                    else:
                        sessions.set_personal(_engine(), token, True)
                        st.rerun()
    if state.get("kind") != "display" and scope.role == "commander":
        with sb.expander("会商大屏只读会话"):
            hours = st.number_input("有效时长（小时）", 1.0, 24.0, float(settings.DISPLAY_SESSION_HOURS), key="disp_h")
            if st.button("签发", key="disp_issue"):
                code = sessions.issue_code(sessions.issue_display(_engine(), by=scope.username, hours=hours))
                st.code(f"/auth/exchange?code={code}&next=/meeting")
                st.caption("请在 60 秒内在大屏浏览器中打开上述地址（仅能使用一次）。")
    if sb.button("退出登录", key="auth_signout"):
        sign_out()
        st.rerun()


def current_scope() -> AccessScope:
    """The scope of the signed-in user of this session (for page modules).

    Raises
    ------
    PermissionError
        When nobody is signed in (never falls back to an unrestricted scope).
    """
    state = st.session_state.get(_STATE)
    if not state:
        raise PermissionError("未登录：请先登录。")
    return state["scope"]


def require_login() -> AccessScope:
    """Return the signed-in user's scope (checked against the store on every rerun), or show the sign-in form."""
    scope = _scope_of_session()
    if scope is None:
        _login_form()
        st.stop()
    _user_box(scope)
    return st.session_state[_STATE]["scope"]
