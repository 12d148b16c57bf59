"""数据导入: upload 110 / complaint exports, preview the column mapping, import with progress, rejected rows."""

from __future__ import annotations

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

scope, _df = ui.page_start("数据导入")

st.markdown(
    "上传 110 接处警或投诉记录导出文件（CSV 或 XLSX）。系统自动识别表头、编码和坐标，"
    "不合格的行单独列出并可下载，重复记录不会重复入库。"
)
upload = st.file_uploader("选择文件", type=["csv", "xlsx", "txt"], key="imp_file")
c1, c2, c3 = st.columns(3)
source = c1.selectbox(
    "数据来源", [None, "110", "complaint"], format_func=lambda s: "自动识别" if s is None else data.SOURCE_LABELS[s],
    key="imp_source",
)
crs = c2.selectbox(
    "坐标系", ["wgs84", "gcj02", "bd09"],
    format_func={"wgs84": "WGS-84（GPS）", "gcj02": "GCJ-02（高德/腾讯）", "bd09": "BD-09（百度）"}.get, key="imp_crs",
)
sheet = c3.text_input("工作表（XLSX，可留空）", key="imp_sheet") or None

if upload is not None:
    raw = upload.getvalue()
    if len(raw) > settings.MAX_IMPORT_BYTES:
        st.error(f"文件过大（{len(raw) / 1e6:.0f} MB），上限 {settings.MAX_IMPORT_BYTES / 1e6:.0f} MB。")
        st.stop()
    st.subheader("列识别预览")
    try:
        grid, enc = ingest.read_grid(raw, sheet=sheet, max_rows=ingest.HEAD_ROWS)  # a preview reads the first rows
        hrow, cols = ingest.find_header(grid, ingest.load_header_map())
    except ValueError as exc:
        st.error(f"无法识别文件：{md(exc)}")
        st.stop()
    headers = ["" if h is None else str(h) for h in grid.iloc[hrow].tolist()]
    mapping = [{"系统字段": FIELD_LABELS.get(f, f), "文件列名": headers[j]} for f, j in cols.items()]
    st.caption(f"编码/格式：{md(enc)}；表头在第 {hrow + 1} 行；预览读取前 {len(grid) - hrow - 1:,} 行数据。")
    st.dataframe(mapping, hide_index=True, width="content")
    unmapped = [h for j, h in enumerate(headers) if h and j not in set(cols.values())]
    if unmapped:
        st.caption("未使用的列：" + "、".join(unmapped))
    preview = grid.iloc[hrow + 1: hrow + 11].copy()
    preview.columns = [h or f"列{j + 1}" for j, h in enumerate(headers)][: preview.shape[1]]
    if not scope.personal:  # personal data masked for every role not allowed to see it (issue 11)
        preview = mask_table(preview, [cols[f] for f in ("caller_name",) if f in cols])
    st.caption("前 10 行（个人信息已脱敏）" if not scope.personal else "前 10 行（原样显示）")
    st.dataframe(preview, hide_index=True, width="stretch")

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
    if result.approximate:
        st.caption(f"{result.approximate:,} 条投诉无坐标，已按所涉医院定位（近似位置）。")
    if result.rejected and not result.rejected_rows.empty:
        rows = result.rejected_rows if scope.personal else mask_table(result.rejected_rows)
        st.caption("不合格的行（原因见“原因”列" + ("）" if scope.personal else "；个人信息已脱敏）"))
        st.dataframe(rows, hide_index=True, width="stretch")
        rejected_csv = safeio.frame_to_csv_bytes(rows)
        st.download_button(
            "下载不合格行（CSV）", rejected_csv,
            file_name=f"不合格行_{result.batch_id or ''}.csv", mime="text/csv", key="imp_dl",
            on_click=lambda: audit.record(
                "export_rejected_rows", username=scope.username, detail=f"batch {result.batch_id} {result.filename}",
                data=rejected_csv, engine=data.engine(),
            ),
        )
