"""Entity resolution: which mentions are the same person.

Evidence is applied from strongest to weakest with a constrained union-find
(:class:`networkx.utils.UnionFind`):

1. commanders' *confirm* decisions (must-link) and *split* decisions (cannot-link);
2. the same ID number (keyed hash), confidence 1.0 when the number passes the GB 11643
   checksum, else ``confidences["id_number_unverified"]``;
3. the same watch-list reference;
4. the same name **and** phone.

Two groups of mentions are never joined when they carry different ID numbers or when a
split decision separates them; such an edge is recorded as ``conflict``. A name + phone
group that would join two people with different ID numbers is not applied at all (its
ID-less mentions are ambiguous) and goes to review. Weaker evidence (the same name, the
same name at the same main hospital, a shared phone where one side has no name) never
merges: it becomes ``review`` rows of the match table for a commander to confirm or split.
Evidence kinds whose confidence is below ``min_confidence`` are reviewed instead of merged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from networkx.utils import UnionFind

#: Default confidence of each kind of evidence that two mentions are the same person.
CONFIDENCES: dict[str, float] = {
    "confirmed": 1.0,
    "id_number": 1.0,
    "id_number_unverified": 0.95,
    "watchlist_ref": 0.98,
    "name_phone": 0.9,
    "phone": 0.6,
    "name_hospital": 0.5,
    "name": 0.3,
}
#: Chinese labels of the evidence kinds.
EVIDENCE_LABELS: dict[str, str] = {
    "confirmed": "人工确认", "id_number": "身份证号一致", "id_number_unverified": "身份证号一致（未通过校验）",
    "watchlist_ref": "布控编号一致", "name_phone": "姓名与手机号一致", "phone": "手机号一致（一方无姓名）",
    "name_hospital": "同名且主要活动医院相同", "name": "仅同名",
}
#: Chinese labels of the match decisions.
DECISION_LABELS: dict[str, str] = {
    "confirmed": "人工确认合并", "merged": "自动合并", "review": "待人工核实", "conflict": "有冲突未合并",
}
#: Columns of the match table.
MATCH_COLUMNS: tuple[str, ...] = (
    "mention_a", "mention_b", "person_a", "person_b", "evidence", "confidence", "decision", "detail",
)
#: Columns of the persons table.
PERSON_COLUMNS: tuple[str, ...] = (
    "person_id", "n_mentions", "n_incidents", "n_sightings", "name_masked", "id_masked", "id_status",
    "phone_masked", "id_hash", "name_hash", "first_seen", "last_seen", "min_confidence", "n_review", "n_conflicts",
)
#: Columns of a decisions frame.
DECISION_COLUMNS: tuple[str, ...] = ("decision_id", "kind", "mention_a", "mention_b")

_MERGE_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("id_number", ("id_hash",)),
    ("watchlist_ref", ("person_ref",)),
    ("name_phone", ("name_hash", "phone_hash")),
)


@dataclass(frozen=True)
class Resolution:
    """Result of :func:`resolve_persons`.

    Attributes
    ----------
    assignments
        One row per mention: ``mention_id, person_id``.
    persons
        One row per person, columns :data:`PERSON_COLUMNS` (masked forms and hashes only).
    matches
        Match table, columns :data:`MATCH_COLUMNS`: every merge, every refused merge
        (``conflict``) and every candidate left to a commander (``review``), with the
        evidence and its confidence.
    min_confidence, confidences, max_review_pairs
        The parameters used.
    """

    assignments: pd.DataFrame
    persons: pd.DataFrame
    matches: pd.DataFrame
    min_confidence: float
    confidences: Mapping[str, float] = field(default_factory=dict)
    max_review_pairs: int = 20

    def person_of(self, mention_id: str) -> str:
        """Person id of a mention."""
        hit = self.assignments.loc[self.assignments["mention_id"] == mention_id, "person_id"]
        if hit.empty:
            raise KeyError(f"Unknown mention id {mention_id!r}.")
        return str(hit.iloc[0])

    @property
    def reviews(self) -> pd.DataFrame:
        """Match rows waiting for a commander (``decision == "review"``), most confident first."""
        r = self.matches[self.matches["decision"] == "review"]
        return r.sort_values("confidence", ascending=False, kind="stable").reset_index(drop=True)


def confirm(mention_a: str, mention_b: str, *, decision_id: str) -> dict:
    """A decision row stating that two mentions are the same person (must-link)."""
    return {"decision_id": str(decision_id), "kind": "confirm", "mention_a": mention_a, "mention_b": mention_b}


def split(mention_a: str, mention_b: str, *, decision_id: str) -> dict:
    """A decision row stating that two mentions are different persons (cannot-link).

    Several rows with the same ``decision_id`` split a person in two: every ``mention_a`` of
    the decision is kept apart from every ``mention_b``.
    """
    return {"decision_id": str(decision_id), "kind": "split", "mention_a": mention_a, "mention_b": mention_b}


def _decisions(decisions: pd.DataFrame | Sequence[Mapping] | None, known: Mapping[str, int]) -> pd.DataFrame:
    if decisions is None:
        return pd.DataFrame(columns=list(DECISION_COLUMNS))
    d = pd.DataFrame(list(decisions)) if not isinstance(decisions, pd.DataFrame) else decisions.copy()
    problems = []
    missing = [c for c in DECISION_COLUMNS if c not in d.columns]
    if missing:
        raise ValueError(f"`decisions` lacks column(s) {missing}; it has {list(d.columns)}.")
    bad_kind = sorted(set(d["kind"]) - {"confirm", "split"})
    if bad_kind:
        problems.append(f"kind must be 'confirm' or 'split', got {bad_kind}")
    unknown = sorted({str(v) for v in pd.concat([d["mention_a"], d["mention_b"]]) if str(v) not in known})
    if unknown:
        problems.append(f"unknown mention ids {unknown[:5]}")
    pairs = d.assign(lo=d[["mention_a", "mention_b"]].min(axis=1), hi=d[["mention_a", "mention_b"]].max(axis=1))
    both = pairs.groupby(["lo", "hi"])["kind"].nunique()
    if (both > 1).any():
        problems.append(f"pairs both confirmed and split: {[list(k) for k in both[both > 1].index[:5]]}")
    if problems:
        raise ValueError("Invalid `decisions`: " + "; ".join(problems) + ".")
    return d


class _Constrained:
    """Union-find whose sets carry their ID hashes and split tags; refuses conflicting unions."""

    def __init__(self, n: int, ids: np.ndarray) -> None:
        self.uf = UnionFind(range(n))
        self.ids: dict[int, set] = {i: {ids[i]} for i in range(n) if ids[i]}
        self.tags: dict[int, set] = {}

    def find(self, i: int) -> int:
        return self.uf[i]

    def conflict(self, ra: int, rb: int) -> str:
        ia, ib = self.ids.get(ra), self.ids.get(rb)
        if ia and ib and ia.isdisjoint(ib):
            return "different_id_numbers"
        ta, tb = self.tags.get(ra, set()), self.tags.get(rb, set())
        small, large = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
        for dec, side in small:
            if (dec, "b" if side == "a" else "a") in large:
                return f"split_by_decision:{dec}"
        return ""

    def union(self, ra: int, rb: int) -> None:
        self.uf.union(ra, rb)
        r = self.uf[ra]
        for store in (self.ids, self.tags):
            merged = store.pop(ra, set()) | store.pop(rb, set())
            if merged:
                store[r] = merged


def _groups(m: pd.DataFrame, cols: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Member indices and first member of each group of rows equal and non-empty on ``cols``."""
    ok = np.ones(len(m), dtype=bool)
    for c in cols:
        ok &= m[c].to_numpy(dtype=object) != ""
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return idx, idx
    keys = m[list(cols)].iloc[idx]
    codes = keys.groupby(list(cols), sort=False).ngroup().to_numpy()
    first = pd.Series(idx).groupby(codes).transform("first").to_numpy()
    return idx, first


