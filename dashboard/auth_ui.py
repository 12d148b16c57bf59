"""Sign-in for the dashboard and the pages each role may open.

``require_login()`` shows a Chinese sign-in form until the user has signed in, then returns
their :class:`~core.trust.access.AccessScope`. Sessions expire after ``settings.SESSION_TIMEOUT_MIN``
minutes without activity; failed attempts are throttled by :func:`core.trust.auth.authenticate`
(stored in the database, so a new browser tab does not reset them). One-click demo accounts
are offered only while the store holds the synthetic demo (:func:`core.db.is_demo`).
Sign-ins, sign-outs, expiries and unmasking are written to the audit trail.

``allowed_pages(scope)`` lists the page keys of a role; pages not in it are not registered in
the navigation at all (and the data functions refuse what the role may not see anyway).
"""

from __future__ import annotations

import time

import streamlit as st

from core import settings
from core.trust.access import ROLES, AccessScope

#: Page keys of the dashboard (see the module docstring of dashboard/app.py).
PAGES = frozenset({"overview", "map", "hotspots", "keylist", "plan", "evaluation", "import", "meeting", "admin"})
#: Other names under which the dashboard files some of these pages (file stems in dashboard/views/).
ALIASES = {"hotspots": "analysis", "keylist": "hospitals", "meeting": "screen"}
#: Pages per role (指挥员 everything operational, 驻院民警 own hospital, 卫健联络员 statistics,
#: 管理员 users, settings and imports).
ROLE_PAGES: dict[str, frozenset[str]] = {
    "commander": frozenset({"overview", "map", "hotspots", "keylist", "plan", "evaluation", "meeting", "persons"}),
    "officer": frozenset({"overview", "map", "hotspots", "plan", "persons"}),
    "liaison": frozenset({"overview", "keylist", "evaluation", "persons"}),
    "admin": frozenset({"overview", "import", "admin"}),
}

_STATE = "_auth"
_MESSAGE = "_auth_message"


def allowed_pages(scope: AccessScope) -> set[str]:
    """Page keys ``scope`` may open (with their file-stem aliases, e.g. ``hotspots`` and ``analysis``)."""
    keys = set(ROLE_PAGES.get(scope.role, frozenset()))
    return keys | {ALIASES[k] for k in keys if k in ALIASES}


def _engine():
    from core.db import get_engine

    # Read at call time so that tests and deployments can point the dashboard elsewhere.
    return get_engine(settings.DB_URL)


def _record(action: str, username: str, detail: str) -> None:
    from core.trust.audit import record

    record(action, username=username, detail=detail, engine=_engine())


def sign_out(reason: str = "退出登录") -> None:
    """Forget the signed-in user of this browser session (recorded in the audit trail)."""
    state = st.session_state.pop(_STATE, None)
    if state:
        _record("signout", state["scope"].username, reason)


def _session_scope() -> AccessScope | None:
    """The scope of a live session, or None (expired, disabled or never signed in)."""
    from core.trust.auth import get_user

    state = st.session_state.get(_STATE)
    if not state:
        return None
    now = time.time()
    if now - state["last"] > settings.SESSION_TIMEOUT_MIN * 60:
        sign_out(f"会话超时（{settings.SESSION_TIMEOUT_MIN} 分钟无操作）")
        st.session_state[_MESSAGE] = f"会话已超时（{settings.SESSION_TIMEOUT_MIN} 分钟无操作），请重新登录。"
        return None
    user = get_user(_engine(), state["scope"].username)
    if user is None or not user.active:
        sign_out("账户已停用，会话结束")
        st.session_state[_MESSAGE] = "账户已停用，请联系管理员。"
        return None
    state["last"] = now
    return state["scope"]


def _start_session(scope: AccessScope, display_name: str = "") -> None:
    st.session_state[_STATE] = {"scope": scope, "last": time.time(), "display": display_name}
    st.session_state.pop(_MESSAGE, None)


def _login_form() -> None:
    from core.db import is_demo
    from core.trust.auth import AuthError, authenticate, demo_sign_in, ensure_demo_users, get_user, has_users

    engine = _engine()
    st.title("医院周边警情研判与巡防排班")
    st.subheader("用户登录")
    if st.session_state.get(_MESSAGE):
        st.warning(st.session_state[_MESSAGE])
    demo = is_demo(engine)
    if not demo and not has_users(engine):
        st.info("系统尚未创建任何用户。请管理员在服务器上运行：`python -m planning users add 用户名 --role admin`")
    with st.form("login_form"):
        username = st.text_input("用户名", key="login_username")
        password = st.text_input("密码", type="password", key="login_password")
        submitted = st.form_submit_button("登录", type="primary")
    if submitted:
        try:
            scope = authenticate(engine, username, password)
        except AuthError as exc:
            st.error(str(exc))
        else:
            info = get_user(engine, scope.username)
            _start_session(scope, info.display_name if info else "")
            st.rerun()
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
                    _start_session(scope, info.display_name)
                    st.rerun()


def _user_box(scope: AccessScope) -> None:
    """Sidebar: who is signed in, unmasking for roles that may, sign-out."""
    from core.trust.access import mask
    from core.trust.disclosure import unmask

    state = st.session_state[_STATE]
    sb = st.sidebar
    name = state.get("display") or scope.username
    where = f" · 医院 {next(iter(scope.hospital_ids))}" if scope.hospital_ids and len(scope.hospital_ids) == 1 else ""
    sb.caption(f"当前用户：{name}（{scope.role_label}{where}）")
    if scope.can_unmask:
        if scope.personal:
            sb.warning("个人信息已显示（已记录审计）")
            if sb.button("恢复脱敏显示", key="auth_mask"):
                state["scope"] = mask(scope)
                st.rerun()
        else:
            with sb.expander("查看个人信息（需填写事由）"):
                reason = st.text_input("事由", key="auth_unmask_reason")
                if st.button("显示个人信息", key="auth_unmask"):
                    try:
                        state["scope"] = unmask(scope, reason=reason, engine=_engine())
                    except (ValueError, PermissionError) as exc:
                        st.error(str(exc))
                    else:
                        st.rerun()
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
    """Return the signed-in user's scope, or show the sign-in form and stop the script.

    Returns
    -------
    AccessScope
        The scope of the signed-in user (personal fields masked unless a commander has
        unmasked them, which is audited).
    """
    scope = _session_scope()
    if scope is None:
        _login_form()
        st.stop()
    _user_box(scope)
    return st.session_state[_STATE]["scope"]
