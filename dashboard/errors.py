"""The dashboard's Chinese error page: the cause in one line and what to do, no English traceback, no links.

Store faults (read-only, disk full, corrupted or locked database, unreachable PostgreSQL) are told by
:func:`core.trust.faults.describe_fault`; anything else gets a generic line and a reference to the server log.
"""

from __future__ import annotations

import logging

import streamlit as st

from dashboard.safe import md

_LOG = logging.getLogger("hospital_hotspots.dashboard")


def show_error_page(exc: BaseException) -> None:
    """Render the Chinese error page for ``exc`` (logged with its traceback on the server)."""
    from core.trust.faults import describe_fault

    _LOG.error("dashboard error", exc_info=exc)
    message = describe_fault(exc)
    st.error("系统出错，当前页面无法显示。")
    if message:
        st.markdown(f"**原因与处理：** {md(message)}")
    else:
        st.markdown(f"**原因：** 程序内部错误（{md(type(exc).__name__)}）。请刷新页面重试；如仍出错，请联系管理员查看服务器日志。")
    st.caption("已填写但未保存的内容不会丢失到其他用户处；已保存的数据不受影响。")