def resolve_persons(
    mentions: pd.DataFrame,
    *,
    decisions: pd.DataFrame | Sequence[Mapping] | None = None,
    min_confidence: float = 0.8,
    confidences: Mapping[str, float] | None = None,
    max_review_pairs: int = 20,
) -> Resolution:
    """Cluster person mentions into persons, never merging on a name alone.

    Parameters
    ----------
    mentions
        Mentions frame (:data:`geo.persons.extract.MENTION_COLUMNS`); uses ``mention_id``,
        ``id_hash``, ``id_status``, ``person_ref``, ``name_hash``, ``phone_hash``, the masked
        forms, ``source``, ``seen_at`` and ``hospital_id``.
    decisions
        Commanders' decisions (columns :data:`DECISION_COLUMNS`, rows from :func:`confirm` and
        :func:`split`), applied as constraints before any evidence. A confirm joins even two
        different ID numbers; a split is never overridden.
    min_confidence
        Evidence kinds at or above this confidence merge automatically; weaker kinds only
        produce review rows.
    confidences
        Overrides of :data:`CONFIDENCES`.
    max_review_pairs
        A name (or phone) shared by more persons than this yields no review pairs (too common
        to be useful); the count is still visible in ``persons.n_review``.

    Returns
    -------
    Resolution
    """
    conf = {**CONFIDENCES, **(confidences or {})}
    if not 0 < min_confidence <= 1:
        raise ValueError(f"`min_confidence` must be in (0, 1], got {min_confidence!r}.")
    need = ("mention_id", "id_hash", "person_ref", "name_hash", "phone_hash")
    missing = [c for c in need if c not in mentions.columns]
    if missing:
        raise ValueError(f"`mentions` lacks column(s) {missing}; it has {list(mentions.columns)}.")
    m = mentions.reset_index(drop=True).copy()
    for c in ("id_hash", "person_ref", "name_hash", "phone_hash"):
        m[c] = m[c].fillna("").astype(str)
    mids = m["mention_id"].astype(str).to_numpy(dtype=object)
    if len(set(mids)) != len(mids):
        raise ValueError("`mentions.mention_id` must be unique.")
    pos = {v: i for i, v in enumerate(mids)}
    dec = _decisions(decisions, pos)
    n = len(m)
    ids = m["id_hash"].to_numpy(dtype=object)
    valid = (m["id_status"].to_numpy(dtype=object) == "valid") if "id_status" in m else np.zeros(n, dtype=bool)
    cu = _Constrained(n, ids)
    edges: list[tuple[int, int, str, float, str, str]] = []  # a, b, evidence, confidence, decision, detail

    for row in dec[dec["kind"] == "split"].itertuples(index=False):
        for i, side in ((pos[str(row.mention_a)], "a"), (pos[str(row.mention_b)], "b")):
            r = cu.find(i)
            cu.tags.setdefault(r, set()).add((str(row.decision_id), side))
    for row in dec[dec["kind"] == "confirm"].itertuples(index=False):
        a, b = pos[str(row.mention_a)], pos[str(row.mention_b)]
        ra, rb = cu.find(a), cu.find(b)
        if ra != rb:
            why = cu.conflict(ra, rb)
            if why.startswith("split"):
                raise ValueError(f"Confirm decision {row.decision_id} contradicts {why}.")
            cu.union(ra, rb)
        edges.append((a, b, "confirmed", conf["confirmed"], "confirmed", f"decision:{row.decision_id}"))

    def attempt(a: int, b: int, kind: str, c: float) -> None:
        ra, rb = cu.find(a), cu.find(b)
        if ra == rb:
            edges.append((a, b, kind, c, "merged", ""))
            return
        why = cu.conflict(ra, rb)
        if why:
            edges.append((a, b, kind, c, "conflict", why))
        else:
            cu.union(ra, rb)
            edges.append((a, b, kind, c, "merged", ""))

    review_kinds: list[tuple[str, tuple[str, ...]]] = []
    for kind, cols in _MERGE_KINDS:
        idx, first = _groups(m, cols)
        if kind == "id_number":
            for a, b in zip(idx, first, strict=True):
                if a != b:
                    k = "id_number" if valid[a] and valid[b] else "id_number_unverified"
                    if conf[k] >= min_confidence:
                        attempt(int(a), int(b), k, conf[k])
                    else:
                        edges.append((int(a), int(b), k, conf[k], "review", ""))
            continue
        if conf[kind] < min_confidence:
            review_kinds.append((kind, cols))
            continue
        if kind == "name_phone" and idx.size:
            # A group that would join two different ID numbers is ambiguous as a whole.
            roots = np.fromiter((cu.find(int(i)) for i in idx), dtype=np.int64, count=idx.size)
            g = pd.DataFrame({"i": idx, "first": first, "root": roots,
                              "has_id": [bool(cu.ids.get(int(r))) for r in roots]})
            n_id_roots = g[g["has_id"]].groupby("first")["root"].nunique()
            ambiguous = set(n_id_roots[n_id_roots > 1].index)
            amb = g["first"].isin(ambiguous).to_numpy()
            for _, grp in g[amb].groupby("first", sort=False):
                reps = grp.drop_duplicates("root")["i"].to_numpy()
                for a, b in combinations(reps[:max_review_pairs], 2):
                    edges.append((int(a), int(b), kind, conf[kind], "review", "ambiguous_name_phone"))
            for a, b in zip(idx[~amb], first[~amb], strict=True):
                if a != b:
                    attempt(int(a), int(b), kind, conf[kind])
            continue
        for a, b in zip(idx, first, strict=True):
            if a != b:
                attempt(int(a), int(b), kind, conf[kind])

    roots = np.fromiter((cu.find(i) for i in range(n)), dtype=np.int64, count=n)
    edges.extend(_review_edges(m, roots, conf, review_kinds, max_review_pairs))
    return _assemble(m, roots, edges, conf, min_confidence, max_review_pairs)


