"""Synthetic scalpers run through the whole persons pipeline, shared by the persons tests and benchmark."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from geo.io.hospitals import read_hospital_file
from geo.persons import (
    Groups,
    Resolution,
    SyntheticPersons,
    co_occurrence_ties,
    combine_mentions,
    extract_incident_mentions,
    find_groups,
    make_synthetic_persons,
    parse_sightings,
    person_events,
    resolve_persons,
)

#: Identifier-shaped text (ID numbers, mobile phones) that must never reach a masked reader.
# Digits inside an ASCII token (person keys are "P" + 12 hex characters, floats have a point) are no identifier.
ID_RE = re.compile(r"(?<![0-9A-Za-z.])\d{17}[\dX](?![0-9A-Za-z.])")
PHONE_RE = re.compile(r"(?<![0-9A-Za-z.])1[3-9]\d{9}(?![0-9A-Za-z.])")

KEY = b"test-deployment-key"


@dataclass(frozen=True)
class Pipeline:
    """Synthetic data, its mentions (clear columns kept for checking), resolution, events and groups."""

    data: SyntheticPersons
    hospitals: pd.DataFrame
    mentions: pd.DataFrame
    resolution: Resolution
    events: pd.DataFrame
    groups: Groups
    truth: pd.DataFrame  # data.truth with the resolved person_id of each planted person


@lru_cache(maxsize=4)
def pipeline(seed: int = 0, n_gangs: int = 4, n_loners: int = 12) -> Pipeline:
    hospitals = read_hospital_file()
    data = make_synthetic_persons(hospitals, n_gangs=n_gangs, n_loners=n_loners, seed=seed)
    mentions = combine_mentions(
        extract_incident_mentions(data.incidents, key=KEY, hospitals=hospitals, keep_clear=True),
        parse_sightings(data.sightings, key=KEY, hospitals=hospitals, min_score=0.8, keep_clear=True),
    )
    res = resolve_persons(mentions.drop(columns=["name", "id_number", "phone"]))
    events = person_events(mentions.drop(columns=["name", "id_number", "phone"]), res)
    groups = find_groups(co_occurrence_ties(events), seed=seed)
    truth = data.resolved_truth(res.persons, KEY)
    return Pipeline(data, hospitals, mentions, res, events, groups, truth)
