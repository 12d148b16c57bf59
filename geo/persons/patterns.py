"""Activity patterns of persons and groups: where, when, since when, moving where, sanctioned how far.

All functions take an *events* frame: person mentions (:mod:`geo.persons.extract`) with a
``person_id`` (see :func:`person_events`) or any other entity column named by ``by`` (e.g.
``group_id`` after :func:`geo.persons.groups.group_events`). Times are wall-clock
(Asia/Shanghai) in ``seen_at``. Peak windows are those of :mod:`geo.temporal` (shortest
time-of-day windows holding ``share`` of the appearances); trends are Mann–Kendall tests on
monthly counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from geo import temporal
from geo.persons.extract import SANCTION_LABELS, SANCTIONS
from geo.persons.resolve import Resolution

TIME_COL = "seen_at"
#: Columns of :func:`activity_summary` (after the entity column).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "n_events", "n_days", "n_hospitals", "first_seen", "last_seen", "main_hospital", "main_share", "hospitals",
    "peak_window", "peak_start_min", "peak_end_min", "peak_center_min", "peak_share", "peak_windows",
    "busiest_weekday", "trend", "trend_slope", "trend_p",
)
#: Chinese labels of the displacement statuses.
DISPLACEMENT_LABELS: dict[str, str] = {"displaced": "转移", "stayed": "仍在原医院", "stopped": "未再出现"}
#: Chinese labels of trend directions.
TREND_LABELS: dict[str, str] = {"up": "上升", "down": "下降", "none": "无明显趋势"}
WEEKDAY_LABELS: tuple[str, ...] = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def person_events(mentions: pd.DataFrame, resolution: Resolution) -> pd.DataFrame:
    """Mentions with the ``person_id`` of their resolved person, ordered by time.

    Mentions without a time are dropped (they cannot enter time patterns).
    """
    a = resolution.assignments.set_index("mention_id")["person_id"]
    out = mentions.assign(person_id=mentions["mention_id"].astype(str).map(a).to_numpy())
    out = out[out["person_id"].notna() & pd.to_datetime(out[TIME_COL], errors="coerce").notna()]
    return out.sort_values(TIME_COL, kind="stable").reset_index(drop=True)


def _check(events: pd.DataFrame, by: str, extra: Sequence[str] = ()) -> None:
    missing = [c for c in (by, TIME_COL, *extra) if c not in events.columns]
    if missing:
        raise ValueError(f"`events` lacks column(s) {missing}; it has {list(events.columns)}.")


def _times(events: pd.DataFrame) -> pd.Series:
    t = pd.to_datetime(events[TIME_COL])
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_localize(None)
    return t


def hospital_profile(events: pd.DataFrame, *, by: str = "person_id") -> pd.DataFrame:
    """Appearances per entity and hospital.

    Returns
    -------
    pandas.DataFrame
        ``<by>, hospital_id, count, share, rank`` (rank 1 = main hospital; ties broken by id),
        rows without a hospital left out.
    """
    _check(events, by, ("hospital_id",))
    e = events[events["hospital_id"].notna() & (events["hospital_id"].astype(str) != "")]
    c = e.groupby([by, "hospital_id"]).size().rename("count").reset_index()
    c["share"] = c["count"] / c.groupby(by)["count"].transform("sum")
    c = c.sort_values([by, "count", "hospital_id"], ascending=[True, False, True], kind="stable")
    c["rank"] = c.groupby(by).cumcount() + 1
    return c.reset_index(drop=True)


def hour_weekday_profiles(events: pd.DataFrame, *, by: str = "person_id") -> pd.DataFrame:
    """Weekday × hour counts per entity (long format; ``<by>, weekday, hour, count``, weekday 0 = Monday)."""
    _check(events, by)
    return temporal.profiles_by(events.assign(received_at=_times(events)), by=by)


def _center_in_window(minutes: np.ndarray, start: float, end: float) -> float:
    """Mean minute of day of the values inside a (possibly wrapping) window."""
    rel = (minutes - start) % temporal.MINUTES_PER_DAY
    inside = rel < (end - start)
    if not inside.any():
        return float(((start + end) / 2) % temporal.MINUTES_PER_DAY)
    return float((start + rel[inside].mean()) % temporal.MINUTES_PER_DAY)


def activity_summary(
    events: pd.DataFrame,
    *,
    by: str = "person_id",
    share: float | None = None,
    resolution_min: int = 30,
    merge_gap_min: int = 30,
    max_windows: int = 2,
    top_hospitals: int = 3,
) -> pd.DataFrame:
    """Where and when each entity appears, since when, and whether it is rising.

    Parameters
    ----------
    events
        Events with ``<by>``, ``seen_at`` and ``hospital_id``.
    by
        Entity column (``person_id`` or ``group_id``).
    share, resolution_min, merge_gap_min, max_windows
        Peak windows as :func:`geo.temporal.peak_window_table` (``share`` defaults to
        ``settings.PEAK_SHARE``); 30-minute bins suit a person's tens of appearances.
    top_hospitals
        Hospitals listed in ``hospitals``.

    Returns
    -------
    pandas.DataFrame
        One row per entity: ``<by>`` then :data:`SUMMARY_COLUMNS`. ``peak_window`` is the window
        holding most appearances (``"HH:MM-HH:MM"``), ``peak_center_min`` the mean minute of day
        of the appearances inside it, ``peak_windows`` all windows ``";"``-joined, ``hospitals``
        ``"bj001:62%;bj004:30%"``, ``busiest_weekday`` 0 = Monday, ``trend`` ``up``/``down``/``none``
        (Mann–Kendall on monthly counts, 5 % level) with Sen's slope per month.
    """
    _check(events, by, ("hospital_id",))
    t = _times(events)
    keys = events[by].to_numpy(dtype=object)
    order = np.argsort(keys.astype(str), kind="stable")
    keys, t = keys[order], t.iloc[order]
    minutes = (t.dt.hour * 60 + t.dt.minute + t.dt.second / 60.0).to_numpy(float)
    month = (t.dt.year * 12 + t.dt.month - 1).to_numpy(np.int64)
    day = t.dt.normalize().to_numpy()
    weekday = t.dt.day_of_week.to_numpy()
    tv = t.to_numpy()
    uniq, start = np.unique(keys.astype(str), return_index=True)
    bounds = [*start[1:], len(keys)]
    prof = hospital_profile(events, by=by)
    prof[by] = prof[by].astype(str)
    top1 = prof[prof["rank"] == 1]
    main_h = dict(zip(top1[by], top1["hospital_id"], strict=True))
    main_s = dict(zip(top1[by], top1["share"], strict=True))
    listed = (prof[prof["rank"] <= top_hospitals]
              .assign(s=lambda f: f["hospital_id"].astype(str) + ":" + (100 * f["share"]).round().astype(int).astype(str) + "%")
              .groupby(by)["s"].agg(";".join).to_dict())
    n_h = prof.groupby(by).size().to_dict()
    rows = []
    for key, lo, hi in zip(uniq, start, bounds, strict=True):
        mins = minutes[lo:hi]
        wins = temporal.peak_window_table(mins, share=share, resolution_min=resolution_min,
                                          merge_gap_min=merge_gap_min, max_windows=max_windows)
        win_rows = list(wins.itertuples(index=False))
        if win_rows:
            top = max(win_rows, key=lambda w: w.count)  # first (earliest) of equal counts
            pw, ps, pe, psh = top.window, float(top.start_min), float(top.end_min), float(top.share)
            center = _center_in_window(mins, ps, pe)
        else:
            pw, ps, pe, psh, center = "", np.nan, np.nan, np.nan, np.nan
        mo = month[lo:hi]
        counts = np.bincount(mo - mo.min()).astype(float)  # every month from the first to the last
        mk = temporal.mann_kendall(counts)
        rows.append({
            by: keys[lo], "n_events": hi - lo, "n_days": int(np.unique(day[lo:hi]).size),
            "n_hospitals": int(n_h.get(key, 0)), "first_seen": pd.Timestamp(tv[lo:hi].min()),
            "last_seen": pd.Timestamp(tv[lo:hi].max()),
            "main_hospital": main_h.get(key, ""), "main_share": float(main_s.get(key, np.nan)),
            "hospitals": listed.get(key, ""), "peak_window": pw, "peak_start_min": ps, "peak_end_min": pe,
            "peak_center_min": center, "peak_share": psh, "peak_windows": ";".join(w.window for w in win_rows),
            "busiest_weekday": int(np.bincount(weekday[lo:hi], minlength=7).argmax()),
            "trend": mk.trend(), "trend_slope": mk.slope, "trend_p": mk.p,
        })
    return pd.DataFrame(rows, columns=[by, *SUMMARY_COLUMNS])


def displacement(
    events: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    by: str = "person_id",
    before_days: int = 60,
    after_days: int = 60,
    min_before: int = 3,
    stay_ratio: float = 0.5,
) -> pd.DataFrame:
    """Where the entities active at a hospital went after an action there.

    An entity is *exposed* to an action at hospital H on day D when it appeared at H at least
    ``min_before`` times in the ``before_days`` before D. Its share of appearances at H before
    and after (``after_days`` from D) decides the status: ``stopped`` (not seen after),
    ``stayed`` (share after ≥ ``stay_ratio`` × share before) or ``displaced`` (seen, mostly
    elsewhere; ``moved_to`` is the hospital with most appearances after, other than H).

    Parameters
    ----------
    events
        Events with ``<by>``, ``seen_at`` and ``hospital_id``.
    actions
        Past actions: ``hospital_id`` and ``date`` (``start_date`` or ``start`` also accepted);
        ``action_id`` optional (row number otherwise).
    by, before_days, after_days, min_before, stay_ratio
        See above.

    Returns
    -------
    pandas.DataFrame
        One row per action and exposed entity: ``action_id, hospital_id, action_date, <by>,
        n_before, n_before_at, share_before, n_after, n_after_at, share_after, moved_to,
        moved_share, status, status_label``. The share before is the entity's own baseline:
        entities also move without actions, so compare with exposed entities of other hospitals
        before reading a move as an effect of the action.
    """
    _check(events, by, ("hospital_id",))
    date_col = next((c for c in ("date", "start_date", "start") if c in actions.columns), None)
    if date_col is None or "hospital_id" not in actions.columns:
        raise ValueError(f"`actions` needs `hospital_id` and `date` columns; it has {list(actions.columns)}.")
    cols = ["action_id", "hospital_id", "action_date", by, "n_before", "n_before_at", "share_before", "n_after",
            "n_after_at", "share_after", "moved_to", "moved_share", "status", "status_label"]
    t = _times(events)
    e = pd.DataFrame({by: events[by].to_numpy(), "t": t.to_numpy(), "h": events["hospital_id"].astype(str).to_numpy()})
    rows = []
    for k, a in enumerate(actions.itertuples(index=False)):
        h = str(a.hospital_id)
        d = pd.Timestamp(getattr(a, date_col)).normalize()
        aid = str(getattr(a, "action_id", k))
        before = e[(e["t"] >= d - pd.Timedelta(days=before_days)) & (e["t"] < d)]
        after = e[(e["t"] >= d) & (e["t"] < d + pd.Timedelta(days=after_days))]
        at = before[before["h"] == h].groupby(by).size()
        exposed = at[at >= min_before].index
        for key in exposed:
            b, af = before[before[by] == key], after[after[by] == key]
            nb, nba = len(b), int((b["h"] == h).sum())
            na, naa = len(af), int((af["h"] == h).sum())
            sb = nba / nb
            sa = naa / na if na else np.nan
            elsewhere = af.loc[af["h"] != h, "h"].value_counts()
            moved = str(elsewhere.index[0]) if len(elsewhere) else ""
            if na == 0:
                status = "stopped"
            elif sa >= stay_ratio * sb:
                status = "stayed"
            else:
                status = "displaced"
            rows.append({"action_id": aid, "hospital_id": h, "action_date": d, by: key, "n_before": nb,
                         "n_before_at": nba, "share_before": sb, "n_after": na, "n_after_at": naa, "share_after": sa,
                         "moved_to": moved if status == "displaced" else "",
                         "moved_share": float(elsewhere.iloc[0] / na) if status == "displaced" else np.nan,
                         "status": status, "status_label": DISPLACEMENT_LABELS[status]})
    return pd.DataFrame(rows, columns=cols)


def displacement_summary(
    events: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    by: str = "person_id",
    **kw,
) -> pd.DataFrame:
    """Per action: how many exposed entities moved away, against the same measure without an action.

    The baseline applies :func:`displacement` on the action's date to every hospital that had no
    action (placebo actions): entities move between hospitals anyway, and a displacement share
    is only telling when it clearly exceeds ``baseline_displaced_share``.

    Parameters
    ----------
    events, actions, by
        As :func:`displacement`.
    **kw
        ``before_days, after_days, min_before, stay_ratio`` of :func:`displacement`.

    Returns
    -------
    pandas.DataFrame
        One row per action: ``action_id, hospital_id, action_date, n_exposed, n_displaced,
        n_stayed, n_stopped, displaced_share, top_destination, baseline_exposed,
        baseline_displaced, baseline_displaced_share``.
    """
    table = displacement(events, actions, by=by, **kw)
    date_col = next(c for c in ("date", "start_date", "start") if c in actions.columns)
    acted = set(actions["hospital_id"].astype(str))
    others = sorted(set(events["hospital_id"].dropna().astype(str)) - acted - {""})
    rows = []
    for k, a in enumerate(actions.itertuples(index=False)):
        aid = str(getattr(a, "action_id", k))
        t = table[table["action_id"] == aid]
        placebo = pd.DataFrame({"action_id": [f"placebo:{h}" for h in others], "hospital_id": others,
                                "date": getattr(a, date_col)})
        b = displacement(events, placebo, by=by, **kw) if others else table.iloc[:0]
        dest = t.loc[t["status"] == "displaced", "moved_to"].value_counts()
        rows.append({
            "action_id": aid, "hospital_id": str(a.hospital_id), "action_date": pd.Timestamp(getattr(a, date_col)).normalize(),
            "n_exposed": len(t), "n_displaced": int((t["status"] == "displaced").sum()),
            "n_stayed": int((t["status"] == "stayed").sum()), "n_stopped": int((t["status"] == "stopped").sum()),
            "displaced_share": float((t["status"] == "displaced").mean()) if len(t) else np.nan,
            "top_destination": str(dest.index[0]) if len(dest) else "",
            "baseline_exposed": len(b), "baseline_displaced": int((b["status"] == "displaced").sum()),
            "baseline_displaced_share": float((b["status"] == "displaced").mean()) if len(b) else np.nan,
        })
    return pd.DataFrame(rows)


def sanction_ladder(
    events: pd.DataFrame,
    *,
    by: str = "person_id",
    order: Sequence[str] = SANCTIONS,
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """How far up the sanction ladder each entity has gone, and what it did afterwards.

    Parameters
    ----------
    events
        Events with ``<by>``, ``seen_at`` and ``sanction`` (``""`` when none).
    order
        Sanctions from mildest to hardest (default warned, fined, detained, prosecuted); values
        not in ``order`` are ignored.
    labels
        Display label per sanction; default :data:`geo.persons.extract.SANCTION_LABELS`.

    Returns
    -------
    pandas.DataFrame
        One row per entity of ``events``: ``<by>, n_sanctions, n_<level>`` for each level,
        ``highest, highest_level`` (0-based index in ``order``, -1 for none), ``highest_label,
        last_sanction, last_sanction_at, sequence`` (chronological, ``"→"``-joined labels),
        ``next_step`` (next rung, ``""`` at the top or with none yet: then the first rung),
        ``events_after_last`` (appearances after the last sanction: continued activity).
    """
    _check(events, by, ("sanction",))
    order = list(order)
    if len(set(order)) != len(order) or not order:
        raise ValueError(f"`order` must list distinct sanctions, got {order!r}.")
    labels = {**SANCTION_LABELS, **(labels or {})}
    t = _times(events)
    e = pd.DataFrame({by: events[by].to_numpy(), "t": t.to_numpy(), "s": events["sanction"].fillna("").astype(str)})
    rank = {s: i for i, s in enumerate(order)}
    rows = []
    for key, g in e.sort_values("t", kind="stable").groupby(by, sort=True):
        sg = g[g["s"].isin(rank)]
        row: dict = {by: key, "n_sanctions": len(sg)}
        for s in order:
            row[f"n_{s}"] = int((sg["s"] == s).sum())
        if len(sg):
            lv = int(sg["s"].map(rank).max())
            last_t = sg["t"].iloc[-1]
            row.update(highest=order[lv], highest_level=lv, highest_label=labels.get(order[lv], order[lv]),
                       last_sanction=sg["s"].iloc[-1], last_sanction_at=last_t,
                       sequence="→".join(labels.get(s, s) for s in sg["s"]),
                       next_step=order[lv + 1] if lv + 1 < len(order) else "",
                       events_after_last=int((g["t"] > last_t).sum()))
        else:
            row.update(highest="", highest_level=-1, highest_label="", last_sanction="", last_sanction_at=pd.NaT,
                       sequence="", next_step=order[0], events_after_last=len(g))
        rows.append(row)
    cols = [by, "n_sanctions", *[f"n_{s}" for s in order], "highest", "highest_level", "highest_label",
            "last_sanction", "last_sanction_at", "sequence", "next_step", "events_after_last"]
    return pd.DataFrame(rows, columns=cols)