def _review_edges(m: pd.DataFrame, roots: np.ndarray, conf: Mapping[str, float],
                  extra: Sequence[tuple[str, tuple[str, ...]]], max_pairs: int) -> list[tuple]:
    """Candidate pairs between different persons sharing weaker evidence (one pair per pair of persons)."""
    frame = m[["name_hash", "phone_hash", "person_ref", "id_hash"]].assign(root=roots)
    hosp = m["hospital_id"].astype(object).where(m["hospital_id"].notna(), "") if "hospital_id" in m else ""
    frame["hospital_id"] = hosp
    frame["i"] = np.arange(len(m))
    main = (frame[frame["hospital_id"] != ""].groupby(["root", "hospital_id"]).size().rename("k").reset_index()
            .sort_values(["root", "k"], ascending=[True, False], kind="stable").drop_duplicates("root")
            .set_index("root")["hospital_id"])
    frame["main_hospital"] = frame["root"].map(main).fillna("")
    rep = frame.drop_duplicates("root").set_index("root")["i"]
    found: list[pd.DataFrame] = []

    def pairs(key_cols: list[str], sub: pd.DataFrame) -> pd.DataFrame:
        """Pairs of different persons sharing ``key_cols`` (keys shared by more than ``max_pairs`` left out)."""
        per = sub[["root", *key_cols]].drop_duplicates()
        size = per.groupby(key_cols)["root"].transform("size")
        per = per[(size >= 2) & (size <= max_pairs)]
        pr = per.merge(per, on=key_cols, suffixes=("_a", "_b"))
        return pr.loc[pr["root_a"] < pr["root_b"], ["root_a", "root_b"]].drop_duplicates()

    def add(kind: str, pr: pd.DataFrame, detail: str = "") -> None:
        found.append(pr.assign(kind=kind, conf=conf[kind], detail=detail))

    named = frame[frame["name_hash"] != ""]
    add("name", pairs(["name_hash"], named))
    add("name_hospital", pairs(["name_hash", "main_hospital"], named[named["main_hospital"] != ""]))
    # A phone shared with a person whose mentions carry no name at all.
    has_name = (frame["name_hash"] != "").groupby(frame["root"]).any()
    nameless = has_name.index[~has_name.to_numpy(dtype=bool)]
    ph = pairs(["phone_hash"], frame[frame["phone_hash"] != ""])
    add("phone", ph[ph["root_a"].isin(nameless) | ph["root_b"].isin(nameless)])
    for kind, cols in extra:
        add(kind, pairs(list(cols), frame.loc[(frame[list(cols)] != "").all(axis=1)]))
    allp = pd.concat(found, ignore_index=True)
    if allp.empty:
        return []
    allp = allp.sort_values("conf", ascending=False, kind="stable").drop_duplicates(["root_a", "root_b"])
    ia = rep.reindex(allp["root_a"]).to_numpy()
    ib = rep.reindex(allp["root_b"]).to_numpy()
    return [(int(x), int(y), k, float(c), "review", d)
            for x, y, k, c, d in zip(ia, ib, allp["kind"], allp["conf"], allp["detail"], strict=True)]


