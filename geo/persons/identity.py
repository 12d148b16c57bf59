"""Identity fields of persons: normalising, validating, keyed hashing and masked display forms.

Resident ID numbers follow GB 11643-1999 (公民身份号码): 6-digit region code, 8-digit birth
date, 3-digit sequence and a check character computed with ISO 7064 MOD 11-2 (weights
``2**(17-i) mod 11``, remainders mapped to ``"10X98765432"``). Old 15-digit numbers are
converted to 18 digits (century ``19`` inserted, check character computed).

Identity fields are compared through keyed hashes (HMAC-SHA256 with a deployment key, one
domain per field), so that resolution and grouping never need the clear values; what users
see are the masked forms (``110***********123X``, ``138****5678``, ``张*``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable

import numpy as np
import pandas as pd

#: GB 11643-1999 weights of the first 17 digits.
ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: Check character for each remainder of the weighted sum modulo 11.
ID_CHECK_CHARS: str = "10X98765432"
#: First two digits of mainland, Taiwan, Hong Kong and Macao region codes (GB/T 2260).
ID_PROVINCE_CODES: frozenset[str] = frozenset(
    ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83"]
)
#: Outcomes of :func:`check_id_number`.
ID_STATUSES: tuple[str, ...] = ("valid", "checksum", "date", "region", "format", "missing")
#: Chinese labels of the ID statuses (user-facing).
ID_STATUS_LABELS: dict[str, str] = {
    "valid": "有效", "checksum": "校验位错误", "date": "出生日期无效", "region": "地区码无效", "format": "格式错误",
    "missing": "缺失",
}

_ID_RE = re.compile(r"^(\d{17}[\dX]|\d{15})$")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE_RE = re.compile(r"^0\d{9,11}$")
#: Three-digit long-distance codes (Beijing, Tianjin, Shanghai, Chongqing, 02x cities); others have four.
_AREA3 = ("010", "020", "021", "022", "023", "024", "025", "027", "028", "029")
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "长孙", "宇文", "端木")
_NAME_DOTS = re.compile(r"[•・∙.．]")
_NAME_RE = re.compile(r"^[\u4e00-\u9fa5]+(?:·[\u4e00-\u9fa5]+)*$")


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _compact(value: object) -> str:
    """NFKC (full-width digits to ASCII), upper case, without spaces and separators."""
    s = unicodedata.normalize("NFKC", str(value)).upper()
    return re.sub(r"[\s\-‐-―_/]", "", s)


def id_check_char(first17: str) -> str:
    """GB 11643 check character of the first 17 digits of an ID number.

    Examples
    --------
    >>> id_check_char("11010519491231002")
    'X'
    """
    if not re.fullmatch(r"\d{17}", first17):
        raise ValueError(f"`first17` must be 17 digits, got {first17!r}.")
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def normalize_id_number(value: object) -> str | None:
    """Canonical 18-character form of an ID number, or None when it has no ID-number shape.

    Full-width digits, spaces and hyphens are tolerated, ``x`` becomes ``X``; a 15-digit number
    becomes 18 digits. The checksum is not checked here (see :func:`check_id_number`).
    """
    if _is_missing(value):
        return None
    s = _compact(value)
    if not _ID_RE.match(s):
        return None
    if len(s) == 15:
        first17 = s[:6] + "19" + s[6:]
        return first17 + id_check_char(first17)
    return s


def check_id_number(value: object) -> str:
    """Status of an ID number: one of :data:`ID_STATUSES`.

    ``"valid"`` only when the shape, region code, birth date (1900 to 2100) and GB 11643 check
    character are all right; the first failing check is reported otherwise.
    """
    if _is_missing(value):
        return "missing"
    s = normalize_id_number(value)
    if s is None:
        return "format"
    if s[:2] not in ID_PROVINCE_CODES:
        return "region"
    try:
        born = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return "date"
    if not 1900 <= born.year <= 2100:
        return "date"
    return "valid" if id_check_char(s[:17]) == s[17] else "checksum"


def is_valid_id_number(value: object) -> bool:
    """True when :func:`check_id_number` is ``"valid"``."""
    return check_id_number(value) == "valid"


def normalize_phone(value: object) -> str | None:
    """Digits of a mainland mobile (11 digits) or fixed line with area code, else None.

    ``+86``/``0086``/``86`` prefixes, spaces, hyphens and brackets are removed.
    """
    if _is_missing(value):
        return None
    s = re.sub(r"[()（）]", "", _compact(value))
    s = re.sub(r"^(?:\+86|0086|86)(?=1[3-9]\d{9}$)", "", s)
    if _MOBILE_RE.match(s) or _LANDLINE_RE.match(s):
        return s
    return None


def phone_kind(phone: str | None) -> str | None:
    """``"mobile"``, ``"landline"`` or None for a normalised phone."""
    if not phone:
        return None
    if _MOBILE_RE.match(phone):
        return "mobile"
    return "landline" if _LANDLINE_RE.match(phone) else None


def normalize_name(value: object) -> str | None:
    """A Chinese personal name without spaces (separator dots unified to ``·``), else None.

    Names of 2 to 20 Chinese characters are accepted; anonymised forms containing ``某``
    (王某, 王某某) are rejected because they identify nobody.
    """
    if _is_missing(value):
        return None
    s = _NAME_DOTS.sub("·", re.sub(r"\s", "", unicodedata.normalize("NFKC", str(value))))
    if not _NAME_RE.match(s) or "某" in s or not 2 <= len(s.replace("·", "")) <= 20:
        return None
    return s


def _key_bytes(key: bytes | str) -> bytes:
    b = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if not b:
        raise ValueError("`key` must be a non-empty bytes or str secret.")
    return b


def keyed_hash(value: str | None, key: bytes | str, *, field: str) -> str:
    """HMAC-SHA256 of a normalised value in the domain ``field`` (hex); ``""`` for a missing value.

    Parameters
    ----------
    value
        Normalised value (see the ``normalize_*`` functions).
    key
        Deployment secret; without it, hashes cannot be recomputed from guessed values.
    field
        Domain such as ``"id_number"``, ``"phone"``, ``"name"``: the same digits hashed as a
        phone and as an ID number give unrelated hashes.
    """
    if _is_missing(value):
        return ""
    msg = f"{field}\x1f{value}".encode()
    return hmac.new(_key_bytes(key), msg, hashlib.sha256).hexdigest()


def hash_values(values: Iterable[str | None], key: bytes | str, *, field: str) -> np.ndarray:
    """:func:`keyed_hash` of each value (repeated values hashed once), as an object array."""
    kb = _key_bytes(key)
    cache: dict[str | None, str] = {}
    out = []
    for v in values:
        v = None if _is_missing(v) else v
        if v not in cache:
            cache[v] = keyed_hash(v, kb, field=field)
        out.append(cache[v])
    return np.asarray(out, dtype=object)


def mask_id_number(value: object) -> str:
    """Masked display form of an ID number: first 3 and last 4 characters (``110***********123X``).

    Values that are not ID numbers are fully starred (length kept, at most 18 stars).
    """
    if _is_missing(value):
        return ""
    s = normalize_id_number(value)
    if s is None:
        return "*" * min(len(_compact(value)), 18)
    return s[:3] + "*" * (len(s) - 7) + s[-4:]


def mask_phone_number(value: object) -> str:
    """Masked display form of a phone: ``138****5678``; fixed lines keep the area code (``010****5678``)."""
    if _is_missing(value):
        return ""
    s = normalize_phone(value)
    if s is None:
        return "*" * min(len(_compact(value)), 12)
    if phone_kind(s) == "mobile":
        return s[:3] + "****" + s[-4:]
    area = 3 if s.startswith(_AREA3) else 4
    return s[:area] + "*" * (len(s) - area - 4) + s[-4:]


def mask_name(value: object) -> str:
    """Masked display form of a name: surname kept, the rest starred (张伟 → 张*, 欧阳娜娜 → 欧阳**)."""
    if _is_missing(value):
        return ""
    s = re.sub(r"\s", "", str(value))
    keep = 2 if s.startswith(_COMPOUND_SURNAMES) and len(s) > 2 else 1
    return s[:keep] + "*" * max(len(s) - keep, 1)


#: Clear identity columns of a mentions frame (dropped by :func:`protect_identity` unless kept).
CLEAR_COLUMNS: tuple[str, ...] = ("name", "id_number", "phone")


def protect_identity(frame: pd.DataFrame, key: bytes | str, *, keep_clear: bool = False) -> pd.DataFrame:
    """Add keyed hashes, masked forms and the ID status for the clear columns ``name``, ``id_number``, ``phone``.

    Parameters
    ----------
    frame
        Frame with (some of) the columns of :data:`CLEAR_COLUMNS`, holding normalised values or None.
    key
        Deployment secret for :func:`keyed_hash`.
    keep_clear
        Keep the clear columns (only where the deployment stores them); dropped by default.

    Returns
    -------
    pandas.DataFrame
        Copy with ``name_hash, name_masked, id_hash, id_masked, id_status, phone_hash, phone_masked``
        (``""`` where missing) and without the clear columns unless ``keep_clear``.
    """
    out = frame.copy()
    n = len(out)

    def col(c: str) -> list:
        return out[c].tolist() if c in out else [None] * n

    names, ids, phones = col("name"), col("id_number"), col("phone")
    out["name_hash"] = hash_values(names, key, field="name")
    out["name_masked"] = np.asarray([mask_name(v) for v in names], dtype=object)
    out["id_hash"] = hash_values(ids, key, field="id_number")
    out["id_masked"] = np.asarray([mask_id_number(v) for v in ids], dtype=object)
    out["id_status"] = np.asarray([check_id_number(v) for v in ids], dtype=object)
    out["phone_hash"] = hash_values(phones, key, field="phone")
    out["phone_masked"] = np.asarray([mask_phone_number(v) for v in phones], dtype=object)
    if not keep_clear:
        out = out.drop(columns=[c for c in CLEAR_COLUMNS if c in out])
    return out
