"""重点人员: target persons (masked), a person's profile, the group graph, gang leads and the hand-over export.

Every read goes through core.db.persons with the signed-in scope: commanders see the jurisdiction, stationed
officers the targets at their hospital, liaisons only counts and the hand-over files addressed to them.
"""

from __future__ import annotations

import html
import io

import altair as alt
import pandas as pd
import streamlit as st

from core import safeio
from core.db import persons as dbp
from core.trust import audit
from dashboard import data, ui
from dashboard.safe import md
from geo import persons as gp
from geo.io.persons import demo_actions
from geo.persons.patterns import WEEKDAY_LABELS

st.title("重点人员")
ui.demo_banner()
scope = ui.current_scope()
engine = data.engine()
hosp = data.hospitals(scope)
hname = dict(zip(hosp["hospital_id"], hosp["name"], strict=True))


def _h(hid: object) -> str:
    return hname.get(str(hid), str(hid or "—"))


if scope.aggregates_only:
    # Liaisons (and administrators): counts per hospital and the hand-over files addressed to them.
    counts = dbp.person_counts(engine, scope=scope)
    st.caption("联络员只能查看各医院重点人员人数，以及发给本人的移交名单（已脱敏，仅含约定字段）。")
    c = st.columns(2)
    c[0].metric("涉及医院", len(counts))
    c[1].metric("重点人员出现次数", int(counts["n_appearances"].sum()) if len(counts) else 0)
    if len(counts):
        view = counts.assign(医院=counts["hospital_id"].map(_h)).rename(
            columns={"n_persons": "重点人员（人）", "n_appearances": "出现（次）"})
        st.dataframe(view[["医院", "重点人员（人）", "出现（次）"]], hide_index=True, width="stretch")
    st.subheader("发给我的移交名单")
    mine = dbp.load_handovers(engine, scope=scope)
    if mine.empty:
        st.info("暂无发给您的移交名单。")
    for r in mine.itertuples(index=False):
        body = dbp.handover_body(int(r.id), scope=scope, engine=engine)
        st.download_button(f"下载 {r.filename}（{r.n_persons} 人）", body, file_name=r.filename, mime="text/csv",
                           key=f"ho_get_{r.id}", on_click=lambda b=body, n=r.filename: audit.record(
                               "export", username=scope.username, detail=f"下载移交名单 {n}", data=b, engine=engine))
    st.stop()

if scope.hospital_ids is not None:
    st.caption(f"驻院民警只看到在本院（{md(', '.join(_h(h) for h in sorted(scope.hospital_ids)))}）出现过的人员，"
               "以及他们在本院的出现记录。")
persons = dbp.load_persons(engine, scope=scope)
if persons.empty:
    st.info("存储中尚无重点人员。可在命令行运行 `python -m planning persons refresh` 从警情中提取，"
            "或 `persons import-sightings 文件` 导入布控告警。")
    st.stop()
events = dbp.load_person_events(engine, scope=scope)

c = st.columns(4)
c[0].metric("重点人员", len(persons))
c[1].metric("出现记录", len(events))
c[2].metric("团伙线索", int(persons["group_id"].ne("").groupby(persons["group_id"]).size().drop("", errors="ignore")
                        .shape[0]))
c[3].metric("待人工核实", int(persons["n_review"].gt(0).sum()))

tab_list, tab_profile, tab_groups, tab_handover = st.tabs(["人员列表", "人员画像", "团伙关系", "移交名单"])

trend_lbl = gp.TREND_LABELS
with tab_list:
    cols = {"person_id": "人员编号", "name_masked": "姓名", "id_masked": "身份证号", "phone_masked": "手机号",
            "main_hospital_name": "主要活动医院", "peak_window": "高峰时段", "n_mentions": "出现次数",
            "first_seen": "首次发现", "last_seen": "最近出现", "trend_label": "趋势", "sanction_label": "最高处罚",
            "group_id": "团伙线索"}
    if scope.personal:
        cols.update({"name": "姓名（明文）", "id_number": "身份证号（明文）", "phone": "手机号（明文）"})
    view = persons.assign(
        main_hospital_name=persons["main_hospital"].map(_h),
        trend_label=persons["trend"].map(trend_lbl).fillna(""),
        sanction_label=persons["highest_sanction"].map(gp.SANCTION_LABELS).fillna(""),
    )
    st.dataframe(ui.tidy(view[[c for c in cols if c in view]].rename(columns=cols)), hide_index=True,
                 width="stretch")
    if persons["demo"].any():
        st.caption("演示数据：人员姓名、身份证号（校验位故意错误）、手机号均为虚构。")

