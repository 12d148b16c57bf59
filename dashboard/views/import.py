"""数据导入: upload 110 / complaint exports, check or edit the column mapping, import with progress,
rejected rows and a note on every row whose coordinates were changed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import safeio, settings
from core.trust import audit
from core.trust.privacy import mask_table
from dashboard import data, ui
from dashboard.safe import md
from geo.io import ingest

FIELD_LABELS = {
    "source_id": "编号", "received_at": "时间", "date": "日期", "time": "时刻", "lon": "经度", "lat": "纬度",
    "coords": "坐标", "address": "地址", "category": "类别", "source_category": "原始类别", "description": "内容",
    "caller_name": "报警/投诉人", "caller_phone": "联系电话", "channel": "渠道", "hospital": "涉及医院",
}
#: What the system expects (shown before any upload).
EXPECTED = [
    ("时间", "必填：报警/受理时间（或分开的 日期 + 时刻 两列）"),
    ("经度、纬度", "或一列“坐标”（经度,纬度）；投诉可不填坐标，但须有“涉及医院”"),
    ("编号", "建议填写：警情/工单编号，用于去重；没有时按整行内容去重"),
    ("内容", "简要警情或投诉内容，用于自动分类"),
    ("地址、类别、涉及医院、渠道", "可选"),
    ("报警/投诉人、联系电话", "可选，属个人信息，默认脱敏显示"),
]
NOT_USED = "（不使用）"
CRS_NAMES = {"wgs84": "WGS-84（GPS）", "gcj02": "GCJ-02（高德/腾讯）", "bd09": "BD-09（百度）"}

scope, _df = ui.page_start("数据导入")
# Fixed style sheet (no user data): the uploader's English strings replaced by Chinese ones.

st.markdown(
    "上传 110 接处警或投诉记录导出文件（CSV 或 XLSX）。系统自动识别表头、编码和坐标，"
    "不合格的行单独列出并可下载，重复记录不会重复入库。"
)
with st.expander("文件应包含的列", expanded=False):
    st.dataframe(pd.DataFrame(EXPECTED, columns=["列", "说明"]), hide_index=True, width="stretch")
    st.caption("列名不必完全一致：常见叫法（如 接警时间、报警时间、受理时间）都能识别；识别不了的列可在下方手动对应，"
               "保存后下次自动使用。")
upload = st.file_uploader("选择文件", type=["csv", "xlsx", "txt"], key="imp_file")
c1, c2, c3 = st.columns(3)
source = c1.selectbox(
    "数据来源", [None, "110", "complaint"], placeholder="请选择", format_func=lambda s: "自动识别" if s is None else data.SOURCE_LABELS[s],
    key="imp_source",
)
crs = c2.selectbox("坐标系", list(CRS_NAMES), placeholder="请选择", format_func=CRS_NAMES.get, key="imp_crs")
sheet = c3.text_input("工作表（XLSX，可留空）", key="imp_sheet") or None


def _mapping_editor(grid: pd.DataFrame, header_row: int, found: dict[str, int]) -> None:
    """Let the user say which system field each column holds; saved to the user mapping file."""
    headers = ["" if h is None else str(h) for h in grid.iloc[header_row].tolist()]
    by_col = {j: f for f, j in found.items()}
    sample = grid.iloc[header_row + 1: header_row + 4]
    rows = [{
        "文件列名": h or f"列{j + 1}",
        "示例": " / ".join(str(v) for v in sample.iloc[:, j].tolist() if v not in (None, ""))[:60] if j < sample.shape[1]
        else "",
        "对应系统字段": FIELD_LABELS.get(by_col.get(j, ""), NOT_USED),
    } for j, h in enumerate(headers)]
    edited = st.data_editor(
        pd.DataFrame(rows), hide_index=True, width="stretch", key="imp_map_editor", num_rows="fixed",
        disabled=["文件列名", "示例"],
        column_config={"对应系统字段": st.column_config.SelectboxColumn(
            options=[NOT_USED, *FIELD_LABELS.values()], required=True)},
    )
    fields = {v: k for k, v in FIELD_LABELS.items()}
    chosen = {r["文件列名"]: fields[r["对应系统字段"]] for r in edited.to_dict("records")
              if r["对应系统字段"] != NOT_USED and r["文件列名"]}
    dup = pd.Series(list(chosen.values())).value_counts()
    if (dup > 1).any():
        st.warning("每个系统字段只能对应一列：" + "、".join(FIELD_LABELS[f] for f in dup[dup > 1].index))
    elif not ({"received_at", "date"} & set(chosen.values())):
        st.warning("请至少指定“时间”或“日期”列。")
    elif st.button("保存列名对应（下次自动使用）", key="imp_map_save", type="primary"):
        ingest.save_user_header_map(chosen)
        st.success(f"已保存 {len(chosen)} 个列名对应，重新识别文件。")
        st.rerun()


if upload is not None:
    raw = upload.getvalue()
    if len(raw) > settings.MAX_IMPORT_BYTES:
        st.error(f"文件过大（{len(raw) / 1e6:.0f} MB），上限 {settings.MAX_IMPORT_BYTES / 1e6:.0f} MB。")
        st.stop()
    st.subheader("列识别预览")
    try:
        grid, enc = ingest.read_grid(raw, sheet=sheet, max_rows=ingest.HEAD_ROWS)  # a preview reads the first rows
    except ValueError as exc:
        st.error(f"无法读取文件：{md(exc)}")
        st.stop()
    try:
        hrow, cols = ingest.find_header(grid, ingest.load_header_map())
    except ValueError as exc:
        st.warning(f"未能自动识别表头（{md(str(exc).split('。')[0])}）。请在下表中指定表头所在行和各列对应的系统字段。")
        hrow = int(st.number_input("表头所在行", min_value=1, max_value=min(30, len(grid)), value=1,
                                   key="imp_header_row")) - 1
        _mapping_editor(grid, hrow, {})
        st.stop()
    headers = ["" if h is None else str(h) for h in grid.iloc[hrow].tolist()]
    mapping = [{"系统字段": FIELD_LABELS.get(f, f), "文件列名": headers[j]} for f, j in cols.items()]
    st.caption(f"编码/格式：{md(enc)}；表头在第 {hrow + 1} 行；预览读取前 {len(grid) - hrow - 1:,} 行数据。")
    st.dataframe(mapping, hide_index=True, width="content")
    unmapped = [h for j, h in enumerate(headers) if h and j not in set(cols.values())]
    if unmapped:
        st.caption("未使用的列：" + "、".join(unmapped))
    with st.expander("修改列名对应", expanded=False):
        _mapping_editor(grid, hrow, cols)
    preview = grid.iloc[hrow + 1: hrow + 11].copy()
    preview.columns = [h or f"列{j + 1}" for j, h in enumerate(headers)][: preview.shape[1]]
    if not scope.personal:  # personal data masked for every role not allowed to see it (issue 11)
        preview = mask_table(preview, [cols[f] for f in ("caller_name",) if f in cols])
    st.caption("前 10 行（个人信息已脱敏）" if not scope.personal else "前 10 行（原样显示）")
    st.dataframe(ui.tidy(preview), hide_index=True, width="stretch")

    if st.button("开始导入", type="primary", key="imp_go"):
        bar = st.progress(0.0, text="准备导入……")

        def _progress(frac: float, message: str) -> None:
            bar.progress(min(max(float(frac), 0.0), 1.0), text=message)

        try:
            result = ingest.import_file(
                raw, source=source, crs=crs, sheet=sheet, filename=upload.name, engine=data.engine(),
                username=scope.username, progress=_progress,
            )
        except (ValueError, PermissionError) as exc:  # PermissionError: a demo store refuses real data
            bar.empty()
            st.error(f"导入失败：{md(exc)}")
            st.stop()
        bar.progress(1.0, text="导入完成")
        data.clear_caches()
        st.session_state["imp_result"] = result

result = st.session_state.get("imp_result")
if result is not None:
    st.subheader(f"导入结果：{md(result.filename)}")
    m = st.columns(4)
    m[0].metric("总行数", f"{result.total:,}")
    m[1].metric("已入库", f"{result.accepted:,}")
    m[2].metric("不合格", f"{result.rejected:,}")
    m[3].metric("重复", f"{result.duplicates:,}")
    notes = getattr(result, "row_notes", None)
    if result.swapped:
        st.info(f"{result.swapped:,} 行的经纬度填反（经度填成了纬度），已自动对调。")
    if result.crs != "wgs84":
        st.info(f"坐标已由 {CRS_NAMES.get(result.crs, result.crs)} 转换为 WGS-84。")
    if result.approximate:
        st.caption(f"{result.approximate:,} 条投诉无坐标，已按所涉医院定位（近似位置）。")
    if notes is not None and len(notes):
        st.caption("坐标有改动的行（每行一条说明）")
        st.dataframe(notes, hide_index=True, width="stretch", height=min(400, 40 + 35 * len(notes)))
    if result.rejected and not result.rejected_rows.empty:
        rows = result.rejected_rows if scope.personal else mask_table(result.rejected_rows)
        st.caption("不合格的行（原因见“原因”列" + ("）" if scope.personal else "；个人信息已脱敏）"))
        st.dataframe(ui.tidy(rows), hide_index=True, width="stretch")
        rejected_csv = safeio.frame_to_csv_bytes(rows)
        st.download_button(
            "下载不合格行（CSV）", rejected_csv,
            file_name=f"不合格行_{result.batch_id or ''}.csv", mime="text/csv", key="imp_dl",
            on_click=lambda: audit.record(
                "export", username=scope.username,
                detail=f"不合格行 批次{result.batch_id} {result.filename}", data=rejected_csv, engine=data.engine(),
            ),
        )
