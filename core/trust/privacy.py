"""Masking of personal data: phone numbers, ID numbers, bank cards, e-mails and names in free text.

Masking is on by default everywhere: the loaders and every export call these functions
unless the caller's scope grants personal access (``AccessScope.personal``).

The patterns follow how such data is written in Chinese police and complaint records:
mobiles with or without ``+86`` and separators (``138 1234 5678``, ``138-1234-5678``),
fixed lines with area code (``010-62345678``, ``（010）62345678``), 18- and 15-digit resident
ID numbers (last digit may be ``X``), and names introduced by a role word
(报警人张伟, 患者家属李秀英称, 嫌疑人：王某某). Masking keeps just enough to tell records apart
in a meeting (surname, first and last digits) and never the full value.
"""

from __future__ import annotations

import re

import pandas as pd

_SEP = r"[-\s\u2010-\u2015]?"
#: Mainland mobiles: optional +86/0086 prefix, 1[3-9]x, then 8 digits in 4-4 groups.
_MOBILE = re.compile(rf"(?<![\d*])(?:(?:\+|00)?86{_SEP})?(1[3-9]\d){_SEP}(\d{{4}}){_SEP}(\d{{4}})(?![\d*])")
#: Fixed lines with an area code: 010-62345678, (010)62345678, 0755 2345 6789.
_LANDLINE = re.compile(r"(?<![\d*])[(（]?(0\d{2,3})[)）]?[-\s]?(\d{3,4})[-\s]?(\d{4})(?![\d*])")
#: Resident ID numbers: 18 digits (last may be X), optionally grouped 6-8-4, or old 15 digits.
_ID18 = re.compile(r"(?<![0-9A-Za-z*])(\d{6})\s?(\d{8})\s?(\d{3}[\dXx])(?![0-9A-Za-z])")
_ID15 = re.compile(r"(?<![0-9A-Za-z*])(\d{15})(?![0-9A-Za-z])")
#: Bank card numbers: 16-19 contiguous digits.
_CARD = re.compile(r"(?<![0-9*])(\d{16,19})(?![0-9])")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")

#: Common Chinese surnames (the ~120 most frequent, covering most of the population)
#: and compound surnames; a name is only masked when it starts with one of them, so that
#: "男子在门口" is not mistaken for a name.
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "长孙", "宇文", "端木")
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"
    "夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申"
    "欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉"
    "缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
    "傅萧洪赖谈郁燕冀计揭鄢糜花衣楚匡竺冼栗荆鞠胥蔺郜邸廉奚晋幸"
)
#: Words after which a person's name follows in incident and complaint records: any character
#: may start the name (it is masked unless it is a function word, see ``_NOT_SURNAME``).
_STRONG_ROLE_WORDS = (
    "犯罪嫌疑人", "违法嫌疑人", "嫌疑人", "报警人", "报案人", "求助人", "投诉人", "举报人", "反映人", "来电人", "联系人",
    "受害人", "被害人", "当事人", "违法人员", "姓名", "名叫",
)
#: Words after which a name may follow but often does not (男子在门口 ...): masked only when the
#: next character is a common surname.
_WEAK_ROLE_WORDS = (
    "患者家属", "患者", "病人", "家属", "号贩子", "医托", "司机", "男子", "女子", "老人", "妇女", "自称", "本人",
    "其子", "其女", "其夫", "其妻", "儿子", "女儿", "丈夫", "妻子",
)
#: Characters that end a name (function words and verbs that typically follow it).
_STOP = "在于因称说讲诉请向到被把将与和及等的了是从对为要来去拨打报反投持携手电号某之也即已又均并且现遭系"
#: Characters that never start a name after a strong role word.
_NOT_SURNAME = _STOP.replace("于", "") + "家本自一位所表情未无不人女男们多二三四五六七八九十两该此其另"  # 于 is also a surname
_GIVEN = rf"(?:(?![{_STOP}])[\u4e00-\u9fa5]){{1,2}}"
_AFTER = r"(?![*\u4e00-\u9fa5]?\*)"  # not already masked (keeps masking idempotent)
_SEP_WORD = r"([：:，,\s]{0,2})"
_COMPOUND = "|".join(_COMPOUND_SURNAMES)
_NAME_STRONG = re.compile(
    rf"({'|'.join(_STRONG_ROLE_WORDS)}){_SEP_WORD}({_COMPOUND}|(?![{_NOT_SURNAME}])[\u4e00-\u9fa5])({_GIVEN}){_AFTER}"
)
_NAME_WEAK = re.compile(
    rf"({'|'.join(_WEAK_ROLE_WORDS)}){_SEP_WORD}({_COMPOUND}|[{_SURNAMES}])({_GIVEN}){_AFTER}"
)


