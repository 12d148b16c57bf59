"""Entry point of the dashboard: sign-in, then the pages the user's role may see.

Run from the repository root: ``streamlit run dashboard/app.py``.

The page scripts live in ``dashboard/views/``: a folder named ``pages/`` beside this file would switch
Streamlit to its old file-based navigation, bypassing ``st.navigation`` and with it the sign-in and the
role filtering.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the repository root.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from dashboard import ui  # noqa: E402

# A local favicon: an emoji or Material icon here would be fetched from a public CDN.
st.set_page_config(
    page_title="医院周边警情研判", page_icon=str(Path(__file__).parent / "static" / "favicon.png"), layout="wide"
)

ui.chinese_widgets()
ui.start_preload()  # once per process: warms the caches while the first visitor signs in
scope = ui.sign_in()
allowed = ui.allowed_page_keys(scope)
pages = [
    st.Page(f"views/{p.key}.py", title=p.title, url_path=p.key, default=(i == 0))
    for i, p in enumerate(q for q in ui.PAGES if q.key in allowed)
]
if not pages:
    st.error("当前账号没有可访问的页面，请联系管理员。")
    st.stop()
nav = st.navigation(pages)
nav.run()
