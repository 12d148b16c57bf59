"""The admin page offers the reference-data uploads (issue 10.8) next to users and the audit trail."""

from __future__ import annotations

from tests.test_dashboard_pages import open_page, signed_in


def test_admin_page_has_the_reference_data_uploads(demo_db_url, monkeypatch):
    from core import settings

    monkeypatch.setattr(settings, "DB_URL", demo_db_url)
    at = open_page(signed_in("admin"), "admin")
    assert any("基础数据" in s.value for s in at.subheader)
    labels = {m.label: m.value for m in at.metric}
    assert int(str(labels["医院"]).replace(",", "")) == 44  # the demo store's hospital list
    assert int(str(labels["民警"]).replace(",", "")) > 0
    assert [t.label for t in at.tabs] == ["① 医院名单", "② 警力单位", "③ 民警花名册"]
