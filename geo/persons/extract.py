"""Person mentions from incident rows and watch-list sightings.

A *mention* is one appearance of one person in one record: a suspect named in a 110 call or
case (from person columns such as 涉案人员/身份证号/手机号, from names after role words in the
description, from the disposal result 处警结果), or a watch-list hit of a hospital camera or
checkpoint. Both extractors return the same columns (:data:`MENTION_COLUMNS`), with identity
fields as keyed hashes and masked forms (see :mod:`geo.persons.identity`); clear values are
kept only when asked for (``keep_clear=True``).

Callers and complainants (报警人, 投诉人) are not extracted: they are not targets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from core import settings
from geo.io.hospitals import assign_nearest, match_hospital_names
from geo.persons.identity import (
    CLEAR_COLUMNS,
    normalize_id_number,
    normalize_name,
    normalize_phone,
    protect_identity,
)

#: Columns of every mentions frame (identity columns as produced by :func:`protect_identity`).
MENTION_COLUMNS: tuple[str, ...] = (
    "mention_id", "source", "record_id", "origin", "role", "seen_at", "hospital_id", "lon", "lat",
    "camera_id", "person_ref", "sanction",
    "name_hash", "name_masked", "id_hash", "id_masked", "id_status", "phone_hash", "phone_masked",
)

#: Sanction ladder from mildest to hardest (default order; any order can be passed to the pattern functions).
SANCTIONS: tuple[str, ...] = settings.SANCTION_LADDER
#: Chinese labels of the sanctions.
SANCTION_LABELS: dict[str, str] = settings.SANCTION_LABELS
#: Patterns that reveal a sanction in a disposal result; the hardest matching one is kept.
SANCTION_PATTERNS: dict[str, str] = {
    "warned": r"警告|训诫|批评教育|教育后|告诫|劝离",
    "fined": r"罚款|罚金(?!刑)",
    "detained": r"拘留|羁押",
    "prosecuted": r"起诉|逮捕|判处|判刑|审查起诉|移送检察",
}

#: Accepted names of each input column, first match wins (store names, then common export headers).
INCIDENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "record_id": ("source_id", "incident_id", "警情编号", "接警编号", "案件编号", "id"),
    "time": ("received_at", "报警时间", "接警时间", "发案时间"),
    "hospital_id": ("hospital_id", "医院编号"),
    "hospital_name": ("医院", "hospital_name"),
    "lon": ("lon", "经度"),
    "lat": ("lat", "纬度"),
    "names": ("涉案人员", "嫌疑人", "嫌疑人姓名", "违法人员", "违法嫌疑人", "姓名", "person_name", "suspect_name", "persons"),
    "id_numbers": ("身份证号", "身份证号码", "公民身份号码", "证件号码", "id_number", "suspect_id_number"),
    "phones": ("手机号", "手机号码", "嫌疑人电话", "涉案人员电话", "phone_number", "suspect_phone"),
    "description": ("description", "简要警情", "警情内容", "简要案情", "反映内容"),
    "result": ("处警结果", "处置结果", "处理结果", "disposal", "result"),
}
#: Accepted names of each sightings column.
SIGHTING_COLUMNS: dict[str, tuple[str, ...]] = {
    "record_id": ("sighting_id", "告警编号", "抓拍编号", "记录编号", "id"),
    "time": ("seen_at", "抓拍时间", "告警时间", "时间", "time"),
    "hospital_id": ("hospital_id", "医院编号"),
    "hospital_name": ("医院", "hospital_name", "点位所属医院"),
    "lon": ("lon", "经度"),
    "lat": ("lat", "纬度"),
    "camera_id": ("camera_id", "点位编号", "设备编号", "卡口编号"),
    "person_ref": ("person_ref", "布控编号", "人员编号", "库内编号"),
    "names": ("姓名", "name", "布控人员"),
    "id_numbers": ("身份证号", "身份证号码", "证件号码", "id_number"),
    "phones": ("手机号", "phone_number"),
    "score": ("similarity", "相似度", "score"),
}

#: Role words after which a target's name follows in descriptions and results.
ROLE_WORDS: tuple[str, ...] = (
    "犯罪嫌疑人", "违法嫌疑人", "嫌疑人", "违法人员", "涉案人员", "倒号人员", "号贩子", "票贩子", "黄牛", "医托",
    "姓名", "名叫", "男子", "女子", "伙同", "同伙",
)
#: Words in a disposal result after which the sanctioned person's name follows.
RESULT_WORDS: tuple[str, ...] = ("对", "将", "把", "给予", "予以")
_COMPOUND = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "长孙", "宇文", "端木")
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"
    "夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申"
    "欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉"
    "缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
    "傅萧洪赖谈郁燕冀计揭鄢糜花衣楚匡竺冼栗荆鞠胥蔺郜邸廉奚晋幸"
)
#: Characters that end a name: function words and verbs that typically follow it in records.
_STOP = "处予罚给作移送带传拘判在于因称说讲诉请向到被把将与和及等的了是从对为要来去拨打报反投持携手电号某之也即已又均并且现遭系倒卖正以拉兜招揽私非多再还伙同、，,。；;：:（）()身"
_NAME = rf"(?:{'|'.join(_COMPOUND)}|[{_SURNAMES}])(?:(?![{_STOP}])[\u4e00-\u9fa5]){{1,2}}"
_SEP = r"[：:，,\s]{0,2}"
_ROLE_NAME = re.compile(rf"(?:{'|'.join(ROLE_WORDS)}){_SEP}({_NAME})")
_RESULT_NAME = re.compile(rf"(?:{'|'.join(RESULT_WORDS)})({_NAME})")
_LIST_NEXT = re.compile(rf"[、和与及]({_NAME})")
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<![\d])(?:(?:\+|00)?86[-\s]?)?(1[3-9]\d[-\s]?\d{4}[-\s]?\d{4})(?!\d)")
_LIST_SPLIT = re.compile(r"[、，,;；/\s]+")
#: Characters after a name within which an ID number or phone in the text is attached to it.
ATTACH_CHARS = 40


def _pick(frame: pd.DataFrame, aliases: Mapping[str, Sequence[str]], key: str) -> str | None:
    return next((c for c in aliases[key] if c in frame.columns), None)


def _blank(v: object) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or str(v).strip() in ("", "None", "nan")


def _cells(frame: pd.DataFrame, column: str | None) -> list:
    return [None] * len(frame) if column is None else frame[column].tolist()


def _split(cell: object, normalize) -> list:
    if cell is None or (isinstance(cell, float) and np.isnan(cell)) or cell is pd.NA:
        return []
    return [normalize(p) for p in _LIST_SPLIT.split(str(cell)) if p.strip()]


def detect_sanction(text: object, *, patterns: Mapping[str, str] | None = None,
                    order: Sequence[str] = SANCTIONS) -> str:
    """Hardest sanction named in a disposal result (``""`` when none).

    Parameters
    ----------
    text
        Disposal result such as ``"对赵甲处以罚款200元"``.
    patterns
        Regular expression per sanction; default :data:`SANCTION_PATTERNS`.
    order
        Sanctions from mildest to hardest; only those in ``order`` are reported.
    """
    if not isinstance(text, str) or not text:
        return ""
    patterns = SANCTION_PATTERNS if patterns is None else patterns
    found = ""
    for level in order:
        pat = patterns.get(level)
        if pat and re.search(pat, text):
            found = level
    return found


def names_in_text(text: object) -> list[tuple[str, int, int]]:
    """Target names in free text with their spans: after role words, and listed after them (赵甲、钱乙).

    Returns
    -------
    list of (name, start, end)
        Normalised names in order of appearance; anonymised names (王某) are skipped.
    """
    if not isinstance(text, str) or not text:
        return []
    out: list[tuple[str, int, int]] = []
    for rx in (_ROLE_NAME, _RESULT_NAME):
        for m in rx.finditer(text):
            spans = [(m.group(1), m.start(1), m.end(1))]
            pos = m.end(1)
            while (nxt := _LIST_NEXT.match(text, pos)) is not None:
                spans.append((nxt.group(1), nxt.start(1), nxt.end(1)))
                pos = nxt.end(1)
            for name, s, e in spans:
                norm = normalize_name(name)
                if norm and not any(s < e2 and s2 < e for _, s2, e2 in out):
                    out.append((norm, s, e))
    return sorted(out, key=lambda t: t[1])


def _text_people(text: object) -> list[dict]:
    """People named in a text with the ID numbers and mobiles written just after their names."""
    people = [{"name": n, "id_number": None, "phone": None, "_end": e} for n, _, e in names_in_text(text)]
    if not people:
        return []
    for rx, field, norm in ((_ID_IN_TEXT, "id_number", normalize_id_number), (_MOBILE_IN_TEXT, "phone", normalize_phone)):
        for m in rx.finditer(text):
            before = [p for p in people if p["_end"] <= m.start() and m.start() - p["_end"] <= ATTACH_CHARS]
            if before and before[-1][field] is None:
                before[-1][field] = norm(m.group(1))
    return people


def _known_prefix(name: str | None, people: list[dict]) -> str | None:
    """A name read one character too long from free text (赵甲移 in 对赵甲移送…) is the known 赵甲."""
    known = {p["name"] for p in people if p["name"]}
    if name and name not in known and len(name) >= 3 and name[:-1] in known:
        return name[:-1]
    return name


def _merge_into(people: list[dict], new: dict) -> None:
    """Add ``new`` to the people of one record, merging with the same name when nothing conflicts."""
    for p in people:
        same = (new["name"] and p["name"] == new["name"]) or (new["id_number"] and p["id_number"] == new["id_number"])
        conflict = any(new[f] and p[f] and new[f] != p[f] for f in ("name", "id_number", "phone"))
        if same and not conflict:
            for f in ("name", "id_number", "phone"):
                p[f] = p[f] or new[f]
            p["origin"] |= new["origin"]
            return
    people.append(new)


def extract_incident_mentions(
    incidents: pd.DataFrame,
    *,
    key: bytes | str,
    keep_clear: bool = False,
    columns: Mapping[str, Sequence[str]] | None = None,
    sanction_patterns: Mapping[str, str] | None = None,
    sanction_order: Sequence[str] = SANCTIONS,
    hospitals: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Person mentions in incident rows (110 calls, cases, complaints).

    Persons come from the person columns (names, ID numbers and phones split on 、，; and paired
    by position when their counts agree), from names after role words in the description
    (with an ID number or mobile written right after the name), and from names in the
    disposal result; the same person named in several places of one record is one mention.
    A sanction found in the result (:func:`detect_sanction`) goes to the persons the result
    names, or to every person of the record when it names none.

    Parameters
    ----------
    incidents
        One row per incident; column names as in :data:`INCIDENT_COLUMNS` (store names or
        export headers). Needs a record id and a time column.
    key
        Deployment secret for the keyed hashes.
    keep_clear
        Also return the clear ``name``, ``id_number``, ``phone`` columns.
    columns
        Column aliases overriding :data:`INCIDENT_COLUMNS` (same keys).
    sanction_patterns, sanction_order
        See :func:`detect_sanction`.
    hospitals
        Hospital table, used only to map a hospital-name column to ids when no id column exists.

    Returns
    -------
    pandas.DataFrame
        :data:`MENTION_COLUMNS` (``seen_at`` as naive wall-clock time) with ``source="incident"``,
        ``origin`` a sorted ``"+"``-joined
        subset of ``column``/``description``/``result``, ``role="suspect"``; mention ids are
        ``"I:<record_id>:<k>"``.
    """
    aliases = {**INCIDENT_COLUMNS, **(columns or {})}
    pick = {k: _pick(incidents, aliases, k) for k in aliases}
    missing = [k for k in ("record_id", "time") if pick[k] is None]
    if missing:
        raise ValueError(f"`incidents` lacks a {missing} column; accepted names: "
                         f"{ {k: list(aliases[k]) for k in missing} }.")
    rec_ids = incidents[pick["record_id"]].astype(str).tolist()
    names_c, ids_c, phones_c = (_cells(incidents, pick[k]) for k in ("names", "id_numbers", "phones"))
    desc_c, res_c = _cells(incidents, pick["description"]), _cells(incidents, pick["result"])
    rows: list[dict] = []
    for i, rec in enumerate(rec_ids):
        people: list[dict] = []
        names = [n for n in _split(names_c[i], normalize_name) if n]
        ids = [v for v in _split(ids_c[i], normalize_id_number) if v]
        phones = [v for v in _split(phones_c[i], normalize_phone) if v]
        pair_ids, pair_phones = len(ids) == len(names), len(phones) == max(len(names), len(ids))
        for k, n in enumerate(names):
            _merge_into(people, {"name": n, "origin": {"column"}, "id_number": ids[k] if pair_ids else None,
                                 "phone": phones[k] if pair_phones else None})
        for k, v in enumerate(ids if not pair_ids else []):
            _merge_into(people, {"name": None, "id_number": v, "origin": {"column"},
                                 "phone": phones[k] if pair_phones and not names else None})
        for p in _text_people(desc_c[i]):
            _merge_into(people, {"name": _known_prefix(p["name"], people), "id_number": p["id_number"],
                                 "phone": p["phone"], "origin": {"description"}})
        sanction = detect_sanction(res_c[i], patterns=sanction_patterns, order=sanction_order)
        named = _text_people(res_c[i])
        for p in named:
            p["name"] = _known_prefix(p["name"], people)
            _merge_into(people, {"name": p["name"], "id_number": p["id_number"], "phone": p["phone"],
                                 "origin": {"result"}})
        named_names = {p["name"] for p in named}
        for k, p in enumerate(people):
            gets = bool(sanction) and (not named_names or p["name"] in named_names)
            rows.append({"mention_id": f"I:{rec}:{k}", "row": i, "origin": "+".join(sorted(p["origin"])),
                         "name": p["name"], "id_number": p["id_number"], "phone": p["phone"],
                         "sanction": sanction if gets else ""})
    return _finish(incidents, rows, pick, source="incident", key=key, keep_clear=keep_clear, hospitals=hospitals)


