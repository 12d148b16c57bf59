"""No clear ID number or phone reaches the outputs of the persons analysis."""

from __future__ import annotations

import pandas as pd

from geo.persons import activity_summary, describe_groups, displacement, sanction_ladder
from tests._persons_data import pipeline


def _text(frame: pd.DataFrame) -> str:
    return frame.astype(str).to_csv()


def test_masked_outputs_hold_no_clear_id_numbers_or_phones():
    p = pipeline(0)
    outputs = {
        "persons": p.resolution.persons, "matches": p.resolution.matches, "events": p.events,
        "summary": activity_summary(p.events), "displacement": displacement(p.events, p.data.actions),
        "ladder": sanction_ladder(p.events), "groups": describe_groups(p.groups, p.events),
        "membership": p.groups.membership,
    }
    clear = [*p.truth["id_number"], *p.truth["phone"], *p.truth["id_number"].str[3:14]]
    for name, frame in outputs.items():
        text = _text(frame)
        leaked = [c for c in clear if c in text]
        assert not leaked, f"{name} leaks {leaked[:3]}"
    # The masked forms are there instead.
    masked = p.resolution.persons["id_masked"]
    assert masked[masked != ""].str.fullmatch(r"\d{3}\*{11}[\dX]{4}").all()
    phones = p.resolution.persons["phone_masked"]
    assert phones[phones != ""].str.fullmatch(r"1\d{2}\*{4}\d{4}").all()


def test_names_are_masked_in_the_persons_table():
    p = pipeline(0)
    names = set(p.truth["name"])
    assert not names & set(p.resolution.persons["name_masked"])
    assert p.resolution.persons["name_masked"].str.contains(r"\*").all()
