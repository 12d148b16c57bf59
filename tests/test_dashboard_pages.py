"""AppTest checks of every dashboard page on the demo store: renders, filters change the figures, roles."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
STATIC = Path(APP).parent / "static"
COMMANDER_PAGES = ["overview", "map", "analysis", "hospitals", "plan", "evaluation", "screen"]


@pytest.fixture
def app_db(demo_db_url, monkeypatch):
    """Point the dashboard at the shared demo store."""
    from core import settings
    from dashboard import ui

    monkeypatch.setattr(settings, "DB_URL", demo_db_url)
    monkeypatch.setattr(ui, "WARM_UP", False)  # no background analyses competing with the test
    return demo_db_url


def signed_in(role: str = "commander") -> AppTest:
    """An AppTest session signed in with the one-click demo account of ``role``."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    at.button(key=f"demo_demo_{role}").click().run()
    assert not at.exception, at.exception
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> int:
    m = next(m for m in at.metric if m.label == label)
    return int(str(m.value).replace(",", ""))


def test_sign_in_form_comes_first(app_db):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert any(t.label == "密码" for t in at.text_input)
    assert not at.metric  # no figures before sign-in


@pytest.mark.parametrize("page", COMMANDER_PAGES)
def test_page_renders_with_demo_banner(app_db, page):
    at = open_page(signed_in(), page)
    assert any("演示数据（合成，非真实警情）" in e.value for e in at.error), f"{page}: demo banner missing"


def test_overview_period_change_changes_figures(app_db, demo_engine):
    from core.db import load_incidents

    at = open_page(signed_in(), "overview")
    before = metric(at, "警情总数")
    start, end = dt.date(2026, 3, 1), dt.date(2026, 3, 14)
    at.date_input(key="overview_period").set_value((start, end)).run()
    assert not at.exception
    after = metric(at, "警情总数")
    expected = len(load_incidents(demo_engine, start=start, end=end + dt.timedelta(days=1)))
    assert after == expected
    assert after != before


def test_map_category_filter_changes_figures(app_db, demo_engine):
    from core.db import load_incidents

    at = open_page(signed_in(), "map")
    start, end = at.date_input(key="map_period").value
    total = metric(at, "筛选后警情")
    at.multiselect(key="map_cats").set_value(["医托"]).run()
    assert not at.exception
    touts = metric(at, "筛选后警情")
    expected = load_incidents(demo_engine, start=start, end=end + dt.timedelta(days=1), categories=["医托"])
    assert touts == len(expected)
    assert 0 < touts < total


def test_map_loads_only_vendored_assets(app_db):
    at = open_page(signed_in(), "map")
    comps = [c for c in at.get("component_instance") if "st_folium" in c.proto.component_name]
    assert comps, "no map on the page"
    args = json.loads(comps[0].proto.json_args)
    links = args["js_links"] + args["css_links"]
    assert links
    for url in links:
        assert url.startswith("/app/static/"), url
        assert (STATIC / url.removeprefix("/app/static/")).is_file(), url
    assert "https://" not in args["script"] and "http://" not in args["script"]
    assert args["returned_objects"] == []  # panning must not rerun the app


def test_officer_sees_only_own_hospital(app_db):
    at = signed_in("officer")
    with pytest.raises(ValueError, match="navigation page"):
        at.switch_page("views/screen.py")  # not registered for officers
    open_page(at, "map")
    assert metric(at, "涉及医院") <= 1
    open_page(at, "plan")  # read-only: no generate button, the approved plan or a notice
    assert not any(b.key == "plan_go" for b in at.button)
    assert any("尚未批准" in i.value for i in at.info)


def test_liaison_sees_statistics_pages_only(app_db):
    at = signed_in("liaison")
    for page in ("map", "plan", "screen", "analysis"):
        with pytest.raises(ValueError, match="navigation page"):
            at.switch_page(f"views/{page}.py")
    open_page(at, "evaluation")


def test_liaison_overview_counts_without_incident_rows(app_db, demo_engine):
    """The liaison's figures come from identity-free incident facts, never from incident rows."""
    from core.trust.access import scope_for_role
    from dashboard import data

    scope = scope_for_role("liaison", username="l")
    with pytest.raises(PermissionError):
        data.store.load_incidents(demo_engine, scope=scope)
    at = open_page(signed_in("liaison"), "overview")
    assert metric(at, "警情总数") > 0
    cached = data._incidents(app_db, data.data_version(app_db), data._scope_key(scope))
    assert not {"incident_id", "lon", "lat", "address", "description", "caller_phone"} & set(cached.columns)


