"""Masking of personal data: phone numbers, ID numbers and names in free text.

Masking is on by default everywhere: the loaders and every export call these functions
unless the caller's scope grants personal access.
"""

from __future__ import annotations

import re

import pandas as pd

#: Mainland mobile numbers (11 digits starting with 1[3-9]) and fixed lines with area code.
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)|(?<!\d)(0\d{2,3})-?(\d{7,8})(?!\d)")
#: 18-digit resident ID numbers (last may be X) and old 15-digit ones.
_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8}|\d{6})(\d{3}[\dXx]|\d{3})(?![0-9A-Za-z])")
#: Names introduced by a role word (报警人张某某, 患者李明 ...); masks all but the surname.
_NAME = re.compile(r"(报警人|求助人|投诉人|反映人|患者|家属|嫌疑人|当事人|男子|女子)[：:]?\s*([\u4e00-\u9fa5])([\u4e00-\u9fa5]{1,2})")


def mask_phone(text: str) -> str:
    """Mask phone numbers, keeping the first three and last two digits of mobiles."""
    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return f"{m.group(1)}******{m.group(3)[-2:]}"
        return f"{m.group(4)}-****{m.group(5)[-2:]}"

    return _PHONE.sub(repl, text)


def mask_id_numbers(text: str) -> str:
    """Mask resident ID numbers, keeping the region prefix's first two digits and the last one."""
    return _ID.sub(lambda m: m.group(1)[:2] + "*" * (len(m.group(0)) - 3) + m.group(0)[-1], text)


def mask_names(text: str) -> str:
    """Mask the given name after role words, keeping the surname (张某某 style)."""
    return _NAME.sub(lambda m: f"{m.group(1)}{m.group(2)}{'*' * len(m.group(3))}", text)


def mask_text(text: object) -> str:
    """Mask phones, ID numbers and names in a free-text value."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return ""
    return mask_names(mask_id_numbers(mask_phone(str(text))))


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of an incident frame with personal columns masked and free text scrubbed."""
    out = df.copy()
    if "caller_phone" in out:
        out["caller_phone"] = out["caller_phone"].fillna("").astype(str).map(mask_phone)
    if "caller_name" in out:
        out["caller_name"] = out["caller_name"].fillna("").astype(str).map(
            lambda s: (s[0] + "*" * (len(s) - 1)) if s else ""
        )
    for col in ("description", "address"):
        if col in out:
            out[col] = out[col].map(mask_text)
    return out