def _person_ids(m: pd.DataFrame, roots: np.ndarray) -> np.ndarray:
    """Stable person ids: from the ID hash, else the watch-list reference, else the first mention id."""
    f = pd.DataFrame({"root": roots, "id": m["id_hash"].to_numpy(dtype=object),
                      "ref": m["person_ref"].to_numpy(dtype=object), "mid": m["mention_id"].astype(str).to_numpy(dtype=object)})
    f[["id", "ref"]] = f[["id", "ref"]].replace("", None)
    g = f.groupby("root").agg(id=("id", "min"), ref=("ref", "min"), mid=("mid", "min")).fillna("")
    base = np.where(g["id"] != "", "id:" + g["id"], np.where(g["ref"] != "", "ref:" + g["ref"], "m:" + g["mid"]))
    base = pd.Series(base, index=g.index)
    dup = base.duplicated(keep=False)
    base[dup] = base[dup] + "|" + g.loc[dup, "mid"]
    pid = base.map(lambda s: "P" + hashlib.sha256(s.encode()).hexdigest()[:12])
    return pid.reindex(roots).to_numpy(dtype=object)


def _mode_by(f: pd.DataFrame, key: str, col: str, *, skip: Sequence[str] = ("",)) -> pd.Series:
    """Most frequent value of ``col`` per ``key`` ignoring ``skip`` values (ties: smallest value), ``""`` if none."""
    v = f[[key, col]][~f[col].isin(list(skip))]
    c = v.groupby([key, col], sort=True).size().rename("k").reset_index()
    c = c.sort_values([key, "k"], ascending=[True, False], kind="stable").drop_duplicates(key)
    return c.set_index(key)[col]