def mask_phone(text: str) -> str:
    """Mask phone numbers, keeping the first three and last two digits of mobiles.

    Examples
    --------
    >>> mask_phone("报警人电话13812345678")
    '报警人电话138******78'
    >>> mask_phone("座机010-62345678")
    '座机010-******78'
    """

    def mobile(m: re.Match[str]) -> str:
        return f"{m.group(1)}******{m.group(3)[-2:]}"

    def landline(m: re.Match[str]) -> str:
        return f"{m.group(1)}-******{m.group(3)[-2:]}"

    return _LANDLINE.sub(landline, _MOBILE.sub(mobile, text))


def mask_id_numbers(text: str) -> str:
    """Mask resident ID and bank card numbers, keeping the first two digits and the last one."""

    def repl(m: re.Match[str]) -> str:
        digits = re.sub(r"\s", "", m.group(0))
        return digits[:2] + "*" * (len(digits) - 3) + digits[-1]

    return _ID15.sub(repl, _CARD.sub(repl, _ID18.sub(repl, text)))


def mask_email(text: str) -> str:
    """Mask e-mail addresses, keeping the first character and the domain."""
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


def mask_names(text: str) -> str:
    """Mask the given name after role words, keeping the surname (张伟 → 张*)."""
    def repl(m: re.Match[str]) -> str:
        return f"{m.group(1)}{m.group(2)}{m.group(3)}{'*' * len(m.group(4))}"

    return _NAME_WEAK.sub(repl, _NAME_STRONG.sub(repl, text))


def mask_person_name(name: object) -> str:
    """Mask a name field: keep the (possibly compound) surname, star the rest."""
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return ""
    s = str(name).strip()
    if not s:
        return ""
    keep = 2 if s.startswith(_COMPOUND_SURNAMES) and len(s) > 2 else 1
    return s[:keep] + "*" * max(len(s) - keep, 1)


def mask_text(text: object) -> str:
    """Mask ID numbers, bank cards, phones, e-mails and names in a free-text value."""
    if text is None or (isinstance(text, float) and pd.isna(text)) or text is pd.NA:
        return ""
    # IDs before phones: an ID number contains digit runs that look like a mobile.
    return mask_names(mask_email(mask_phone(mask_id_numbers(str(text)))))


#: Columns holding a phone number, masked with :func:`mask_phone` (whole value).
PHONE_COLUMNS = ("caller_phone", "phone")
#: Columns holding a person's name.
NAME_COLUMNS = ("caller_name",)
#: Free-text columns scrubbed with :func:`mask_text`.
TEXT_COLUMNS = ("description", "address", "source_category")


def _mask_phone_value(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    s = str(value).strip()
    masked = mask_text(s)
    if masked == s and sum(ch.isdigit() for ch in s) >= 5:
        # Unusual formats: keep only the last two digits.
        digits = [ch for ch in s if ch.isdigit()]
        return "*" * (len(digits) - 2) + "".join(digits[-2:])
    return masked


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of a frame with personal columns masked and free text scrubbed.

    Phone columns (:data:`PHONE_COLUMNS`), name columns (:data:`NAME_COLUMNS`) and free-text
    columns (:data:`TEXT_COLUMNS`) are handled when present; other columns are unchanged.
    """
    out = df.copy()
    for col in PHONE_COLUMNS:
        if col in out:
            out[col] = out[col].map(_mask_phone_value).astype(object)
    for col in NAME_COLUMNS:
        if col in out:
            out[col] = out[col].map(mask_person_name).astype(object)
    for col in TEXT_COLUMNS:
        if col in out:
            out[col] = out[col].map(mask_text).astype(object)
    return out


def contains_personal(text: object) -> bool:
    """True if ``text`` still contains something that looks like a phone, ID or card number."""
    s = "" if text is None else str(text)
    return bool(_MOBILE.search(s) or _LANDLINE.search(s) or _ID18.search(s) or _ID15.search(s) or _CARD.search(s))


def mask_table(df: pd.DataFrame, name_columns: tuple | list = ()) -> pd.DataFrame:
    """A raw table (an import preview, rejected rows) with personal data masked in every cell.

    Columns named in ``name_columns`` (positions or labels) are masked as person names; every other text cell is
    scrubbed of phone, ID and card numbers and named persons (:func:`mask_text`). Use it for every role whose
    scope is not ``personal`` (unmasking is audited, :func:`core.trust.disclosure.unmask`).
    """
    out = mask_frame(df)
    names = set(name_columns)
    for j, col in enumerate(out.columns):
        if j in names or col in names:
            out[col] = out[col].map(mask_person_name).astype(object)
        else:
            out[col] = out[col].map(lambda v: mask_text(v) if isinstance(v, str) and v else v).astype(object)
    return out