with tab_profile:
    options = persons["person_id"].tolist()
    labels = dict(zip(persons["person_id"], persons["name_masked"] + "（" + persons["person_id"] + "）", strict=True))
    pid = st.selectbox("选择人员", options, placeholder="请选择", format_func=lambda p: labels.get(p, p), key="pp_person")
    p = persons.set_index("person_id").loc[pid]
    ev = events[events["person_id"] == pid]
    c = st.columns(4)
    c[0].metric("出现次数", len(ev))
    c[1].metric("首次发现", str(pd.Timestamp(p["first_seen"]).date()) if pd.notna(p["first_seen"]) else "—")
    c[2].metric("最近出现", str(pd.Timestamp(p["last_seen"]).date()) if pd.notna(p["last_seen"]) else "—")
    c[3].metric("高峰时段", p["peak_window"] or "—")
    st.markdown(f"**趋势**：{md(trend_lbl.get(p['trend'], '—'))}　**主要活动医院**：{md(_h(p['main_hospital']))}")
    if len(ev):
        prof = gp.hospital_profile(ev)
        st.caption("活动医院")
        st.dataframe(prof.assign(医院=prof["hospital_id"].map(_h), 占比=(100 * prof["share"]).round(0).astype(int))
                     [["医院", "count", "占比"]].rename(columns={"count": "出现次数"}), hide_index=True)
        hw = gp.hour_weekday_profiles(ev)
        grid = (hw.pivot_table(index="weekday", columns="hour", values="count", aggfunc="sum")
                .reindex(index=range(7), columns=range(24)).fillna(0))
        long = grid.reset_index().melt(id_vars="weekday", var_name="hour", value_name="count")
        long["星期"] = long["weekday"].map(lambda i: WEEKDAY_LABELS[int(i)])
        long["时"] = long["hour"].astype(int).map(lambda h: f"{h}时")
        st.altair_chart(alt.Chart(long).mark_rect().encode(
            x=alt.X("时:O", sort=[f"{h}时" for h in range(24)], title="时段", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("星期:N", sort=list(WEEKDAY_LABELS), title=None),
            color=alt.Color("count:Q", title="出现次数", scale=alt.Scale(scheme="orangered")),
            tooltip=["星期", "时", alt.Tooltip("count:Q", title="出现次数")]).properties(height=220),
            width="stretch")
        lad = gp.sanction_ladder(ev).iloc[0]
        st.markdown(f"**处罚阶梯**：{md(lad['sequence'] or '尚无处罚记录')}；下一步："
                    f"{md(gp.SANCTION_LABELS.get(lad['next_step'], '已至最高'))}；最后一次处罚后仍出现 "
                    f"{int(lad['events_after_last'])} 次")
        acts = demo_actions(engine)
        if len(acts):
            disp = gp.displacement(ev, acts)
            if len(disp):
                st.caption("行动后的去向（与未开展行动医院的同期变化比较后再下结论）")
                st.dataframe(disp.assign(医院=disp["hospital_id"].map(_h), 去向=disp["moved_to"].map(
                    lambda h: _h(h) if h else ""))[["医院", "action_date", "status_label", "去向"]].rename(
                    columns={"action_date": "行动日期", "status_label": "状态"}), hide_index=True)

with tab_groups:
    ties = gp.co_occurrence_ties(events) if len(events) else pd.DataFrame(columns=list(gp.TIE_COLUMNS))
    groups = gp.find_groups(ties, seed=0)
    if groups.groups.empty:
        st.info("未发现团伙线索。")
    else:
        desc = gp.describe_groups(groups, events)
        masked = persons.set_index("person_id")["name_masked"]
        table = pd.DataFrame({
            "团伙线索": desc["group_id"], "成员数": desc["n_members"],
            "核心成员": desc["core_members"].map(lambda s: "、".join(masked.get(p, p) for p in s.split("+"))),
            "主要医院": desc.get("main_hospital", pd.Series([""] * len(desc))).map(_h),
            "高峰时段": desc.get("peak_window", ""),
        })
        st.dataframe(table, hide_index=True, width="stretch")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import networkx as nx

        g = groups.graph
        pos = nx.spring_layout(g, seed=0, weight="weight")
        gid = groups.membership.set_index("person_id")["group_id"]
        codes = {k: i for i, k in enumerate(groups.groups["group_id"])}
        fig, ax = plt.subplots(figsize=(7, 5), dpi=100)
        nx.draw_networkx_edges(g, pos, ax=ax, alpha=0.3, width=[0.3 + 0.1 * d["weight"] for *_, d in g.edges(data=True)])
        nx.draw_networkx_nodes(g, pos, ax=ax, node_size=40, cmap="tab10",
                               node_color=[codes.get(gid.get(n, ""), -1) for n in g.nodes])
        ax.set_axis_off()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        plt.close(fig)
        st.image(buf.getvalue(), caption="团伙关系图（节点为人员，颜色为团伙线索，连线越粗关系越强）")
        if scope.role == "commander":
            export = safeio.frame_to_csv_bytes(table)
            st.download_button("导出团伙线索（供侦查，已脱敏）", export, file_name="团伙线索.csv", mime="text/csv",
                               key="grp_export", on_click=lambda: audit.record(
                                   "persons_export", username=scope.username, engine=engine, data=export,
                                   detail=f"导出团伙线索 {len(table)} 条"))

with tab_handover:
    if scope.role != "commander":
        st.info("移交名单由指挥员生成。")
    else:
        templates = dbp.load_handover_templates()
        tname = st.selectbox("移交模板", list(templates), placeholder="请选择", format_func=lambda t: templates[t]["title"], key="ho_t")
        spec = templates[tname]
        st.caption("本模板只含以下字段（与医院、卫健委约定）：" + html.escape("、".join(f["label"] for f in spec["fields"])))
        to = st.text_input("接收方（联络员用户名或单位）", key="ho_to")
        if st.button("生成移交名单", key="ho_make"):
            try:
                body, hid = dbp.handover_file(tname, recipient=to, scope=scope, engine=engine)
                st.session_state["ho_last"] = (body, hid)
                st.success(f"已生成移交记录 {hid}（已审计）。")
            except (ValueError, PermissionError) as exc:
                st.error(md(exc))
        if "ho_last" in st.session_state:
            body, hid = st.session_state["ho_last"]
            st.download_button("下载移交名单", body, file_name=f"移交名单_{hid}.csv", mime="text/csv", key="ho_dl")
        hist = dbp.load_handovers(engine, scope=scope)
        if len(hist):
            st.caption("移交记录")
            st.dataframe(hist[["id", "at", "template", "recipient", "n_persons", "sha256"]].rename(columns={
                "id": "编号", "at": "时间", "template": "模板", "recipient": "接收方", "n_persons": "人数",
                "sha256": "文件SHA-256"}), hide_index=True, width="stretch")
