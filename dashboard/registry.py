"""The one registry of dashboard pages: file stem, URL path, Chinese title and access name.

``app.py`` builds the navigation from :data:`PAGES`; the sign-in module decides which access names
a role may open (``dashboard.session.ROLE_PAGES`` / ``allowed_pages``), and :func:`allowed` maps them back here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    """One page.

    Pages carry no icon: Streamlit turns a page's Material icon into the browser-tab favicon by
    fetching it from fonts.gstatic.com, which the intranet cannot reach.

    Attributes
    ----------
    key
        File stem in ``dashboard/views/`` and URL path.
    title
        Chinese title (navigation and page heading).
    access
        The name under which roles are granted the page (``dashboard.session.ROLE_PAGES``).
    """

    key: str
    title: str
    access: str

    @property
    def script(self) -> str:
        """Path of the page script relative to ``dashboard/``."""
        return f"views/{self.key}.py"


PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview", "总览", "overview"),
    PageSpec("map", "警情地图", "map"),
    PageSpec("analysis", "热点研判", "hotspots"),
    PageSpec("hospitals", "重点医院", "keylist"),
    PageSpec("plan", "巡防计划", "plan"),
    PageSpec("today", "今日任务", "today"),
    PageSpec("evaluation", "成效评估", "evaluation"),
    PageSpec("persons", "重点人员", "persons"),
    PageSpec("import", "数据导入", "import"),
    PageSpec("screen", "会商大屏", "meeting"),
    PageSpec("admin", "系统管理", "admin"),
)

BY_KEY: dict[str, PageSpec] = {p.key: p for p in PAGES}


def allowed(names: Iterable[str]) -> list[PageSpec]:
    """Pages matching any of ``names`` (access names, keys, titles or script paths), in registry order."""
    wanted = set(names)
    return [p for p in PAGES if wanted & {p.key, p.access, p.title, p.script}]
