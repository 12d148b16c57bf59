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
        role = st.selectbox("角色", placeholder="请选择", options=list(ROLES), format_func=lambda r: ROLES[r])
        hospitals = load_hospitals(engine)
        hospital = st.selectbox(
            "所属医院（仅驻院民警）", placeholder="请选择", options=["", *hospitals["hospital_id"].tolist()],
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
        who = c1.selectbox("选择用户", placeholder="请选择", options=others, key="admin_user_pick")
        if c2.button("停用", key="admin_disable"):
            set_active(engine, who, False, by=scope.username)
            st.rerun()
        if c3.button("启用", key="admin_enable"):
            set_active(engine, who, True, by=scope.username)
            st.rerun()


def _audit(engine, scope) -> None:
    st.subheader("审计记录")
    c1, c2, c3 = st.columns(3)
    action = c1.selectbox("操作", placeholder="请选择", options=["", *ACTIONS], format_func=lambda a: ACTIONS.get(a, "全部"))
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


# --- reference data (issue 10.8): hospital list, police units, officer roster


def _reference_data(engine, scope) -> None:
    """Upload the bureau's hospital list (with entrances), police units and officer roster."""
    from core.db import load_officers, load_units
    from core.safeio import frame_to_csv_bytes
    from core.trust.audit import record
    from geo.io.ingest import ImportError_
    from geo.io.reference import KIND_LABELS, import_reference, load_entrances

    st.subheader("基础数据：医院名单、警力单位、民警花名册")
    st.caption(
        "新部署按顺序导入：① 医院名单（含出入口）→ ② 警力单位 → ③ 民警花名册，然后再导入警情。"
        "同一编号再次导入即更新；每一行都计为 接收、不合格（附原因）或 重复。格式见样例文件（样例，非真实数据）。"
    )
    m = st.columns(4)
    m[0].metric("医院", f"{len(load_hospitals(engine)):,}")
    m[1].metric("出入口", f"{len(load_entrances(engine)):,}")
    m[2].metric("警力单位", f"{len(load_units(engine)):,}")
    m[3].metric("民警", f"{len(load_officers(engine)):,}")
    samples = settings.DATA_DIR / "samples"
    tabs = st.tabs(["① 医院名单", "② 警力单位", "③ 民警花名册"])
    for tab, kind, sample in zip(tabs, ("hospitals", "units", "roster"),
                                 ("hospitals_sample.csv", "units_sample.csv", "roster_sample.csv"), strict=True):
        with tab:
            upload = st.file_uploader(f"{KIND_LABELS[kind]}文件（CSV/XLSX）", type=["csv", "xlsx", "txt"],
                                      key=f"ref_file_{kind}")
            kwargs: dict = {}
            if kind == "hospitals":
                c1, c2 = st.columns(2)
                kwargs["crs"] = c1.selectbox(
                    "坐标系", placeholder="请选择", options=["wgs84", "gcj02", "bd09"], key="ref_crs",
                    format_func={"wgs84": "WGS-84（GPS）", "gcj02": "GCJ-02（高德/腾讯）", "bd09": "BD-09（百度）"}.get,
                )
                ent = c2.file_uploader("出入口文件（可选；XLSX 的“出入口”工作表会自动导入）", type=["csv", "xlsx"],
                                       key="ref_file_entrances")
                if ent is not None:
                    kwargs.update(entrances=ent.getvalue(), entrances_filename=ent.name)
            if (samples / sample).is_file():
                st.download_button("下载样例文件（样例）", (samples / sample).read_bytes(), file_name=sample,
                                   mime="text/csv", key=f"ref_sample_{kind}")
            if upload is not None and st.button("导入", type="primary", key=f"ref_go_{kind}"):
                try:
                    result = import_reference(kind, upload.getvalue(), filename=upload.name, engine=engine,
                                              username=scope.username, **kwargs)
                except (ImportError_, ValueError) as exc:
                    st.error(f"导入失败：{exc}")
                else:
                    st.session_state[f"ref_result_{kind}"] = result
                    from dashboard import data as dashboard_data

                    dashboard_data.clear_caches()
            result = st.session_state.get(f"ref_result_{kind}")
            for res in (result, getattr(result, "entrances", None)):
                if res is None:
                    continue
                st.markdown(f"**导入结果：{KIND_LABELS[res.kind]} {res.filename}**")
                r = st.columns(5)
                r[0].metric("总行数", f"{res.total:,}")
                r[1].metric("新增", f"{res.inserted:,}")
                r[2].metric("更新", f"{res.updated:,}")
                r[3].metric("不合格", f"{res.rejected:,}")
                r[4].metric("重复/未变化", f"{res.duplicates:,}")
                if res.rejected and not res.rejected_rows.empty:
                    st.caption("不合格的行（原因见“原因”列），修改后可再次导入")
                    # Shown as data, never as HTML; personal columns only reach administrators.
                    st.dataframe(res.rejected_rows, hide_index=True, width="stretch")
                    rejected_csv = frame_to_csv_bytes(res.rejected_rows)
                    st.download_button(
                        "下载不合格行（CSV）", rejected_csv, file_name=f"不合格行_{res.kind}_{res.batch_id}.csv",
                        mime="text/csv", key=f"ref_dl_{res.kind}_{res.batch_id}",
                        on_click=lambda res=res, data=rejected_csv: record(
                            "export", username=scope.username, engine=engine, data=data,
                            detail=f"不合格行 {KIND_LABELS[res.kind]} 批次{res.batch_id} {res.filename}",
                        ),
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
    _reference_data(engine, scope)
    st.divider()
    _audit(engine, scope)


render()
