"""Person mentions from incident rows and watch-list sightings."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.io.hospitals import read_hospital_file
from geo.persons.extract import (
    MENTION_COLUMNS,
    combine_mentions,
    detect_sanction,
    extract_incident_mentions,
    names_in_text,
    parse_sightings,
)

KEY = b"k"
ID_A, ID_B, ID_C = "110105199001011235", "110105199001011236", "110105199001011234"


def _incidents() -> pd.DataFrame:
    return pd.DataFrame({
        "source_id": ["a1", "a2", "a3"],
        "received_at": ["2026-05-01 07:10", "2026-05-02 08:00", "2026-05-03 09:00"],
        "hospital_id": ["bj001", None, "bj001"],
        "lon": [116.41, 116.4115, 116.41],
        "lat": [39.911, 39.9013, 39.911],
        "涉案人员": ["赵甲、钱乙", None, None],
        "身份证号": [f"{ID_A}、{ID_B}", None, None],
        "手机号": [None, None, None],
        "description": ["号贩子赵甲（手机19900001234）在门诊倒号",
                        f"嫌疑人孙丙（身份证号{ID_C}，电话199 0000 1111）倒卖专家号",
                        "报警人周伟称被医托拉拢，电话13812345678"],
        "处警结果": ["对赵甲处以罚款200元", "予以口头警告", "民警到场未发现可疑人员"],
    })


@pytest.fixture(scope="module")
def mentions() -> pd.DataFrame:
    return extract_incident_mentions(_incidents(), key=KEY, hospitals=read_hospital_file(), keep_clear=True)


def test_persons_from_columns_text_and_result_are_one_mention_each(mentions):
    a1 = mentions[mentions["record_id"] == "a1"].set_index("name")
    assert sorted(a1.index) == ["赵甲", "钱乙"]
    assert a1.loc["赵甲", "id_number"] == ID_A and a1.loc["钱乙", "id_number"] == ID_B
    assert a1.loc["赵甲", "phone"] == "19900001234"  # from the description, attached to the name before it
    assert a1.loc["赵甲", "origin"] == "column+description+result"


def test_sanction_goes_to_the_person_the_result_names(mentions):
    a1 = mentions[mentions["record_id"] == "a1"].set_index("name")
    assert a1.loc["赵甲", "sanction"] == "fined"
    assert a1.loc["钱乙", "sanction"] == ""
    a2 = mentions[mentions["record_id"] == "a2"].iloc[0]
    assert (a2["name"], a2["id_number"], a2["phone"], a2["sanction"]) == ("孙丙", ID_C, "19900001111", "warned")


def test_callers_are_not_targets(mentions):
    assert "a3" not in set(mentions["record_id"])


def test_hospital_from_coordinates_when_no_id(mentions):
    assert mentions.loc[mentions["record_id"] == "a2", "hospital_id"].iloc[0] == "bj002"


def test_masked_output_holds_no_clear_values():
    out = extract_incident_mentions(_incidents(), key=KEY)
    assert list(out.columns) == list(MENTION_COLUMNS)
    text = out.astype(str).to_csv()
    for clear in (ID_A, ID_B, ID_C, "19900001234", "19900001111", "赵甲", "钱乙", "孙丙"):
        assert clear not in text
    assert set(out["id_masked"]) >= {"110***********1235"}


@pytest.mark.parametrize(("text", "expected"), [
    ("对赵甲处以罚款200元", "fined"),
    ("予以口头警告，后行政拘留5日", "detained"),
    ("移送检察院审查起诉", "prosecuted"),
    ("民警到场未发现可疑人员", ""),
])
def test_hardest_sanction_in_a_result(text, expected):
    assert detect_sanction(text) == expected


def test_custom_sanction_order_limits_levels():
    assert detect_sanction("处以罚款并行政拘留", order=("warned", "fined")) == "fined"


def test_names_in_lists_and_after_role_words():
    assert [n for n, _, _ in names_in_text("号贩子赵甲、钱乙伙同孙丙在门诊倒卖专家号")] == ["赵甲", "钱乙", "孙丙"]
    assert names_in_text("男子在门口徘徊，嫌疑人王某某已离开") == []


def test_sightings_place_by_hospital_id_name_or_coordinates_and_score_filter():
    h = read_hospital_file()
    bj003 = h.set_index("hospital_id").loc["bj003"]
    s = pd.DataFrame({
        "告警编号": ["s1", "s2", "s3", "s4", "s5"],
        "抓拍时间": ["2026-05-01 07:00:00", "2026-05-01 07:05:00", "2026-05-01 07:06:00", "bad", "2026-05-01 08:00"],
        "医院编号": ["bj001", "", "", "bj001", "bj001"],
        "医院": ["", "", h.set_index("hospital_id").loc["bj004", "name"], "", ""],
        "经度": [None, bj003["lon"] + 0.0005, None, None, None],
        "纬度": [None, bj003["lat"], None, None, None],
        "布控编号": ["WL-1", "WL-1", "WL-2", "WL-1", "WL-3"],
        "身份证号": [ID_A, "", "", "", ""],
        "相似度": [0.95, 0.9, 0.91, 0.95, 0.6],
    })
    out = parse_sightings(s, key=KEY, hospitals=h, min_score=0.8)
    assert list(out["mention_id"]) == ["S:s1", "S:s2", "S:s3"]
    assert list(out["hospital_id"]) == ["bj001", "bj003", "bj004"]
    assert list(out["person_ref"]) == ["WL-1", "WL-1", "WL-2"]
    assert (out["source"] == "sighting").all()
    assert ID_A not in out.astype(str).to_csv()


def test_sightings_without_person_reference_are_refused():
    with pytest.raises(ValueError, match="person reference"):
        parse_sightings(pd.DataFrame({"抓拍时间": ["2026-05-01"], "医院编号": ["bj001"]}), key=KEY)


def test_combine_refuses_duplicate_mention_ids(mentions):
    with pytest.raises(ValueError, match="Duplicate mention ids"):
        combine_mentions(mentions, mentions)


def test_store_frames_with_zone_aware_times_give_wall_clock_times():
    df = pd.DataFrame({"source_id": ["a"], "hospital_id": ["bj001"], "caller_name": ["李四"],
                       "received_at": pd.to_datetime(["2026-05-01 07:10"]).tz_localize("Asia/Shanghai"),
                       "description": ["号贩子赵甲（手机19900001234）倒号"]})
    out = extract_incident_mentions(df, key=KEY, keep_clear=True)
    assert out["seen_at"].iloc[0] == pd.Timestamp("2026-05-01 07:10")
    assert list(out["name"]) == ["赵甲"]  # the caller column is not a person column


@pytest.mark.parametrize(("result", "sanction"), [("对朱乙移送检察院审查起诉", "prosecuted"), ("对朱乙行政拘留5日", "detained")])
def test_a_name_read_too_long_from_the_result_is_the_known_person(result, sanction):
    df = pd.DataFrame({"source_id": ["r"], "received_at": ["2026-05-01 08:00"], "涉案人员": ["朱乙"],
                       "处警结果": [result]})
    out = extract_incident_mentions(df, key=KEY, keep_clear=True)
    assert list(out["name"]) == ["朱乙"] and list(out["sanction"]) == [sanction]