def _finish(frame: pd.DataFrame, rows: list[dict], pick: Mapping[str, str | None], *, source: str,
            key: bytes | str, keep_clear: bool, hospitals: pd.DataFrame | None,
            radius_m: float | None = None) -> pd.DataFrame:
    """Attach record fields (time, place) to mention rows and protect the identity columns."""
    m = pd.DataFrame(rows, columns=["mention_id", "row", "origin", "name", "id_number", "phone", "sanction"])
    idx = m["row"].to_numpy(dtype=np.int64)
    sub = frame.iloc[idx]
    m["source"] = source
    m["record_id"] = sub[pick["record_id"]].astype(str).to_numpy()
    m["role"] = "suspect" if source == "incident" else "watchlist"
    seen = pd.to_datetime(sub[pick["time"]], errors="coerce")
    if getattr(seen.dt, "tz", None) is not None:  # wall-clock time of the record's own zone
        seen = seen.dt.tz_localize(None)
    m["seen_at"] = seen.astype("datetime64[ns]").to_numpy()
    for c in ("lon", "lat"):
        m[c] = pd.to_numeric(sub[pick[c]], errors="coerce").to_numpy(float) if pick[c] else np.nan
    hid = np.asarray([None if _blank(v) else str(v).strip() for v in _cells(sub, pick["hospital_id"])], dtype=object)
    if hospitals is not None and len(m):
        need = np.asarray([_blank(v) for v in hid])
        if need.any() and pick.get("hospital_name"):
            by_name = match_hospital_names(sub[pick["hospital_name"]].reset_index(drop=True), hospitals).to_numpy()
            hid = np.where(need, by_name, hid)
            need = np.asarray([_blank(v) for v in hid])
        if need.any():
            near, _ = assign_nearest(m["lon"].to_numpy(float), m["lat"].to_numpy(float), hospitals, radius_m=radius_m)
            hid = np.where(need, near, hid)
    m["hospital_id"] = np.asarray([None if _blank(v) else v for v in hid], dtype=object)
    m["camera_id"] = sub[pick["camera_id"]].astype(str).to_numpy() if pick.get("camera_id") else ""
    m["person_ref"] = [("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())
                       for v in (sub[pick["person_ref"]].tolist() if pick.get("person_ref") else [None] * len(m))]
    out = protect_identity(m.drop(columns=["row"]), key, keep_clear=keep_clear)
    cols = list(MENTION_COLUMNS) + ([c for c in CLEAR_COLUMNS] if keep_clear else [])
    return out[cols].reset_index(drop=True)


def parse_sightings(
    sightings: pd.DataFrame,
    *,
    key: bytes | str,
    hospitals: pd.DataFrame | None = None,
    radius_m: float | None = None,
    min_score: float | None = None,
    keep_clear: bool = False,
    columns: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Watch-list hits of hospital cameras or checkpoints as person mentions.

    Parameters
    ----------
    sightings
        One row per hit; columns as in :data:`SIGHTING_COLUMNS`: a time, a place (hospital id,
        hospital name, or lon/lat in WGS-84) and a person reference (watch-list number and/or
        the enrolled person's ID number, name, phone).
    key
        Deployment secret for the keyed hashes.
    hospitals
        Hospital table (``hospital_id, name, full_name, lon, lat``); rows without a hospital id
        get the hospital named, else the nearest one within ``radius_m``.
    radius_m
        Radius for the nearest-hospital assignment; default ``settings.HOSPITAL_RADIUS_M``.
    min_score
        Drop hits whose similarity score is below this value (rows without a score are kept).
    keep_clear
        Also return the clear identity columns.
    columns
        Column aliases overriding :data:`SIGHTING_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
        :data:`MENTION_COLUMNS` with ``source="sighting"``, ``origin="watchlist"``; mention ids
        are ``"S:<sighting_id>"`` (the row number when the frame has no id column). Rows with no
        time or no person reference at all are dropped.
    """
    aliases = {**SIGHTING_COLUMNS, **(columns or {})}
    pick = {k: _pick(sightings, aliases, k) for k in aliases}
    if pick["time"] is None:
        raise ValueError(f"`sightings` lacks a time column; accepted names: {list(aliases['time'])}.")
    if not any(pick[k] for k in ("person_ref", "id_numbers", "names")):
        raise ValueError("`sightings` lacks a person reference column; accepted names: "
                         f"{list(aliases['person_ref']) + list(aliases['id_numbers']) + list(aliases['names'])}.")
    frame = sightings.reset_index(drop=True)
    if pick["record_id"] is None:
        frame = frame.assign(_sighting_id=np.arange(len(frame)).astype(str))
        pick["record_id"] = "_sighting_id"
    keep = pd.to_datetime(frame[pick["time"]], errors="coerce").notna().to_numpy().copy()
    if min_score is not None and pick["score"]:
        score = pd.to_numeric(frame[pick["score"]], errors="coerce").to_numpy(float)
        keep &= ~(score < float(min_score))
    names = [normalize_name(v) for v in _cells(frame, pick["names"])]
    ids = [normalize_id_number(v) for v in _cells(frame, pick["id_numbers"])]
    phones = [normalize_phone(v) for v in _cells(frame, pick["phones"])]
    refs = [None if v is None or (isinstance(v, float) and np.isnan(v)) or not str(v).strip() else v
            for v in _cells(frame, pick["person_ref"])]
    rec = frame[pick["record_id"]].astype(str).tolist()
    rows = [{"mention_id": f"S:{rec[i]}", "row": i, "origin": "watchlist", "name": names[i], "id_number": ids[i],
             "phone": phones[i], "sanction": ""}
            for i in range(len(frame)) if keep[i] and (names[i] or ids[i] or refs[i])]
    return _finish(frame, rows, pick, source="sighting", key=key, keep_clear=keep_clear, hospitals=hospitals,
                   radius_m=radius_m)


def combine_mentions(*frames: pd.DataFrame) -> pd.DataFrame:
    """Stack mentions frames (incidents and sightings), checking that mention ids are unique."""
    out = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) \
        else pd.DataFrame(columns=list(MENTION_COLUMNS))
    dup = out["mention_id"][out["mention_id"].duplicated()].unique()
    if len(dup):
        raise ValueError(f"Duplicate mention ids across frames, e.g. {list(dup[:5])}.")
    return out
