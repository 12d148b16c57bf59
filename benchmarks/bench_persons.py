"""Benchmark: entity resolution of ≥ 100,000 person mentions, plus extraction, patterns and groups.

Run: ``.venv/bin/python benchmarks/bench_persons.py [--gangs 250] [--loners 1000] [--days 200] [--seed 0]``

The mentions are synthetic (:mod:`geo.persons.synthetic`, 演示 data, not real figures): gangs
and lone scalpers at the 44 Beijing hospitals, watch-list hits (60 % with an ID number, all
with a watch-list reference) and incidents naming them in columns, descriptions and results.
Target (issue 14): resolution of 100,000 mentions ≤ 30 s on 2 shared cores. Also printed: the
share of planted people resolved into exactly one person and merged with no other one, and the
adjusted Rand index of the planted gangs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.metrics import adjusted_rand_score

from geo.io.hospitals import read_hospital_file
from geo.persons import (
    activity_summary,
    co_occurrence_ties,
    combine_mentions,
    extract_incident_mentions,
    find_groups,
    make_synthetic_persons,
    parse_sightings,
    person_events,
    resolve_persons,
)

KEY = b"benchmark-key"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gangs", type=int, default=250)
    ap.add_argument("--loners", type=int, default=1000)
    ap.add_argument("--days", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    hospitals = read_hospital_file()

    t0 = time.perf_counter()
    data = make_synthetic_persons(hospitals, n_gangs=a.gangs, n_loners=a.loners, days=a.days, seed=a.seed)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    mentions = combine_mentions(
        extract_incident_mentions(data.incidents, key=KEY, hospitals=hospitals),
        parse_sightings(data.sightings, key=KEY, hospitals=hospitals, min_score=0.8),
    )
    t_extract = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = resolve_persons(mentions)
    t_resolve = time.perf_counter() - t0
    t0 = time.perf_counter()
    events = person_events(mentions, res)
    summary = activity_summary(events)
    t_patterns = time.perf_counter() - t0
    t0 = time.perf_counter()
    ties = co_occurrence_ties(events)
    groups = find_groups(ties, seed=a.seed)
    t_groups = time.perf_counter() - t0

    truth = data.resolved_truth(res.persons, KEY)
    found = truth["person_id"].notna().mean()
    members = truth[truth["gang"] >= 0]
    ari = adjusted_rand_score(members["gang"], groups.labels(members["person_id"]))
    decisions = res.matches["decision"].value_counts()

    print(f"synthetic data: {len(data.incidents):,} incidents, {len(data.sightings):,} sightings, "
          f"{len(truth):,} planted persons, {a.gangs} gangs ({t_gen:.1f} s to generate)")
    print(f"mentions: {len(mentions):,} (extraction {t_extract:.1f} s)")
    print(f"resolution: {t_resolve:.2f} s for {len(mentions):,} mentions -> {len(res.persons):,} persons "
          f"(target <= 30 s for 100,000); matches: {decisions.to_dict()}")
    print(f"planted persons found by ID: {found:.1%}; persons holding two planted people: "
          f"{int((truth.groupby('person_id')['truth_id'].nunique() > 1).sum())}")
    print(f"patterns: {t_patterns:.1f} s for {len(summary):,} persons")
    print(f"groups: {t_groups:.1f} s, {len(ties):,} ties, {len(groups.groups):,} groups, "
          f"ARI of planted gangs {ari:.3f}, modularity {groups.modularity:.3f}")


if __name__ == "__main__":
    main()
