"""Text from the data made inert for Streamlit's Markdown (issue 11: no markup from data).

Streamlit renders the text of ``st.markdown``, ``st.caption``, ``st.info`` / ``warning`` / ``error`` /
``success``, ``st.subheader``, widget labels and tab/expander titles as Markdown (GitHub flavour, with
``:color[...]`` directives, emoji shortcodes and ``$...$`` LaTeX). A hospital name such as
``![x](http://evil.example/p.png)`` made the browser fetch from another host, and ``[请点此重新登录](http://…)``
put a phishing link on the page. :func:`md` backslash-escapes every ASCII punctuation character (CommonMark
allows escaping exactly those) and breaks GFM's bare-URL autolinks with an invisible word joiner, so links,
images, emphasis, HTML, directives and autolinks are shown as the characters they are (checked in Chromium,
tests/browser/test_hostile_browser.py). Use it on every user- or file-supplied string inside such calls::

    st.markdown(f"**{md(row['name'])}** · {md(row['district'])}")
"""

from __future__ import annotations

import re
import string

_PUNCT = re.compile("([" + re.escape(string.punctuation) + "])")
_SPACE = re.compile(r"[\r\n\t\f\v\u2028\u2029]+")
#: GFM turns bare ``http://…``, ``www.…`` and ``a@b.c`` into links even when their punctuation is escaped; an
#: invisible WORD JOINER (U+2060) after the scheme, ``www`` or ``@`` breaks the pattern without changing the text
#: a reader sees.
_AUTOLINK = re.compile(r"(?i)(https?|ftp|mailto|file|www|@)")
JOINER = "\u2060"


def md(value: object) -> str:
    """``value`` as Markdown that renders as its literal text (one line, every ASCII punctuation escaped)."""
    text = _SPACE.sub(" ", "" if value is None else str(value))
    text = _AUTOLINK.sub(lambda m: m.group(1) + JOINER, text)
    return _PUNCT.sub(r"\\\1", text)


def md_error(exc: BaseException) -> str:
    """An exception's message for ``st.error`` (messages can quote file contents)."""
    return md(str(exc))
