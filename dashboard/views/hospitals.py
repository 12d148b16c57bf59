"""重点医院: the key-hospital list with scores, reasons, 列入/销号 proposals and overrides with notes."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import data, ui
from dashboard.safe import md
from geo import periods
from planning.keylist import assessed_month, keylist_history, override_keylist

scope, df = ui.page_start("重点医院")
clk = ui.clock(df)
months = ui.month_options(df)
month = st.selectbox("名单月份", months, placeholder="请选择", index=0, key="kl_month", format_func=periods.fmt_month,
                     help="默认为最近一个完整月份的下一个月。")
assessed = assessed_month(month, clk.last_complete_month)
st.caption(f"{periods.fmt_month(month)}名单依据 {periods.fmt_month(assessed)}（完整月份）的警情评分，"
           f"趋势与此前 3 个月的月均比较。数据截至 {periods.fmt_date(clk.last)}，未结束的月份不参与评分。")
try:
    kl = data.keylist_proposal(data.db_url(), data.data_version(data.db_url()), month)
except ValueError as exc:
    st.error(f"无法生成重点医院清单：{md(exc)}")
    st.stop()
# The stored list of the month carries the commanders' overrides and their notes.
stored = keylist_history(data.engine())
stored = stored[stored["month"] == month].set_index("hospital_id")
if not stored.empty:
    kl = kl.assign(
        listed=kl["hospital_id"].map(stored["listed"]).fillna(kl["listed"]).astype(bool),
        override_note=kl["hospital_id"].map(stored["override_note"]).fillna(""),
    )
if scope.hospital_ids is not None:
    kl = kl[kl["hospital_id"].isin(scope.hospital_ids)]

c = st.columns(4)
c[0].metric("列入清单", int(kl["listed"].sum()))
c[1].metric("建议列入", int((kl["proposal"] == "列入").sum()))
c[2].metric("建议销号", int((kl["proposal"] == "销号").sum()))
c[3].metric("候选医院", len(kl))

view = kl.assign(
    proposal=kl["proposal"].replace("", "—").fillna("—"),
    重点=kl["listed"].astype(bool),
    说明=kl["reasons"].map(lambda r: "；".join(r) if isinstance(r, list | tuple) else str(r or "")),
)
if "override_note" not in view:
    view["override_note"] = ""
view = view[["rank", "name", "score", "proposal", "重点", "说明", "override_note", "hospital_id"]].rename(
    columns={"rank": "排名", "name": "医院", "score": "评分", "proposal": "建议", "override_note": "调整说明"}
)
editable = scope.role in ("commander", "admin")
st.caption("评分（0—100）综合上月 110 警情的数量与严重程度、投诉、较前 3 个月的变化和周边热点；“建议”为系统提议，"
           "勾选“重点”可人工调整，调整须填写说明。")
edited = st.data_editor(
    view, hide_index=True, width="stretch", key="kl_editor",
    disabled=True if not editable else ["排名", "医院", "评分", "建议", "说明"],
    column_config={
        "评分": st.column_config.NumberColumn(format="%.1f"),
        "hospital_id": None,
        "说明": st.column_config.TextColumn(width="large"),
    },
    num_rows="fixed",
)
if editable:
    changed = edited[(edited["重点"] != view["重点"]) | (edited["调整说明"].fillna("") != view["调整说明"].fillna(""))]
    if not changed.empty:
        missing = changed[changed["调整说明"].fillna("").str.strip() == ""]
        if not missing.empty:
            st.warning("人工调整须填写“调整说明”：" + "、".join(missing["医院"]))
        elif st.button(f"保存 {len(changed)} 项调整", type="primary", key="kl_save"):
            for hid, listed, note in zip(changed["hospital_id"], changed["重点"], changed["调整说明"], strict=True):
                override_keylist(data.engine(), month=month, hospital_id=hid, listed=bool(listed), note=str(note),
                     username=scope.username)
            st.success("已保存。")
            st.rerun()

st.subheader("评分分布")
top = kl.nlargest(20, "score")[["name", "score", "listed"]].rename(columns={"name": "医院", "score": "评分"})
top["状态"] = top["listed"].map({True: "列入", False: "未列入"})
st.altair_chart(
    alt.Chart(top).mark_bar().encode(
        x=alt.X("评分:Q", title="评分（0—100）", axis=alt.Axis(tickCount=10)),
        y=alt.Y("医院:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False, labelLimit=260)),
        color=alt.Color("状态:N", title="状态", legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=["列入", "未列入"], range=["#c62828", "#90a4ae"])),
        tooltip=["医院", "评分", "状态"],
    ).properties(height=28 * len(top) + 20),
    width="stretch",
)
