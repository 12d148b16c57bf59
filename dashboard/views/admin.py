"""管理员页面: users (add, disable, enable) and the audit trail (view, export).

Registered in the navigation only for administrators (``session.allowed_pages``); the library
functions it calls (``core.trust.auth.list_users``, ``core.trust.audit.list_entries`` / ``export_csv``)
check the role again.
"""

from __future__ import annotations

import streamlit as st

from core import settings
from core.db import get_engine, load_hospitals
from core.trust.access import ROLES, require
from core.trust.audit import ACTIONS, export_csv, list_entries
from core.trust.auth import create_user, list_users, set_active
from dashboard.safe import md
from dashboard.session import current_scope


def _users(engine, scope) -> None:
    st.subheader("用户")
    users = list_users(engine, scope=scope)
    st.dataframe(
        users.rename(columns={
            "username": "用户名", "display_name": "显示名称", "role": "角色代码", "role_label": "角色",
            "hospital_id": "医院", "officer_id": "民警编号", "active": "启用", "demo": "演示账户",
            "created_at": "创建时间", "password_changed_at": "密码修改时间",
        }),
        hide_index=True, width="stretch",
    )
    with st.expander("新增用户"), st.form("admin_add_user", clear_on_submit=True):
        username = st.text_input("用户名")
        display = st.text_input("显示名称")
        role = st.selectbox("角色", options=list(ROLES), format_func=lambda r: ROLES[r])
        hospitals = load_hospitals(engine)
        hospital = st.selectbox(
            "所属医院（仅驻院民警）", options=["", *hospitals["hospital_id"].tolist()],
            format_func=lambda h: "—" if not h else f"{h} {hospitals.set_index('hospital_id').at[h, 'name']}",
        )
        pw1 = st.text_input("初始密码", type="password", help=f"至少 {settings.MIN_PASSWORD_LENGTH} 位，含字母、数字、符号中的两类")
        pw2 = st.text_input("再次输入密码", type="password")
        if st.form_submit_button("创建"):
            if pw1 != pw2:
                st.error("两次输入的密码不一致。")
            else:
                try:
                    create_user(
                        engine, username, pw1, role=role, hospital_id=hospital or None, display_name=display,
                        created_by=scope.username,
                    )
                except ValueError as exc:
                    st.error(str(exc))
                else:
                    st.success(f"已创建用户 {md(username)}。")
                    st.rerun()
    others = [u for u in users["username"].tolist() if u != scope.username]
    if others:
        c1, c2, c3 = st.columns([3, 1, 1])
        who = c1.selectbox("选择用户", options=others, key="admin_user_pick")
        if c2.button("停用", key="admin_disable"):
            set_active(engine, who, False, by=scope.username)
            st.rerun()
        if c3.button("启用", key="admin_enable"):
            set_active(engine, who, True, by=scope.username)
            st.rerun()


def _audit(engine, scope) -> None:
    st.subheader("审计记录")
    c1, c2, c3 = st.columns(3)
    action = c1.selectbox("操作", options=["", *ACTIONS], format_func=lambda a: ACTIONS.get(a, "全部"))
    username = c2.text_input("用户")
    limit = c3.number_input("显示条数", min_value=10, max_value=5000, value=200, step=50)
    entries = list_entries(engine, scope=scope, action=action or None, username=username or None, limit=int(limit))
    # st.dataframe shows values as text: user-supplied strings are never rendered as HTML.
    st.dataframe(
        entries.drop(columns=["action"]).rename(columns={
            "id": "序号", "at": "时间", "username": "用户", "action_label": "操作", "detail": "内容",
            "sha256": "文件SHA-256",
        }),
        hide_index=True, width="stretch",
    )
    if st.button("生成审计记录导出文件（CSV）", key="admin_audit_export"):
        # Generated on request only: every export is itself written to the trail.
        st.session_state["admin_audit_csv"] = export_csv(
            engine, scope=scope, action=action or None, username=username or None
        )
    if st.session_state.get("admin_audit_csv"):
        st.download_button(
            "下载审计记录 CSV", data=st.session_state["admin_audit_csv"], file_name="audit_log.csv", mime="text/csv",
        )


def render() -> None:
    """Draw the page for the signed-in administrator."""
    st.title("系统管理")
    try:
        scope = current_scope()
        require(scope, roles=("admin",))
    except PermissionError as exc:
        st.error(str(exc))
        st.stop()
    engine = get_engine(settings.DB_URL)
    _users(engine, scope)
    st.divider()
    _audit(engine, scope)


render()