def test_import_page_is_for_admins(app_db):
    with pytest.raises(ValueError, match="navigation page"):
        signed_in("commander").switch_page("views/import.py")
    at = open_page(signed_in("admin"), "import")
    assert any(u.label == "选择文件" for u in at.get("file_uploader"))


@pytest.fixture
def writable_db(demo_copy_url, monkeypatch):
    """A private copy of the demo store for tests that write (plans, overrides)."""
    from core import settings

    monkeypatch.setattr(settings, "DB_URL", demo_copy_url)
    from dashboard import ui

    monkeypatch.setattr(ui, "WARM_UP", False)
    return demo_copy_url


def test_keylist_override_needs_a_note_and_is_stored(writable_db):
    from core.db import get_engine
    from planning.keylist import final_keylist

    at = open_page(signed_in(), "hospitals")
    month = at.selectbox(key="kl_month").value
    listed_before = metric(at, "列入清单")
    table = at.data_editor[0].value
    row = int(table.index[table["重点"]][0])
    hid = table.loc[row, "hospital_id"]
    # Un-list the top hospital without a note: refused.
    at.session_state["kl_editor"] = {"edited_rows": {row: {"重点": False}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert any("调整说明" in w.value for w in at.warning)
    assert not any(b.key == "kl_save" for b in at.button)
    # With a note it can be saved, and the stored final list changes.
    at.session_state["kl_editor"] = {
        "edited_rows": {row: {"重点": False, "调整说明": "测试：已整改到位"}}, "added_rows": [], "deleted_rows": [],
    }
    at.run()
    at.button(key="kl_save").click().run()
    assert not at.exception
    assert hid not in final_keylist(get_engine(writable_db), month=month)
    assert metric(at, "列入清单") == listed_before - 1


@pytest.mark.slow
def test_plan_generates_actions_schedules_and_approval(writable_db):
    from core.db import get_engine
    from planning.keylist import final_keylist

    at = open_page(signed_in(), "plan")
    month = at.selectbox(key="plan_month").value
    at.button(key="plan_go").click().run(timeout=300)
    assert not at.exception, [e.message for e in at.exception]
    assert metric(at, "集中行动") == len(final_keylist(get_engine(writable_db), month=month))
    assert metric(at, "巡逻到点（次）") > 0
    at.button(key="plan_approve").click().run(timeout=120)
    assert not at.exception
    assert any("已批准并存档" in s.value for s in at.success)
    # Exports are built on request, then offered for download.
    assert not any(b.key == "plan_dl_xlsx" for b in at.get("download_button"))
    at.button(key="plan_mk_xlsx").click().run(timeout=120)
    assert not at.exception, [e.message for e in at.exception]
    assert any(b.key == "plan_dl_xlsx" for b in at.get("download_button"))


REAL_ADMIN = ("chief", "Chief-Pass-2026x")


@pytest.fixture
def real_store(empty_engine, monkeypatch):
    """A real (non-demo) store with the hospital list and one administrator, as a new bureau has it."""
    from core import settings
    from core.trust.auth import create_user
    from dashboard import ui

    create_user(empty_engine, REAL_ADMIN[0], REAL_ADMIN[1], role="admin")
    url = empty_engine.url.render_as_string(hide_password=False)
    monkeypatch.setattr(settings, "DB_URL", url)
    monkeypatch.setattr(ui, "WARM_UP", False)
    return url


def signed_in_with_password(username: str, password: str) -> AppTest:
    """An AppTest session signed in through the sign-in form (real stores offer no one-click accounts)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert not any(b.key and b.key.startswith("demo_demo_") for b in at.button)
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_import_into_the_demo_store_is_refused(writable_db):
    from core.db import get_engine, incident_count

    before = incident_count(get_engine(writable_db))
    csv = "接警单编号,报警时间,经度,纬度,简要警情\nT-1,2026-10-20 07:15:00,116.409669,39.910989,有人倒卖专家号\n".encode()
    at = open_page(signed_in("admin"), "import")
    at.selectbox(key="imp_source").set_value("110")
    at.get("file_uploader")[0].set_value(("测试110.csv", csv, "text/csv"))
    at.run()
    at.button(key="imp_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    # Issue 11: the demo store refuses real imports (demo and real never mix); nothing is written.
    assert any("演示存储" in e.value for e in at.error)
    assert incident_count(get_engine(writable_db)) == before


def test_import_upload_preview_progress_and_rejected_rows(real_store):
    from core.db import get_engine, incident_count

    writable_db = real_store
    before = incident_count(get_engine(writable_db))
    csv = (
        "某市公安局110接处警登记表\n"
        "接警单编号,报警时间,经度,纬度,简要警情\n"
        "T-1,2026-10-20 07:15:00,116.409669,39.910989,有人倒卖专家号\n"
        "T-2,2026-10-21 08:05:00,116.411443,39.901261,<b>医托</b>拉拢患者\n"
        "T-3,不是时间,116.41,39.91,时间无法识别\n"
    ).encode()
    at = open_page(signed_in_with_password(*REAL_ADMIN), "import")
    at.selectbox(key="imp_source").set_value("110")
    at.get("file_uploader")[0].set_value(("测试110.csv", csv, "text/csv"))
    at.run()
    assert not at.exception
    mapping = next(d.value for d in at.dataframe if "系统字段" in d.value.columns)
    assert {"时间", "经度", "纬度"} <= set(mapping["系统字段"])
    at.button(key="imp_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert metric(at, "总行数") == 3
    assert metric(at, "已入库") == 2
    assert metric(at, "不合格") == 1
    assert incident_count(get_engine(writable_db)) == before + 2
    rejected = at.dataframe[-1].value
    assert len(rejected) == 1 and "T-3" in rejected.to_string()
    assert any(b.label.startswith("下载不合格行") for b in at.get("download_button"))


def test_import_unknown_headers_mapped_in_page_and_swapped_rows_noted(real_store, tmp_path, monkeypatch):
    """Unknown headers: the user maps them in the page; the mapping is saved; a swapped row carries a note."""
    from geo.io import ingest

    user_map = tmp_path / "header_map_user.yaml"
    monkeypatch.setattr(ingest, "USER_HEADER_MAP_FILE", user_map)
    csv = (
        "单号,发案时点,东经度数,北纬度数,情况\n"
        "U-1,2026-10-20 07:15:00,116.409669,39.910989,有人倒卖专家号\n"
        "U-2,2026-10-21 08:05:00,39.901261,116.411443,医托拉拢患者\n"
    ).encode()
    at = open_page(signed_in_with_password(*REAL_ADMIN), "import")
    at.selectbox(key="imp_source").set_value("110")
    at.get("file_uploader")[0].set_value(("未知表头.csv", csv, "text/csv"))
    at.run()
    assert not at.exception
    assert any("未能自动识别表头" in w.value for w in at.warning)
    assert not any(b.key == "imp_go" for b in at.button)  # nothing to import before the columns are mapped
    at.session_state["imp_map_editor"] = {"edited_rows": {
        0: {"对应系统字段": "编号"}, 1: {"对应系统字段": "时间"}, 2: {"对应系统字段": "经度"},
        3: {"对应系统字段": "纬度"}, 4: {"对应系统字段": "内容"},
    }, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="imp_map_save").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert user_map.exists() and "发案时点" in user_map.read_text(encoding="utf-8")
    # Recognised now (and for the next file with these headers): import it.
    mapping = next(d.value for d in at.dataframe if "系统字段" in d.value.columns)
    assert {"时间", "经度", "纬度", "编号"} <= set(mapping["系统字段"])
    at.button(key="imp_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert metric(at, "已入库") == 2
    notes = next(d.value for d in at.dataframe if {"行号", "说明"} <= set(d.value.columns))
    assert list(notes["行号"]) == [3] and "填反" in notes["说明"].iloc[0]
    assert any("填反" in i.value for i in at.info)


def test_incident_details_are_masked_text(app_db, demo_engine):
    from core.db import load_incidents

    at = open_page(signed_in(), "map")
    at.checkbox(key="map_details").check().run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert len(table) > 0
    raw = load_incidents(demo_engine)
    phones = {p for p in raw["caller_phone"] if p}
    text = " ".join(table["内容"].astype(str))
    assert not any(p in text for p in phones)  # commander without unmasking sees masked text


def test_meeting_screen_rotation(app_db):
    at = open_page(signed_in(), "screen")
    titles = {h.value for h in at.subheader}
    at.toggle(key="screen_rotate").set_value(True).run()
    assert not at.exception
    assert {h.value for h in at.subheader} != titles  # the rotating panel shows another pair


def test_analysis_on_demand_emerging_and_backtest(app_db):
    at = open_page(signed_in(), "analysis")
    at.multiselect(key="ana_hospitals").set_value(["bj002"]).run()
    assert not at.exception
    at.button(key="eh_run").click().run()
    assert not at.exception, [e.message for e in at.exception]
    at.button(key="bt_run").click().run(timeout=300)
    assert not at.exception, [e.message for e in at.exception]
    bt = next(d.value for d in at.dataframe if "预测效率（PAI）" in d.value.columns)
    assert bt["方法"].nunique() >= 2
    assert (bt["命中率"].between(0, 1)).all()


def test_admin_page_registered_for_admins_only(app_db):
    with pytest.raises(ValueError, match="navigation page"):
        signed_in("commander").switch_page("views/admin.py")
    open_page(signed_in("admin"), "admin")


def test_trend_draws_the_running_month_apart_and_labelled():
    """A month with one day of data is not on the line: a hollow point labelled 本月至今（截至…）."""
    from dashboard import ui

    clk = ui.Clock(today=dt.date(2026, 12, 1), first=dt.date(2026, 1, 1), last=dt.date(2026, 12, 1),
                   complete_through=dt.date(2026, 11, 30))
    counts = pd.Series([300, 310, 12], index=pd.to_datetime(["2026-10-01", "2026-11-01", "2026-12-01"]))
    frame = ui.trend_frame(counts, "M", clk)
    assert list(frame["状态"]) == ["完整", "完整", "不完整"]
    assert frame["标注"].iloc[-1] == "本月至今（截至12月1日）"
    spec = ui.trend_chart(counts, "M", clk).to_dict()
    line = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "line")
    datasets = spec["datasets"]
    on_line = datasets[line["data"]["name"]]
    assert [r["起数"] for r in on_line] == [300, 310]  # the running month is not joined to the line
    texts = [r["文字"] for layer in spec["layer"] if layer["mark"]["type"] == "text"
             for r in datasets[layer["data"]["name"]]]
    assert texts == ["本月至今（截至12月1日），不完整"]
    # Chinese axis format, never English month names.
    assert line["encoding"]["x"]["axis"]["format"] == "%Y年%-m月"


def test_overview_names_the_running_month(app_db, monkeypatch):
    """Seen on the data's last day, that day and its month are incomplete and the page says so."""
    from dashboard import ui

    monkeypatch.setattr(ui, "today", lambda: dt.date(2026, 10, 31))
    at = open_page(signed_in(), "overview")
    _start, end = at.date_input(key="overview_period").value
    assert end == dt.date(2026, 10, 30)  # the default period ends on the last complete day
    captions = " ".join(c.value for c in at.caption)
    assert "本月至今（截至10月31日）" in captions


def test_analysis_says_what_next_months_forecast_is_worth(app_db):
    """热点研判 states, in plain words, how much more the chosen forecast covers than counting the past."""
    at = open_page(signed_in(), "analysis")
    at.multiselect(key="ana_hospitals").set_value(["bj002"]).run()
    at.button(key="fw_run").click().run(timeout=300)
    assert not at.exception, [e.message for e in at.exception]
    text = " ".join(str(e.value) for e in [*at.info, *at.warning]).replace("\\", "")  # Markdown escapes
    assert "下月预测" in text or "暂不能评估" in text
    if "下月预测" in text:
        assert "5%" in text and ("95% 区间" in text or "未能稳定优于按历史计数" in text)


@pytest.mark.parametrize("shape", ["trend_one", "trend_many", "trend_weekly", "bars", "hour_weekday"])
def test_charts_drawn_without_a_check_on_each_rerun_are_valid_vega_lite(shape):
    """The chart builders skip altair's schema check when Streamlit draws them (``ui.prevalidated``); here every
    shape they make is checked once against the Vega-Lite schema."""
    import altair as alt

    from dashboard import ui

    clk = ui.Clock(today=dt.date(2026, 12, 1), first=dt.date(2026, 1, 10), last=dt.date(2026, 12, 1),
                   complete_through=dt.date(2026, 11, 30))
    months = pd.to_datetime(["2026-01-01", "2026-06-01", "2026-11-01", "2026-12-01"])
    chart = {
        "trend_one": lambda: ui.trend_chart(pd.Series([5, 300, 310, 12], index=months), "M", clk),
        "trend_many": lambda: ui.trend_chart(pd.DataFrame({"110": [1, 2, 3, 1], "12345": [3, 2, 1, 0]},
                                                          index=months), "M", clk),
        "trend_weekly": lambda: ui.trend_chart(pd.Series([4, 5], index=pd.to_datetime(["2026-11-23", "2026-11-30"])),
                                               "W", clk),
        "bars": lambda: ui.bar_chart(pd.Series({"号贩子": 3, "医托": 1, "无": 0})),
        "hour_weekday": lambda: ui.hour_weekday_chart(pd.DataFrame(np.arange(168).reshape(7, 24),
                                                                   columns=range(24))),
    }[shape]()
    assert isinstance(chart, alt.TopLevelMixin)
    spec = type(chart).to_dict(chart, validate=True)  # raises on a spec the schema rejects
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    # What Streamlit calls skips the check and gives the same spec.
    assert chart.to_dict() == spec
