"""Masking of phones, ID numbers and names in realistic Chinese incident text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.trust.privacy import contains_personal, mask_frame, mask_person_name, mask_phone, mask_text

# (text, values that must disappear, fragments that must stay)
CASES = [
    (
        "报警人张伟（电话13812345678）称在门诊楼挂号大厅被号贩子纠缠，对方手机号为139-1234-5678。",
        ["13812345678", "13912345678", "张伟"],
        ["报警人张", "门诊楼挂号大厅", "号贩子"],
    ),
    (
        "投诉人：欧阳娜娜，身份证号110101199003071234，联系电话+86 186 1234 5678，反映有医托拉客。",
        ["110101199003071234", "18612345678", "欧阳娜娜"],
        ["投诉人：欧阳", "反映有医托拉客"],
    ),
    (
        "12345转办：患者家属王秀英反映，座机（010）62345678，身份证11010519850101123X，要求处理倒号行为。",
        ["62345678", "11010519850101123X", "王秀英"],
        ["12345转办", "患者家属王", "要求处理倒号行为"],
    ),
    (
        "嫌疑人刘强，男，身份证410102198507153012，在东门持银行卡6222021234567890123收取挂号费。",
        ["410102198507153012", "6222021234567890123", "刘强"],
        ["嫌疑人刘", "在东门"],
    ),
    (
        "来电人李明称 0755-23456789 为其工作电话，邮箱 liming88@163.com。",
        ["23456789", "liming88", "李明"],
        ["来电人李", "@163.com"],
    ),
]

CASES += [
    ("报警人于勇宇称在东侧路口有人倒卖专家号", ["于勇宇"], ["报警人于**称在东侧路口"]),
    ("报警人傅娟请求处理", ["傅娟"], ["报警人傅*请求处理"]),
    ("当事人：萧丽志，反映被医托骗走500元", ["萧丽志"], ["当事人：萧**，反映"]),
]

#: Text without personal data: must come back unchanged.
CLEAN = [
    "男子在门口倒号，女子称其为医托",
    "2026-11-22 08:30:00 110接警 编号J2026112200001，3号楼2层挂号大厅，出动警力2人",
    "张某某称被骗，已告知到派出所报案",
    "报警人称在挂号大厅被骗，报警人电话已核实，当事人不愿透露姓名",
    "120急救车停在急诊东门，黑救护车报价2000元",
    "",
]


@pytest.mark.parametrize(("text", "gone", "kept"), CASES)
def test_personal_values_are_masked_and_context_kept(text, gone, kept):
    masked = mask_text(text)
    flat = masked.replace("-", "").replace(" ", "")
    for value in gone:
        assert value not in flat, value
    for fragment in kept:
        assert fragment in masked, fragment
    assert not contains_personal(masked)


@pytest.mark.parametrize("text", CLEAN)
def test_text_without_personal_data_is_unchanged(text):
    assert mask_text(text) == text


@pytest.mark.parametrize(("text", "_gone", "_kept"), CASES)
def test_masking_is_idempotent(text, _gone, _kept):
    once = mask_text(text)
    assert mask_text(once) == once


def test_phone_keeps_prefix_and_last_two_digits():
    assert mask_phone("13812345678") == "138******78"
    assert mask_phone("010-62345678") == "010-******78"


def test_person_name_field():
    assert mask_person_name("张伟") == "张*"
    assert mask_person_name("欧阳娜娜") == "欧阳**"
    assert mask_person_name(None) == "" and mask_person_name(np.nan) == ""


def test_mask_frame_masks_every_personal_column_and_tolerates_missing_values():
    df = pd.DataFrame({
        "incident_id": [1, 2, 3],
        "caller_name": ["张伟", None, "欧阳娜娜"],
        "caller_phone": ["13812345678", np.nan, "62345678"],
        "description": ["报警人张伟电话13812345678", None, "身份证110101199003071234"],
        "address": ["东城区帅府园1号", "", "西门 13987654321"],
        "category": ["号贩子/倒号", "医托", "其他"],
    })
    out = mask_frame(df)
    blob = out.astype(str).to_csv()
    for value in ("13812345678", "张伟", "欧阳娜娜", "62345678", "110101199003071234", "13987654321"):
        assert value not in blob
    assert out["caller_name"].tolist() == ["张*", "", "欧阳**"]
    assert out["caller_phone"].iloc[2].endswith("78") and "*" in out["caller_phone"].iloc[2]
    pd.testing.assert_series_equal(out["category"], df["category"])
    assert df["caller_name"].iloc[0] == "张伟"  # the input is not modified


_filler = st.text(alphabet="报警人称在挂号大厅门口被纠缠号贩子医托，。：（）东西南北门 ", max_size=20)


@settings(max_examples=150, deadline=None)
@given(
    before=_filler,
    after=_filler,
    phone=st.from_regex(r"\A1[3-9][0-9]{9}\Z"),
    sep=st.sampled_from(["", " ", "-"]),
)
def test_any_mobile_in_any_text_is_masked(before, after, phone, sep):
    shown = f"{phone[:3]}{sep}{phone[3:7]}{sep}{phone[7:]}"
    masked = mask_text(before + shown + after)
    assert phone not in masked.replace(sep, "") if sep else phone not in masked
    assert phone[3:9] not in masked


@settings(max_examples=150, deadline=None)
@given(before=_filler, after=_filler, body=st.from_regex(r"\A[1-9][0-9]{16}\Z"), last=st.sampled_from("0123456789X"))
def test_any_id_number_in_any_text_is_masked(before, after, body, last):
    number = body + last
    masked = mask_text(f"{before}身份证{number}{after}")
    assert number not in masked and body[6:14] not in masked


# --------------------------------------------------------------------------- personal data only where allowed (issue 11)


def test_import_preview_and_rejected_rows_are_masked_for_roles_that_may_not_see_them():
    import pandas as pd

    from core.trust.privacy import contains_personal, mask_table

    raw = pd.DataFrame({"报警人": ["张三丰"], "电话": ["13812345678"], "内容": ["身份证110101199003071234 来电"],
                        "原因": ["时间无法识别"]})
    masked = mask_table(raw, ["报警人"])
    assert masked.at[0, "报警人"] != "张三丰"
    assert not any(contains_personal(v) for v in masked.to_numpy().ravel())
    assert masked.at[0, "原因"] == "时间无法识别"


def test_quarantine_files_are_deleted_after_the_retention(tmp_path, monkeypatch):
    import os
    import time

    from core import settings
    from geo.io.ingest import purge_quarantine

    monkeypatch.setattr(settings, "VAR_DIR", tmp_path)
    q = tmp_path / "quarantine"
    q.mkdir()
    old, new = q / "batch1_a_rejected.csv", q / "batch2_b_rejected.csv"
    old.write_text("x")
    new.write_text("y")
    past = time.time() - (settings.QUARANTINE_RETENTION_DAYS + 1) * 86400
    os.utime(old, (past, past))
    assert purge_quarantine() == [str(old)]
    assert not old.exists() and new.exists()


def test_cli_personal_export_needs_a_named_user_and_a_reason(tmp_path_factory, monkeypatch, capsys):
    import io
    import sys

    from core import settings
    from core.trust.audit import list_entries
    from core.trust.auth import create_user
    from planning.cli import main
    from tests._planning_store import MONTH, writable

    engine = writable(tmp_path_factory, "personal-cli")
    monkeypatch.setattr(settings, "DB_URL", str(engine.url))
    out = tmp_path_factory.mktemp("out")
    base = ["plan", "--month", MONTH, "--out", str(out), "--formats", "json", "--seed", "1", "--personal"]
    assert main(base) == 2
    assert "--reason" in capsys.readouterr().err
    assert not (out / "plan.json").exists()
    create_user(engine, "chief", "Zhihui-2026!x", role="commander")
    monkeypatch.setattr(sys, "stdin", io.StringIO("Zhihui-2026!x\n"))
    assert main([*base, "--user", "chief", "--password-stdin", "--reason", "排班核对"]) == 0
    actions = list_entries(engine)
    mine = actions[actions["username"] == "chief"]
    assert {"unmask", "personal_export"} <= set(mine["action"])
    assert "排班核对" in " ".join(mine["detail"])
