"""ID numbers (GB 11643), phones, names: normalising, validating, keyed hashes and masks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.persons.identity import (
    check_id_number,
    id_check_char,
    keyed_hash,
    mask_id_number,
    mask_name,
    mask_phone_number,
    normalize_id_number,
    normalize_name,
    normalize_phone,
    protect_identity,
)

# The worked example of GB 11643-1999 (and its 15-digit predecessor form).
STANDARD_EXAMPLE = "11010519491231002X"


def test_standard_example_validates_and_15_digit_form_converts():
    assert id_check_char(STANDARD_EXAMPLE[:17]) == "X"
    assert check_id_number(STANDARD_EXAMPLE) == "valid"
    assert normalize_id_number("110105491231002") == STANDARD_EXAMPLE
    assert check_id_number("110105491231002") == "valid"


def test_full_width_spaces_and_lower_x_are_normalised():
    assert normalize_id_number("１１０１０５ 19491231 002x") == STANDARD_EXAMPLE


@pytest.mark.parametrize(("value", "status"), [
    ("110105194912310021", "checksum"),
    ("110105194902300028", "date"),     # 30 February
    ("990105194912310028", "region"),
    ("11010519491231", "format"),
    ("", "missing"),
    (None, "missing"),
])
def test_id_status_names_the_first_failing_check(value, status):
    assert check_id_number(value) == status


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_exactly_one_check_character_passes(first17):
    statuses = [check_id_number(first17 + c) for c in "0123456789X"]
    if any(s in ("region", "date") for s in statuses):
        return
    assert statuses.count("valid") == 1


@pytest.mark.parametrize(("raw", "norm"), [
    ("+86 138-1234-5678", "13812345678"),
    ("0086 13812345678", "13812345678"),
    ("（010）6234 5678", "01062345678"),
    ("12345", None),
])
def test_phones_are_normalised(raw, norm):
    assert normalize_phone(raw) == norm


def test_names_normalised_and_anonymised_forms_rejected():
    assert normalize_name(" 张 伟 ") == "张伟"
    assert normalize_name("买买提•艾力") == "买买提·艾力"
    assert normalize_name("王某某") is None
    assert normalize_name("A1") is None


def test_masks_match_the_agreed_display_forms():
    assert mask_id_number("11010519491231002x") == "110***********002X"
    assert mask_phone_number("13812345678") == "138****5678"
    assert mask_phone_number("010-62345678") == "010****5678"
    assert mask_name("张伟") == "张*"
    assert mask_name("欧阳娜娜") == "欧阳**"


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_masked_id_shows_only_seven_characters(first17, last):
    masked = mask_id_number(first17 + last)
    assert len(masked) == 18 and masked.count("*") == 11
    assert masked[3:14] == "*" * 11


def test_keyed_hash_depends_on_key_and_field():
    a = keyed_hash("13812345678", b"k1", field="phone")
    assert a == keyed_hash("13812345678", b"k1", field="phone")
    assert a != keyed_hash("13812345678", b"k2", field="phone")
    assert a != keyed_hash("13812345678", b"k1", field="id_number")
    assert keyed_hash(None, b"k1", field="phone") == ""
    with pytest.raises(ValueError, match="key"):
        keyed_hash("x", b"", field="phone")


def test_protect_identity_drops_clear_values_unless_kept():
    import pandas as pd

    f = pd.DataFrame({"name": ["张伟"], "id_number": [STANDARD_EXAMPLE], "phone": ["13812345678"]})
    out = protect_identity(f, b"k")
    assert not {"name", "id_number", "phone"} & set(out.columns)
    cells = " ".join(map(str, out.iloc[0].tolist()))
    assert STANDARD_EXAMPLE not in cells and "13812345678" not in cells and "张伟" not in cells
    assert out["id_status"].iloc[0] == "valid"
    assert {"name", "id_number", "phone"} <= set(protect_identity(f, b"k", keep_clear=True).columns)
