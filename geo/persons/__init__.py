"""Target persons (重点人员): identities, mentions, entity resolution, activity patterns and groups.

Pure functions, frames in and frames/dataclasses out; the store, audit and pages build on them.
Typical flow::

    mentions = combine_mentions(extract_incident_mentions(incidents, key=key),
                                parse_sightings(sightings, key=key, hospitals=hospitals))
    res = resolve_persons(mentions, decisions=decisions)
    events = person_events(mentions, res)
    summary = activity_summary(events)
    groups = find_groups(co_occurrence_ties(events), seed=0)
"""

from geo.persons.extract import (
    MENTION_COLUMNS,
    SANCTION_LABELS,
    SANCTION_PATTERNS,
    SANCTIONS,
    combine_mentions,
    detect_sanction,
    extract_incident_mentions,
    names_in_text,
    parse_sightings,
)
from geo.persons.groups import (
    TIE_COLUMNS,
    TIE_LABELS,
    TIE_WEIGHTS,
    Groups,
    co_occurrence_ties,
    describe_groups,
    find_groups,
    group_events,
    tie_graph,
)
from geo.persons.identity import (
    ID_STATUS_LABELS,
    check_id_number,
    hash_values,
    id_check_char,
    is_valid_id_number,
    keyed_hash,
    mask_id_number,
    mask_name,
    mask_phone_number,
    normalize_id_number,
    normalize_name,
    normalize_phone,
    protect_identity,
)
from geo.persons.patterns import (
    DISPLACEMENT_LABELS,
    SUMMARY_COLUMNS,
    TREND_LABELS,
    activity_summary,
    displacement,
    displacement_summary,
    hospital_profile,
    hour_weekday_profiles,
    person_events,
    sanction_ladder,
)
from geo.persons.resolve import (
    CONFIDENCES,
    DECISION_LABELS,
    EVIDENCE_LABELS,
    MATCH_COLUMNS,
    PERSON_COLUMNS,
    Resolution,
    confirm,
    resolve_persons,
    split,
)
from geo.persons.synthetic import DEMO_LABEL, SyntheticPersons, make_synthetic_persons

__all__ = [
    "CONFIDENCES", "DECISION_LABELS", "DEMO_LABEL", "DISPLACEMENT_LABELS", "EVIDENCE_LABELS", "ID_STATUS_LABELS",
    "MATCH_COLUMNS", "MENTION_COLUMNS", "PERSON_COLUMNS", "SANCTIONS", "SANCTION_LABELS", "SANCTION_PATTERNS",
    "SUMMARY_COLUMNS", "TIE_COLUMNS", "TIE_LABELS", "TIE_WEIGHTS", "TREND_LABELS",
    "Groups", "Resolution", "SyntheticPersons",
    "activity_summary", "check_id_number", "co_occurrence_ties", "combine_mentions", "confirm", "describe_groups",
    "detect_sanction", "displacement", "displacement_summary", "extract_incident_mentions", "find_groups", "group_events", "hash_values",
    "hospital_profile", "hour_weekday_profiles", "id_check_char", "is_valid_id_number", "keyed_hash",
    "make_synthetic_persons", "mask_id_number", "mask_name", "mask_phone_number", "names_in_text",
    "normalize_id_number", "normalize_name", "normalize_phone", "parse_sightings", "person_events",
    "protect_identity", "resolve_persons", "sanction_ladder", "split", "tie_graph",
]
