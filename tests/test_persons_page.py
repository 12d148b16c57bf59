"""The 重点人员 page with each role on the demo store: commanders see persons, profile and graph (masked),
officers only their hospital's targets, liaisons only counts and their hand-over files, no clear ID or phone."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")
from tests._persons_data import ID_RE, PHONE_RE
from tests.test_dashboard_pages import open_page, signed_in


@pytest.fixture
def app_db(demo_db_url, monkeypatch):
    from core import settings

    if not demo_db_url.startswith("sqlite"):
        pytest.skip("the page is checked on the SQLite demo (the loaders are checked on both stores)")
    monkeypatch.setattr(settings, "DB_URL", demo_db_url)
    return demo_db_url


def _text(at) -> str:
    parts = [str(m.value) for m in at.markdown] + [str(c.value) for c in at.caption]
    parts += [str(m.value) for m in at.metric]
    parts += [df.value.to_csv() for df in at.dataframe]
    return "\n".join(parts)


def test_commander_sees_masked_persons_profile_and_graph(app_db):
    at = open_page(signed_in("commander"), "persons")
    assert at.title[0].value == "重点人员"
    labels = {m.label for m in at.metric}
    assert {"重点人员", "出现记录", "团伙线索"} <= labels
    assert next(int(m.value) for m in at.metric if m.label == "重点人员") > 0
    text = _text(at)
    assert "演示" in text and "高峰时段" in text
    assert len(at.get("image")) >= 1  # the group graph as a static PNG (no CDN)
    assert not ID_RE.search(text) and not PHONE_RE.search(text)


def test_officer_sees_only_their_hospital(app_db):
    at = open_page(signed_in("officer"), "persons")
    assert any("驻院民警只看到" in str(c.value) for c in at.caption)
    text = _text(at)
    assert not ID_RE.search(text) and not PHONE_RE.search(text)


def test_liaison_sees_only_counts(app_db):
    at = open_page(signed_in("liaison"), "persons")
    labels = {m.label for m in at.metric}
    assert "涉及医院" in labels and "重点人员" not in labels
    assert not at.selectbox  # no person to pick
    text = _text(at)
    assert not ID_RE.search(text) and not PHONE_RE.search(text) and "*" not in text