def _assemble(m: pd.DataFrame, roots: np.ndarray, edges: list[tuple], conf: Mapping[str, float],
              min_confidence: float, max_review_pairs: int) -> Resolution:
    pids = _person_ids(m, roots)
    mids = m["mention_id"].astype(str).to_numpy(dtype=object)
    assignments = pd.DataFrame({"mention_id": mids, "person_id": pids})
    if edges:
        e = np.asarray(edges, dtype=object)
        a, b = e[:, 0].astype(np.int64), e[:, 1].astype(np.int64)
        matches = pd.DataFrame({
            "mention_a": mids[a], "mention_b": mids[b], "person_a": pids[a], "person_b": pids[b],
            "evidence": e[:, 2], "confidence": e[:, 3].astype(float), "decision": e[:, 4], "detail": e[:, 5],
        })
    else:
        matches = pd.DataFrame(columns=list(MATCH_COLUMNS))
    f = m.assign(person_id=pids)
    for c in ("name_masked", "id_masked", "phone_masked", "id_status", "source"):
        if c not in f:
            f[c] = ""
        f[c] = f[c].fillna("").astype(str)
    if "seen_at" not in f:
        f["seen_at"] = pd.NaT
    g = f.groupby("person_id", sort=True)
    persons = pd.DataFrame({
        "n_mentions": g.size(),
        "n_incidents": (f["source"] == "incident").groupby(f["person_id"]).sum().astype(int),
        "n_sightings": (f["source"] == "sighting").groupby(f["person_id"]).sum().astype(int),
    })
    for c in ("name_masked", "id_masked", "phone_masked", "id_hash", "name_hash"):
        persons[c] = _mode_by(f, "person_id", c).reindex(persons.index).fillna("")
    persons["id_status"] = _mode_by(f, "person_id", "id_status", skip=("", "missing")).reindex(persons.index).fillna("")
    persons["first_seen"] = g["seen_at"].min()
    persons["last_seen"] = g["seen_at"].max()
    merged = matches[matches["decision"].isin(["merged", "confirmed"])]
    persons["min_confidence"] = merged.groupby("person_a")["confidence"].min().reindex(persons.index).fillna(1.0)
    rv = matches[matches["decision"] == "review"]
    persons["n_review"] = pd.concat([rv["person_a"], rv["person_b"]]).value_counts().reindex(persons.index) \
        .fillna(0).astype(int)
    cf = matches[matches["decision"] == "conflict"]
    persons["n_conflicts"] = pd.concat([cf["person_a"], cf["person_b"]]).value_counts().reindex(persons.index) \
        .fillna(0).astype(int)
    persons = persons.reset_index()[list(PERSON_COLUMNS)]
    return Resolution(assignments=assignments, persons=persons, matches=matches[list(MATCH_COLUMNS)],
                      min_confidence=float(min_confidence), confidences=dict(conf), max_review_pairs=max_review_pairs)
