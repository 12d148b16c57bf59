"""The CJK font every generated document embeds (PDF via ReportLab, map images via matplotlib).

reportlab cannot use the OpenType (CFF) Noto CJK fonts, and its built-in STSong-Light is not embedded, so a
TrueType font from Debian's fonts-wqy-microhei / fonts-wqy-zenhei is registered and embedded.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
FONT_NAME = "WQYMicroHei"

def font_path() -> str:
    """Path of the embedded CJK font; raises with an installation hint when none is present."""
    for p in FONT_CANDIDATES:
        if Path(p).exists():
            return p
    raise RuntimeError("未找到中文 TrueType 字体，请安装 Debian 软件包 fonts-wqy-microhei。")


@lru_cache(maxsize=1)
def register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(FONT_NAME, font_path(), subfontIndex=0))
    return FONT_NAME


@lru_cache(maxsize=1)
def font_prop():
    """matplotlib font properties of the CJK font (added to the font manager once per process)."""
    from matplotlib import font_manager

    fp = font_path()
    font_manager.fontManager.addfont(fp)
    return font_manager.FontProperties(fname=fp)
