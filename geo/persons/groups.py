"""Groups behind the scalpers: co-occurrence ties, a weighted network, communities as gang leads.

Ties between two persons (see :func:`co_occurrence_ties`):

- *seen together*: both appear at the same hospital within ``window_min`` minutes; counted
  once per day and hospital (an "occasion"), so a long joint stay is not many ties. Two
  regulars of one busy hospital meet by chance: with ``chance_correction`` the tie weighs only
  the occasions beyond those expected if both kept their own days independently
  (``Σ_h days_i(h) · days_j(h) / D`` over hospitals h, D days observed), and only when the
  excess is significant (one-sided Poisson test, p < ``alpha``);
- *named together*: both named in one incident;
- *shared phone*: both used the same phone number (keyed hash).

The weighted graph (:mod:`networkx`) is split into communities with Louvain (seeded) or
greedy modularity; communities of at least ``min_size`` persons are gang leads with their core
members (strongest ties inside the group), hospitals and hours (:func:`describe_groups`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import networkx as nx
import numpy as np
import pandas as pd
from scipy import stats

from geo.persons import patterns

#: Default weight of one occasion of each kind of tie.
TIE_WEIGHTS: dict[str, float] = {"seen_together": 1.0, "named_together": 3.0, "shared_phone": 5.0}
#: Chinese labels of the tie kinds.
TIE_LABELS: dict[str, str] = {"seen_together": "同时段同医院出现", "named_together": "同案被查", "shared_phone": "共用手机号"}
#: Columns of the ties table.
TIE_COLUMNS: tuple[str, ...] = (
    "person_a", "person_b", "seen_together", "seen_expected", "seen_p", "named_together", "shared_phone", "weight",
)
METHODS: tuple[str, ...] = ("louvain", "greedy")


def co_occurrence_ties(
    events: pd.DataFrame,
    *,
    window_min: float = 30.0,
    weights: Mapping[str, float] | None = None,
    sighting_sources: Sequence[str] = ("sighting",),
    min_seen_together: int = 2,
    max_phone_sharers: int = 10,
    chance_correction: bool = True,
    alpha: float = 0.01,
) -> pd.DataFrame:
    """Pairwise ties between persons from their events.

    Parameters
    ----------
    events
        Person events (:func:`geo.persons.patterns.person_events`): ``person_id, source,
        record_id, seen_at, hospital_id, phone_hash``.
    window_min
        Two appearances at one hospital at most this many minutes apart are "seen together".
    weights
        Weight per occasion of each tie kind; overrides of :data:`TIE_WEIGHTS`.
    sighting_sources
        Sources whose events count for "seen together" (camera hits by default).
    min_seen_together
        Pairs seen together on fewer occasions get no "seen together" tie (chance meetings
        at a busy hospital); named-together and phone ties are always kept.
    max_phone_sharers
        A phone shared by more persons than this is ignored (a hospital switchboard, a hotline).
    chance_correction
        Weigh "seen together" by the occasions beyond chance (``seen_together - seen_expected``,
        at least 0) instead of all occasions, and only for pairs seen together significantly
        more often than chance.
    alpha
        Level of the one-sided Poisson test of ``seen_together`` against ``seen_expected``.

    Returns
    -------
    pandas.DataFrame
        :data:`TIE_COLUMNS`, ``person_a < person_b``: counts of each kind, the occasions expected
        by chance (``seen_expected``) with the test's p-value (``seen_p``), and the weighted sum;
        pairs whose weight is 0 are left out.
    """
    w = {**TIE_WEIGHTS, **(weights or {})}
    need = ("person_id", "source", "record_id", "seen_at", "hospital_id")
    missing = [c for c in need if c not in events.columns]
    if missing:
        raise ValueError(f"`events` lacks column(s) {missing}; it has {list(events.columns)}.")
    if not 0 < alpha < 1:
        raise ValueError(f"`alpha` must be in (0, 1), got {alpha!r}.")
    if window_min <= 0:
        raise ValueError(f"`window_min` must be positive, got {window_min!r}.")
    parts = []
    # Seen together: per hospital, pairs of appearances within the window (sorted times + searchsorted).
    s = events[events["source"].isin(list(sighting_sources)) & events["hospital_id"].notna()]
    if len(s):
        t = patterns._times(s).astype("datetime64[ns]").to_numpy().astype(np.int64) / 6e10
        f = pd.DataFrame({"p": s["person_id"].astype(str).to_numpy(), "h": s["hospital_id"].astype(str).to_numpy(),
                          "t": t}).sort_values(["h", "t"], kind="stable").reset_index(drop=True)
        hcode = pd.factorize(f["h"])[0].astype(np.float64)
        key = hcode * 1e9 + f["t"].to_numpy()  # hospitals far apart on one axis
        hi = np.searchsorted(key, key + window_min, side="right")
        n_next = hi - np.arange(len(key)) - 1
        i = np.repeat(np.arange(len(key)), n_next)
        j = i + (np.arange(n_next.sum()) - np.repeat(np.cumsum(n_next) - n_next, n_next)) + 1
        pa, pb = f["p"].to_numpy()[i], f["p"].to_numpy()[j]
        keep = pa != pb
        day = (f["t"].to_numpy()[i] // 1440).astype(np.int64)
        occ = pd.DataFrame({"a": np.minimum(pa, pb)[keep], "b": np.maximum(pa, pb)[keep],
                            "h": f["h"].to_numpy()[i][keep], "d": day[keep]}).drop_duplicates()
        seen = occ.groupby(["a", "b"]).size().rename("seen_together")
        seen = seen[seen >= min_seen_together]
        parts.append(seen)
        # Chance meetings: same hospital and day under independent schedules.
        days = pd.DataFrame({"p": f["p"], "h": f["h"], "d": (f["t"] // 1440).astype(np.int64)}).drop_duplicates()
        n_days = float(days["d"].max() - days["d"].min() + 1)
        per = days.groupby(["p", "h"]).size().rename("n").reset_index()
        cand = seen.reset_index()[["a", "b"]]
        x = cand.merge(per, left_on="a", right_on="p").merge(per, left_on=["b", "h"], right_on=["p", "h"],
                                                            suffixes=("_a", "_b"))
        parts.append((x["n_a"] * x["n_b"] / n_days).groupby([x["a"], x["b"]]).sum().rename("seen_expected"))
    # Named together in one incident.
    inc = events[events["source"] == "incident"][["record_id", "person_id"]].drop_duplicates()
    pairs = [(min(a, b), max(a, b)) for _, g in inc.groupby("record_id") if len(g) > 1
             for a, b in combinations(g["person_id"].astype(str).unique(), 2)]
    if pairs:
        parts.append(pd.DataFrame(pairs, columns=["a", "b"]).groupby(["a", "b"]).size().rename("named_together"))
    # Shared phone.
    if "phone_hash" in events.columns:
        ph = events[events["phone_hash"].fillna("") != ""][["phone_hash", "person_id"]].drop_duplicates()
        pp = [(min(a, b), max(a, b)) for _, g in ph.groupby("phone_hash") if 1 < len(g) <= max_phone_sharers
              for a, b in combinations(g["person_id"].astype(str), 2)]
        if pp:
            parts.append(pd.DataFrame(pp, columns=["a", "b"]).groupby(["a", "b"]).size().rename("shared_phone"))
    if not parts:
        return pd.DataFrame(columns=list(TIE_COLUMNS))
    ties = pd.concat(parts, axis=1)
    for c in ("seen_together", "named_together", "shared_phone", "seen_expected"):
        ties[c] = ties[c].fillna(0) if c in ties else 0
        if c != "seen_expected":
            ties[c] = ties[c].astype(int)
    ties["seen_p"] = np.where(ties["seen_together"] > 0,
                              stats.poisson.sf(ties["seen_together"] - 1, ties["seen_expected"].clip(lower=1e-12)), 1.0)
    excess = (ties["seen_together"] - ties["seen_expected"]).clip(lower=0).where(ties["seen_p"] < alpha, 0.0)
    seen_w = excess if chance_correction else ties["seen_together"]
    ties["weight"] = w["seen_together"] * seen_w + w["named_together"] * ties["named_together"] \
        + w["shared_phone"] * ties["shared_phone"]
    ties = ties[ties["weight"] > 0].rename_axis(["person_a", "person_b"]).reset_index()
    return ties[list(TIE_COLUMNS)].sort_values(["person_a", "person_b"], kind="stable").reset_index(drop=True)


def tie_graph(ties: pd.DataFrame, *, persons: pd.DataFrame | None = None) -> nx.Graph:
    """Weighted undirected graph of the ties; node attributes from ``persons`` (indexed by ``person_id``) when given."""
    g = nx.Graph()
    if persons is not None:
        for r in persons.to_dict("records"):
            g.add_node(r["person_id"], **{k: v for k, v in r.items() if k != "person_id"})
    for r in ties.to_dict("records"):
        g.add_edge(r["person_a"], r["person_b"], weight=float(r["weight"]), seen_together=int(r["seen_together"]),
                   seen_expected=float(r["seen_expected"]),
                   named_together=int(r["named_together"]), shared_phone=int(r["shared_phone"]))
    return g


@dataclass(frozen=True)
class Groups:
    """Communities of the tie graph with the parameters that produced them.

    Attributes
    ----------
    membership
        ``person_id, group_id, strength, is_core`` for every person in a group (strength:
        summed weight of the person's ties inside the group).
    groups
        ``group_id, n_members, n_core, members, core_members`` (``"+"``-joined person ids),
        ``internal_weight, density``, largest first.
    graph
        The tie graph.
    modularity
        Modularity of the partition (all communities, before ``min_size``).
    params
        ``method, resolution, seed, min_size, core_share`` and the tie parameters if known.
    """

    membership: pd.DataFrame
    groups: pd.DataFrame
    graph: nx.Graph
    modularity: float
    params: dict = field(default_factory=dict)

    def labels(self, person_ids: Sequence[str]) -> np.ndarray:
        """Group id of each person (``""`` for persons in no group), e.g. for adjusted Rand index."""
        m = self.membership.set_index("person_id")["group_id"]
        return np.asarray([m.get(p, "") for p in person_ids], dtype=object)


def find_groups(
    ties: pd.DataFrame | nx.Graph,
    *,
    method: str = "louvain",
    resolution: float = 1.0,
    seed: int = 0,
    min_size: int = 2,
    core_share: float = 0.5,
    params: Mapping | None = None,
) -> Groups:
    """Communities of the tie graph as gang leads.

    Parameters
    ----------
    ties
        Ties table (:func:`co_occurrence_ties`) or a weighted graph.
    method
        ``"louvain"`` (:func:`networkx.community.louvain_communities`, Blondel et al. 2008) or
        ``"greedy"`` (:func:`networkx.community.greedy_modularity_communities`, Clauset et al. 2004).
    resolution
        Modularity resolution; above 1 favours smaller groups.
    seed
        Seed of Louvain's random node order.
    min_size
        Smallest community reported as a group.
    core_share
        Core members have at least this share of the strongest member's strength in the group.
    params
        Extra parameters to record (e.g. the tie parameters).
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {list(METHODS)}, got {method!r}.")
    if min_size < 2:
        raise ValueError(f"`min_size` must be at least 2, got {min_size!r}.")
    g = ties if isinstance(ties, nx.Graph) else tie_graph(ties)
    used = {"method": method, "resolution": resolution, "seed": seed, "min_size": min_size,
            "core_share": core_share, **(params or {})}
    mcols, gcols = ["person_id", "group_id", "strength", "is_core"], [
        "group_id", "n_members", "n_core", "members", "core_members", "internal_weight", "density"]
    if g.number_of_edges() == 0:
        return Groups(pd.DataFrame(columns=mcols), pd.DataFrame(columns=gcols), g, 0.0, used)
    if method == "louvain":
        comms = nx.community.louvain_communities(g, weight="weight", resolution=resolution, seed=seed)
    else:
        comms = nx.community.greedy_modularity_communities(g, weight="weight", resolution=resolution)
    q = float(nx.community.modularity(g, comms, weight="weight", resolution=resolution))
    mrows, grows = [], []
    for c in comms:
        if len(c) < min_size:
            continue
        members = sorted(map(str, c))
        gid = "G" + hashlib.sha256("+".join(members).encode()).hexdigest()[:8]
        sub = g.subgraph(c)
        strength = dict(sub.degree(weight="weight"))
        top = max(strength.values()) if strength else 0.0
        core = sorted(p for p in members if top > 0 and strength[p] >= core_share * top)
        for p in members:
            mrows.append({"person_id": p, "group_id": gid, "strength": float(strength[p]), "is_core": p in core})
        grows.append({"group_id": gid, "n_members": len(members), "n_core": len(core), "members": "+".join(members),
                      "core_members": "+".join(core), "internal_weight": float(sub.size(weight="weight")),
                      "density": float(nx.density(sub))})
    groups = pd.DataFrame(grows, columns=gcols).sort_values(["n_members", "internal_weight"], ascending=False,
                                                            kind="stable").reset_index(drop=True)
    return Groups(pd.DataFrame(mrows, columns=mcols), groups, g, q, used)


def group_events(events: pd.DataFrame, groups: Groups) -> pd.DataFrame:
    """Events of persons in groups with their ``group_id`` (persons in no group left out)."""
    m = groups.membership.set_index("person_id")["group_id"]
    out = events.assign(group_id=events["person_id"].astype(str).map(m).to_numpy())
    return out[out["group_id"].notna()].reset_index(drop=True)


def describe_groups(groups: Groups, events: pd.DataFrame, **summary_kw) -> pd.DataFrame:
    """The groups table with where and when each group is active.

    ``summary_kw`` go to :func:`geo.persons.patterns.activity_summary` (computed on the events
    of the group's members, ``by="group_id"``); its columns are joined to :attr:`Groups.groups`.
    """
    ge = group_events(events, groups)
    if ge.empty:
        return groups.groups.copy()
    s = patterns.activity_summary(ge, by="group_id", **summary_kw)
    return groups.groups.merge(s, on="group_id", how="left")
