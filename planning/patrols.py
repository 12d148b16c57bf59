"""Randomised daily patrols of stationed officers (驻院民警).

Three steps, after the hot-spot patrol research (Koper 1995; Telep et al. 2014) and the
Stackelberg security games deployed at LAX (ARMOR) and on the LA Metro (TRUSTS):

1. **Roster** (:func:`build_roster`): every officer gets rest days (a fixed share of every 7
   days), an early or a late shift on the other days (early shifts, which carry the
   registration-queue peak, rotate so that every officer's share of early shifts among the
   days worked stays close to the others') and a 30-minute meal break inside the shift's meal window, staggered so that not
   everybody eats at once.
2. **Coverage** (:func:`coverage_lp`): per hospital and day, the probability that each patrol
   point is visited in each 30-minute slot. A linear program minimises the largest expected
   uncovered risk ``risk[p, t] * (1 - c[p, t])`` an adversary (scalper, tout) can find, subject
   to the officers on duty in each slot; hot points inside their peak windows are visited with
   probability at least 1/3 per slot and a reserved officer, which is what makes the 2-hour
   revisit guarantee hold.
3. **Sampling** (:func:`sample_visits`): concrete visits drawn so that each cell's visit
   probability equals its coverage (so month totals match the LP) while days differ: comb
   (systematic) sampling across points within a slot keeps the number of visits within the
   officers on duty; systematic sampling along time within each peak run of a hot point puts a
   visit in every 3 consecutive slots. Visits last 12–16 minutes at a random offset in the
   slot. Everything is drawn from ``numpy.random.default_rng([seed, hospital, day])``: the same
   seed gives the same plan, and an edit at one hospital and day leaves other days unchanged.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from core import settings
from geo.crs import project, unproject

#: Fixed patrol points: name, bearing (deg from north) and share of the offset distance.
FIXED_POINTS: tuple[tuple[str, str, float, float], ...] = (
    ("reg", "挂号大厅", 0.0, 0.3),
    ("main", "门诊南门", 180.0, 1.0),
    ("er", "急诊入口", 90.0, 1.0),
)
#: Compass names of the eight sectors around a hospital (bearing from north, 45° each).
_SECTORS = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")


def bearing_name(dx: float, dy: float) -> str:
    """Chinese compass direction (北, 东北 ...) of a projected offset (metres east, north)."""
    deg = (math.degrees(math.atan2(dx, dy)) + 360.0) % 360.0
    return _SECTORS[int(((deg + 22.5) % 360) // 45)]


def _short_address(addr: str, hospital_name: str) -> str:
    """An incident address shortened for a point name: district prefix and the hospital's own name removed."""
    import re

    a = re.sub(r"\s+", "", str(addr or ""))
    a = re.sub(r"^(北京市)?[^区县]{1,4}[区县]", "", a)
    for n in sorted({hospital_name, hospital_name.replace("北京", "")} - {""}, key=len, reverse=True):
        if a.startswith(n) and len(a) > len(n):
            a = a[len(n):]
            break
    # "……医院东侧路口": the part after the (full) hospital name says where.
    if "医院" in a and a.rsplit("医院", 1)[1]:
        a = a.rsplit("医院", 1)[1]
    return a[:18]


def hotspot_name(addresses: Iterable[str], hospital_name: str, direction: str) -> str:
    """Name of a hotspot: "热点：" + the commonest nearby incident address, else its direction.

    ``addresses`` are those of the incidents nearest the hotspot; vague ones (周边, 附近, empty)
    are skipped. Without a usable address the name says where it is: "热点：医院东北侧".
    """
    from collections import Counter

    vague = {"", "周边", "附近", "周围", "门口"}
    short = [_short_address(a, hospital_name) for a in addresses]
    short = [a for a in short if a not in vague and not a.endswith(("周边", "附近"))]
    if short:
        return f"热点：{Counter(short).most_common(1)[0][0]}"
    return f"热点：医院{direction}侧"


def _hm(s: str) -> int:
    """Minutes after midnight of "HH:MM"."""
    h, m = s.strip().split(":")
    return int(h) * 60 + int(m)


def _fmt(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_windows(windows: Iterable[str]) -> list[tuple[int, int]]:
    """Parse "HH:MM-HH:MM" strings into (start, end) minutes; windows over midnight are cut at 24:00."""
    out = []
    for w in windows or ():
        a, b = str(w).split("-")
        s, e = _hm(a), _hm(b)
        out.append((s, e if e > s else 24 * 60))
    return out


# --------------------------------------------------------------------------- points


def patrol_points(
    hospitals: pd.DataFrame,
    events: pd.DataFrame,
    *,
    clusters: pd.DataFrame | None = None,
    offset_m: float | None = None,
    entrances: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Patrol points per hospital: its hotspot clusters plus fixed points.

    Parameters
    ----------
    hospitals
        hospital_id, name, lon, lat, reg_open (and optionally reg_close).
    events
        Past incidents (lon, lat, hospital_id, received_at; optionally address) used for each
        point's risk share and, through the commonest address near it, each hotspot's name.
    clusters
        Output of ``geo.hotspots.find_clusters`` (cluster_id, hospital_id, count, lon, lat,
        peak_windows); None for fixed points only.
    offset_m
        Distance of the gates from the hospital point (default ``settings.PATROL_FIXED_POINT_OFFSET_M``).
    entrances
        Named entrances (hospital_id, name, lon, lat; ``geo.io.reference.load_entrances``): a hospital
        that has them patrols its real gates instead of the two gates placed at ``offset_m``.

    Returns
    -------
    pandas.DataFrame
        point_id, hospital_id, name (Chinese, e.g. 挂号大厅, 热点：东侧路口), kind ('hotspot' | 'fixed'), lon, lat, share (of
        the hospital's incidents nearest to the point, add-one smoothed), hot (bool),
        peak_windows (list of "HH:MM-HH:MM").
    """
    offset_m = settings.PATROL_FIXED_POINT_OFFSET_M if offset_m is None else float(offset_m)
    rows = []
    for h in hospitals.itertuples(index=False):
        x0, y0, epsg = project([h.lon], [h.lat])
        pts = []
        ev = events[events["hospital_id"] == h.hospital_id] if len(events) else events
        if clusters is not None and len(clusters):
            mine = clusters[clusters["hospital_id"] == h.hospital_id].sort_values("count", ascending=False)
            has_addr = "address" in ev.columns and len(ev)
            if len(mine) and len(ev):
                ex, ey, _ = project(ev["lon"].to_numpy(float), ev["lat"].to_numpy(float), epsg)
            used: dict[str, int] = {}
            for k, c in enumerate(mine.itertuples(index=False), start=1):
                cx, cy, _ = project([c.lon], [c.lat], epsg)
                direction = bearing_name(float(cx[0] - x0[0]), float(cy[0] - y0[0]))
                addrs: list[str] = []
                if has_addr:
                    near = np.argsort((ex - cx[0]) ** 2 + (ey - cy[0]) ** 2)[:15]
                    addrs = list(ev["address"].to_numpy(dtype=object)[near])
                name = hotspot_name(addrs, str(h.name), direction)
                used[name] = used.get(name, 0) + 1
                if used[name] > 1:
                    name = f"{name}（{used[name]}）"
                pts.append({
                    "point_id": f"{h.hospital_id}-C{k}", "hospital_id": h.hospital_id, "name": name,
                    "kind": "hotspot", "lon": float(c.lon), "lat": float(c.lat), "hot": True,
                    "peak_windows": list(c.peak_windows or []),
                })
        gates = entrances[entrances["hospital_id"] == h.hospital_id] if entrances is not None and len(entrances) else ()
        for k, g in enumerate(gates.itertuples(index=False) if len(gates) else (), start=1):
            pts.append({
                "point_id": f"{h.hospital_id}-E{k}", "hospital_id": h.hospital_id, "name": str(g.name),
                "kind": "fixed", "lon": float(g.lon), "lat": float(g.lat), "hot": False, "peak_windows": [],
            })
        for key, label, bearing, frac in FIXED_POINTS:
            if len(gates) and key != "reg":
                continue  # the real entrances replace the placed gates
            dx = offset_m * frac * math.sin(math.radians(bearing))
            dy = offset_m * frac * math.cos(math.radians(bearing))
            lon, lat = unproject(x0 + dx, y0 + dy, epsg)
            reg_open = _hm(getattr(h, "reg_open", "07:00") or "07:00")
            # The registration hall is hot during the queue before and after registration opens.
            peaks = [f"{_fmt(max(reg_open - 60, 0))}-{_fmt(reg_open + 150)}"] if key == "reg" else []
            pts.append({
                "point_id": f"{h.hospital_id}-{key}", "hospital_id": h.hospital_id, "name": label, "kind": "fixed",
                "lon": float(lon[0]), "lat": float(lat[0]), "hot": key == "reg", "peak_windows": peaks,
            })
        pts_df = pd.DataFrame(pts)
        counts = np.zeros(len(pts_df))
        if len(ev):
            ex, ey, _ = project(ev["lon"].to_numpy(float), ev["lat"].to_numpy(float), epsg)
            px, py, _ = project(pts_df["lon"].to_numpy(float), pts_df["lat"].to_numpy(float), epsg)
            d2 = (ex[:, None] - px[None, :]) ** 2 + (ey[:, None] - py[None, :]) ** 2
            counts = np.bincount(np.argmin(d2, axis=1), minlength=len(pts_df)).astype(float)
        pts_df["share"] = (counts + 1) / (counts.sum() + len(pts_df))
        rows.append(pts_df)
    cols = ["point_id", "hospital_id", "name", "kind", "lon", "lat", "share", "hot", "peak_windows"]
    if not rows:
        return pd.DataFrame(columns=cols)
    return pd.concat(rows, ignore_index=True)[cols]


# --------------------------------------------------------------------------- roster


def build_roster(
    officers: pd.DataFrame,
    *,
    month: str,
    seed: int,
    absences: Mapping[str, Iterable[dt.date]] | None = None,
    shifts: Mapping[str, tuple[str, str, str, str]] | None = None,
) -> pd.DataFrame:
    """Shifts of stationed officers for a month.

    Parameters
    ----------
    officers
        officer_id, hospital_id (officers without a hospital are ignored); optionally the roster's
        ``shift`` (a shift name the officer always works, "" = rotating) and ``rest_days`` (fixed
        ISO weekdays such as "6,7", "" = the rotating 7-day cycle), as imported by
        ``geo.io.reference``.
    month
        "YYYY-MM".
    seed
        Seed of the tie-breaking between equally loaded officers.
    absences
        officer_id -> dates the officer is absent (leave, sickness, other duty).
    shifts
        Shift templates (default ``settings.PATROL_SHIFTS``); the first is the early shift.

    Returns
    -------
    pandas.DataFrame
        One row per officer and working day: date, officer_id, hospital_id, shift, start, end,
        meal_start, meal_end (tz-aware local timestamps).
    """
    from planning.actions import month_days

    shifts = dict(shifts or settings.PATROL_SHIFTS)
    names = list(shifts)
    early, late = names[0], names[-1]
    days = month_days(month)
    absences = {k: {pd.Timestamp(d).date() for d in v} for k, v in (absences or {}).items()}
    rest_n = settings.PATROL_REST_DAYS_PER_WEEK
    rows = []
    tz = settings.TIMEZONE
    staffed = officers[officers["hospital_id"].notna()].sort_values("officer_id")
    # The imported roster's fixed shifts and rest days; officers without them rotate as before.
    fixed_shift = {o: s for o, s in zip(staffed["officer_id"], staffed.get("shift", pd.Series("", index=staffed.index)),
                                        strict=True) if isinstance(s, str) and s in shifts}
    fixed_rest = {o: {int(d) for d in r.split(",") if d.strip()} for o, r in
                  zip(staffed["officer_id"], staffed.get("rest_days", pd.Series("", index=staffed.index)), strict=True)
                  if isinstance(r, str) and r.strip()}
    for hi, (hid, grp) in enumerate(staffed.groupby("hospital_id", sort=True)):
        rng = np.random.default_rng([int(seed), hi, 0])
        ids = list(grp["officer_id"])
        n = len(ids)
        # Rest days: a fixed 7-day cycle per officer, phases spread evenly so days stay staffed.
        phase = {oid: (k * 7) // max(n, 1) for k, oid in enumerate(rng.permutation(ids))}
        early_count = dict.fromkeys(ids, 0)
        worked = dict.fromkeys(ids, 0)
        for day in days:
            i = day.toordinal()
            on = [o for o in ids
                  if ((day.isoweekday() not in fixed_rest[o]) if o in fixed_rest else (i + phase[o]) % 7 >= rest_n)
                  and day not in absences.get(o, set())]
            if not on:
                continue
            n_early = math.ceil(len(on) / 2) if len(names) > 1 else len(on)
            # Officers with a fixed shift work it; the rotating ones fill the early shift up to half the team.
            n_early = max(0, n_early - sum(fixed_shift.get(o) == early for o in on))
            tiebreak = rng.random(len(on))
            # Fair rotation: the lowest share of early shifts among days worked so far goes first.
            order = sorted((j for j in range(len(on)) if on[j] not in fixed_shift),
                           key=lambda j: ((early_count[on[j]] + 1) / (worked[on[j]] + 2), tiebreak[j]))
            for o in on:
                worked[o] += 1
            early_set = {on[j] for j in order[:n_early]} | {o for o in on if fixed_shift.get(o) == early}
            k_by_shift: dict[str, int] = {}
            for o in sorted(on, key=lambda o: (o not in early_set, o)):
                sh = fixed_shift.get(o) or (early if o in early_set else late)
                if sh == early:
                    early_count[o] += 1
                s0, s1, m0, m1 = shifts[sh]
                k = k_by_shift.get(sh, 0)
                k_by_shift[sh] = k + 1
                meal_slots = max((_hm(m1) - _hm(m0)) // settings.PATROL_SLOT_MIN, 1)
                meal = _hm(m0) + (k % meal_slots) * settings.PATROL_SLOT_MIN
                rows.append((day, o, hid, sh, _hm(s0), _hm(s1), meal, meal + settings.PATROL_SLOT_MIN))
    cols = ["start", "end", "meal_start", "meal_end"]
    out = pd.DataFrame(rows, columns=["date", "officer_id", "hospital_id", "shift", *cols])
    if len(out):
        # Minutes after local midnight -> timestamps, vectorised (scalar Timestamp arithmetic
        # per row took ~1 s for a month of 130 officers).
        codes, uniques = pd.factorize(out["date"])
        midnight = pd.DatetimeIndex([pd.Timestamp(d) for d in uniques]).tz_localize(tz)[codes]
        for c in cols:
            out[c] = midnight + pd.to_timedelta(out[c].to_numpy(dtype=float), unit="min")
    return out


# --------------------------------------------------------------------------- coverage LP


def _slot_grid(shifts: Mapping[str, tuple[str, str, str, str]] | None = None) -> np.ndarray:
    """Slot start minutes covering every shift."""
    shifts = shifts or settings.PATROL_SHIFTS
    s = min(_hm(v[0]) for v in shifts.values())
    e = max(_hm(v[1]) for v in shifts.values())
    return np.arange(s, e, settings.PATROL_SLOT_MIN)


@dataclass
class DayInput:
    """What the LP and the sampler need for one hospital and day."""

    hospital_id: str
    date: dt.date
    points: list[str]
    slots: np.ndarray  # slot start minutes
    risk: np.ndarray  # (points, slots) expected incidents
    on_duty: list[list[str]]  # officers available (on shift, not eating) per slot
    hot: np.ndarray  # (points, slots) bool: guaranteed peak cells
    runs: list[tuple[int, int, int]] = field(default_factory=list)  # (point index, first slot, last slot + 1)


def coverage_lp(day_inputs: list[DayInput], *, max_coverage: float | None = None) -> list[np.ndarray]:
    """Solve the coverage LP for several days of one hospital in one HiGHS call.

    For each day: minimise ``z`` subject to ``risk[p,t] (1 - c[p,t]) <= z``, the non-peak
    coverage of a slot fitting in the officers left after one is reserved per guaranteed peak
    cell, guaranteed cells at least ``1 / min(3, run length)`` and every cell at most
    ``max_coverage``. A small secondary reward for covered risk spends spare officers.

    Returns
    -------
    list of numpy.ndarray
        Coverage (points, slots) per day, in [0, 1].
    """
    cap = settings.PATROL_MAX_COVERAGE if max_coverage is None else float(max_coverage)
    var_off, nvar = [], 0
    for di in day_inputs:
        var_off.append(nvar)
        nvar += di.risk.size
    nz = len(day_inputs)
    c = np.zeros(nvar + nz)
    lb = np.zeros(nvar + nz)
    ub = np.zeros(nvar + nz)
    ub[nvar:] = np.inf
    total_risk = sum(float(di.risk.sum()) for di in day_inputs) or 1.0
    a_rows, a_cols, a_vals, b = [], [], [], []
    row = 0
    for d, di in enumerate(day_inputs):
        npnt, nslot = di.risk.shape
        k_t = np.array([len(x) for x in di.on_duty])
        if (di.hot.sum(axis=0) > k_t).any():
            raise ValueError(f"`day_inputs` {di.hospital_id} {di.date}: more guaranteed hot points than officers in a slot.")
        idx = var_off[d] + np.arange(npnt * nslot).reshape(npnt, nslot)
        active = np.broadcast_to(k_t > 0, (npnt, nslot))
        ub[idx[active]] = cap
        lo = np.zeros((npnt, nslot))
        for p, t0, t1 in di.runs:
            lo[p, t0:t1] = 1.0 / min(3, t1 - t0)
        ub[idx[di.hot]] = np.maximum(cap, lo[di.hot])
        lb[idx[di.hot]] = lo[di.hot]
        c[idx[active]] = -1e-3 * di.risk[active] / total_risk * nz
        c[nvar + d] = 1.0
        # risk * (1 - c) <= z  <=>  -risk * c - z <= -risk
        cells = np.flatnonzero(active.ravel() & (di.risk.ravel() > 0))
        n = len(cells)
        rr = di.risk.ravel()[cells]
        rows_c = row + np.arange(n)
        a_rows += [rows_c, rows_c]
        a_cols += [idx.ravel()[cells], np.full(n, nvar + d)]
        a_vals += [-rr, -np.ones(n)]
        b.append(-rr)
        row += n
        # Non-guaranteed coverage of a slot fits in the officers left after the reservations.
        free = ~di.hot & active
        ts = np.flatnonzero((k_t > 0) & free.any(axis=0))
        slot_row = np.full(nslot, -1)
        slot_row[ts] = row + np.arange(len(ts))
        pi, ti = np.nonzero(free)
        a_rows.append(slot_row[ti])
        a_cols.append(idx[pi, ti])
        a_vals.append(np.ones(len(pi)))
        b.append((k_t[ts] - di.hot[:, ts].sum(axis=0)).astype(float))
        row += len(ts)
    if row == 0:
        return [np.zeros_like(di.risk) for di in day_inputs]
    A = sparse.csr_array(
        (np.concatenate(a_vals), (np.concatenate(a_rows), np.concatenate(a_cols))), shape=(row, nvar + nz)
    )
    res = linprog(c, A_ub=A, b_ub=np.concatenate(b), bounds=np.column_stack([lb, ub]), method="highs")
    if res.status != 0:
        raise RuntimeError(f"Coverage LP failed: {res.message}")
    x = np.clip(res.x, 0.0, 1.0)
    return [x[var_off[d]: var_off[d] + di.risk.size].reshape(di.risk.shape) for d, di in enumerate(day_inputs)]


# --------------------------------------------------------------------------- sampling


def _systematic(probs: np.ndarray, u: float) -> np.ndarray:
    """Indices selected by systematic sampling with offset ``u`` in [0, 1): P(i) = probs[i]."""
    cum = np.concatenate([[0.0], np.cumsum(probs)])
    # Item i is selected when an integer k satisfies cum[i] <= k + u < cum[i+1].
    hits = np.floor(cum[1:] - u + 1e-12) - np.floor(cum[:-1] - u + 1e-12)
    return np.flatnonzero(hits > 0)


def sample_visits(di: DayInput, cover: np.ndarray, rng: np.random.Generator) -> list[tuple[int, int, str, int, int]]:
    """Draw one day's visits: (point index, slot index, officer_id, start minute, duration minutes)."""
    npnt, nslot = cover.shape
    chosen = np.zeros((npnt, nslot), dtype=bool)
    # Peak runs of hot points: systematic sampling along time (a visit in every 3 slots).
    for p, t0, t1 in di.runs:
        sel = _systematic(cover[p, t0:t1], rng.random())
        chosen[p, t0 + sel] = True
    lo, hi = settings.PATROL_VISIT_MIN
    slot_len = settings.PATROL_SLOT_MIN
    k_t = np.array([len(x) for x in di.on_duty])
    # Comb sampling across the free points of every slot at once: points in a random order per
    # slot, laid end to end, hit by a comb of unit spacing and random offset. Marginals equal
    # coverage and the count never exceeds ceil(sum of coverage) <= officers left.
    free = ~di.hot & (k_t > 0)[None, :]
    keys = np.where(free, rng.random((npnt, nslot)), 2.0)
    order = np.argsort(keys, axis=0)
    probs = np.take_along_axis(np.where(free, cover, 0.0), order, axis=0)
    cum = np.vstack([np.zeros((1, nslot)), np.cumsum(probs, axis=0)])
    u = rng.random(nslot)
    hits = (np.floor(cum[1:] - u + 1e-12) - np.floor(cum[:-1] - u + 1e-12)) > 0
    comb = np.zeros_like(chosen)
    np.put_along_axis(comb, order, hits, axis=0)
    chosen |= comb & free
    n_t = chosen.sum(axis=0)
    if (n_t > k_t).any():
        raise RuntimeError("Sampled more visits than officers on duty; coverage violates the slot capacity.")
    ts = np.flatnonzero(n_t)
    visits = []
    for t in ts:
        pts = np.flatnonzero(chosen[:, t])
        officers = di.on_duty[t]
        who = rng.permutation(len(officers))[: len(pts)]
        dur = rng.integers(lo, hi + 1, size=len(pts))
        off = rng.integers(0, slot_len - dur + 1)
        base = int(di.slots[t])
        visits += [(int(p), int(t), officers[w], base + int(o), int(d))
                   for p, w, d, o in zip(pts, who, dur, off, strict=True)]
    return visits


# --------------------------------------------------------------------------- the month


@dataclass
class PatrolPlan:
    """Daily patrol plan of a month.

    Attributes
    ----------
    visits
        visit_id, date, hospital_id, point_id, officer_id, start, end (tz-aware).
    coverage
        date, hospital_id, point_id, slot (tz-aware slot start), probability, risk.
    guarantees
        Peak windows in which a hot point is revisited within ``PATROL_MAX_REVISIT_MIN``:
        date, hospital_id, point_id, start, end.
    roster
        :func:`build_roster` output.
    covered_risk, total_risk
        Sum of coverage * risk and of risk over all cells (expected incidents).
    solve_time_s
        Time spent in the coverage LPs.
    warnings
        Chinese notes (peak cells without enough officers for the guarantee).
    """

    visits: pd.DataFrame
    coverage: pd.DataFrame
    guarantees: pd.DataFrame
    roster: pd.DataFrame
    covered_risk: float
    total_risk: float
    solve_time_s: float
    warnings: list[str] = field(default_factory=list)


def _minutes(ts: pd.Series, day: pd.Timestamp) -> np.ndarray:
    """Minutes after local midnight of ``day``."""
    return ((ts - day) / pd.Timedelta(minutes=1)).to_numpy(float)


def _point_arrays(pts: pd.DataFrame, slots: np.ndarray) -> dict:
    """A hospital's points as arrays, with the (every-day) peak cells of its hot points."""
    slot_len = settings.PATROL_SLOT_MIN
    hot = np.zeros((len(pts), len(slots)), dtype=bool)
    for p, (is_hot, windows) in enumerate(zip(pts["hot"], pts["peak_windows"], strict=True)):
        if is_hot:
            for w0, w1 in parse_windows(windows):
                hot[p] |= (slots >= w0) & (slots + slot_len <= w1)
    return {"share": pts["share"].to_numpy(float), "hot": hot, "name": pts["name"].to_numpy(dtype=object),
            "point_id": list(pts["point_id"])}


def _day_inputs(hid, date, pts, roster_day, hourly, blackout, slots) -> tuple[DayInput, list[str]]:
    """Assemble the LP input of one hospital and day (times as minutes after local midnight).

    ``pts`` is :func:`_point_arrays` output; ``roster_day`` the arrays (officer ids, shift
    start, end, meal start, meal end); ``hourly`` the 24 hourly risks of the day.
    """
    warnings = []
    slot_len = settings.PATROL_SLOT_MIN
    ids, s0, s1, m0, m1 = roster_day
    e = slots + slot_len
    ok = (s0[None, :] <= slots[:, None]) & (s1[None, :] >= e[:, None])
    ok &= ~((m0[None, :] < e[:, None]) & (m1[None, :] > slots[:, None]))
    for b0, b1 in blackout:
        ok[(slots < b1) & (b0 < e)] = False
    on_duty = [list(ids[row]) for row in ok]
    hr = np.zeros(24) if hourly is None else hourly
    slot_risk = hr[(slots // 60).astype(int)] * slot_len / 60.0
    share = pts["share"]
    risk = share[:, None] * slot_risk[None, :]
    hot = pts["hot"].copy()
    k_t = ok.sum(axis=1)
    # Never guarantee more hot points in a slot than officers on duty: keep the riskiest.
    short = set()
    for t in np.flatnonzero(hot.sum(axis=0) > k_t):
        idx = np.flatnonzero(hot[:, t])
        drop = idx[np.argsort(-share[idx])][k_t[t]:]
        hot[drop, t] = False
        if k_t[t] > 0 or not blackout:
            short.update(pts["name"][drop])
    if short:
        warnings.append("、".join(sorted(short)))
    runs = []
    for p in range(hot.shape[0]):
        t = 0
        while t < len(slots):
            if hot[p, t]:
                t1 = t
                while t1 < len(slots) and hot[p, t1]:
                    t1 += 1
                runs.append((p, t, t1))
                t = t1
            else:
                t += 1
    return DayInput(hid, date, pts["point_id"], slots, risk, on_duty, hot, runs), warnings


def _split_by(df: pd.DataFrame, keys: list[str], cols: list[str]) -> dict[tuple, tuple[np.ndarray, ...]]:
    """``{key tuple: (array of each col)}`` of ``df`` grouped by ``keys``, rows in their original order."""
    if df.empty:
        return {}
    codes, uniques = pd.MultiIndex.from_frame(df[keys]).factorize()
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    arrays = [df[c].to_numpy(dtype=object if c == "officer_id" else None)[order] for c in cols]
    parts = [np.split(a, bounds) for a in arrays]
    return {tuple(uniques[codes[order[0 if i == 0 else bounds[i - 1]]]]): tuple(p[i] for p in parts)
            for i in range(len(bounds) + 1)}


def plan_patrols(
    points: pd.DataFrame,
    roster: pd.DataFrame,
    hourly_risk: pd.DataFrame,
    *,
    month: str,
    seed: int,
    blackouts: pd.DataFrame | None = None,
    hospitals: Iterable[str] | None = None,
) -> PatrolPlan:
    """Plan a month of patrols.

    Parameters
    ----------
    points
        :func:`patrol_points` output.
    roster
        :func:`build_roster` output.
    hourly_risk
        hospital_id, date, hour, risk (``planning.actions.daily_hourly_risk``).
    month
        "YYYY-MM".
    seed
        Seed of every random draw (recorded in the plan).
    blackouts
        hospital_id, start, end: periods without patrols at a hospital (its concentrated
        action, during which its stationed officers serve in the action).
    hospitals
        Plan only these hospitals (default: every hospital with points and officers).
    """
    from planning.actions import month_days

    days = month_days(month)
    slots = _slot_grid()
    slot_len = settings.PATROL_SLOT_MIN
    hids = sorted(set(points["hospital_id"]) & set(roster["hospital_id"]))
    if hospitals is not None:
        hids = [h for h in hids if h in set(hospitals)]
    order = {h: i for i, h in enumerate(sorted(set(points["hospital_id"])))}
    ros = roster.copy()
    if len(ros):
        midnight = pd.to_datetime(ros["date"]).dt.tz_localize(settings.TIMEZONE)
        for col in ("start", "end", "meal_start", "meal_end"):
            ros[col + "_min"] = _minutes(ros[col], midnight)
    # Plain arrays per (hospital, day): pandas indexing inside the day loop dominated the run time.
    roster_by = _split_by(ros, ["hospital_id", "date"],
                          ["officer_id", "start_min", "end_min", "meal_start_min", "meal_end_min"])
    risk_by = {}
    for k, g in hourly_risk.groupby(["hospital_id", "date"], sort=False):
        hr = np.zeros(24)
        hr[g["hour"].to_numpy(int)] = g["risk"].to_numpy(float)
        risk_by[k] = hr
    bo_by: dict[tuple, list] = {}
    if blackouts is not None:
        for r in blackouts.itertuples(index=False):
            st, en = pd.Timestamp(r.start), pd.Timestamp(r.end)
            day = st.tz_convert(settings.TIMEZONE).normalize()
            bo_by.setdefault((r.hospital_id, day.date()), []).append(
                ((st - day) / pd.Timedelta(minutes=1), (en - day) / pd.Timedelta(minutes=1))
            )
    vis_rows, cov_parts, guar_rows, warnings = [], [], [], []
    lp_time = 0.0
    covered = total = 0.0
    for hid in hids:
        pts = _point_arrays(points[points["hospital_id"] == hid].reset_index(drop=True), slots)
        inputs = []
        short_days, short_names = 0, set()
        for day in days:
            rday = roster_by.get((hid, day))
            if rday is None or len(rday[0]) == 0:
                continue
            di, warn = _day_inputs(hid, day, pts, rday, risk_by.get((hid, day)), bo_by.get((hid, day), []), slots)
            inputs.append(di)
            short_days += bool(warn)
            short_names.update(n for w in warn for n in w.split("、"))
        if short_days:
            warnings.append(f"{hid}：本月有{short_days}天部分高峰时段在岗警力少于高风险点位数，"
                            f"{'、'.join(sorted(short_names))}在这些时段不保证两小时内复巡。")
        if not inputs:
            continue
        t0 = time.perf_counter()
        covers = coverage_lp(inputs)
        lp_time += time.perf_counter() - t0
        for di, cover in zip(inputs, covers, strict=True):
            rng = np.random.default_rng([int(seed), order[hid], di.date.toordinal()])
            for p, _t, oid, start_min, dur in sample_visits(di, cover, rng):
                vis_rows.append((di.date, hid, di.points[p], oid, start_min, dur))
            active = np.array([len(x) > 0 for x in di.on_duty])
            covered += float((cover * di.risk)[:, active].sum())
            total += float(di.risk[:, active].sum())
            pi, ti = np.nonzero(np.broadcast_to(active, cover.shape))
            # Plain arrays, one frame at the end: a DataFrame per day cost ~2 ms x 1,300 days.
            cov_parts.append((di.date, hid, np.asarray(di.points, dtype=object)[pi], di.slots[ti], cover[pi, ti],
                              di.risk[pi, ti]))
            for p, r0, r1 in di.runs:
                guar_rows.append((di.date, hid, di.points[p], int(di.slots[r0]), int(di.slots[r1 - 1]) + slot_len))

    def stamp(dates: pd.Series, minutes: pd.Series) -> pd.Series:
        # Parse each distinct date once (the columns repeat ~30 dates over ~150,000 rows).
        codes, uniques = pd.factorize(pd.Series(dates, dtype=object))
        midnight = pd.DatetimeIndex([pd.Timestamp(d) for d in uniques]).tz_localize(settings.TIMEZONE)
        base = pd.Series(midnight[codes] if len(codes) else pd.DatetimeIndex([], tz=settings.TIMEZONE))
        return base + pd.to_timedelta(np.asarray(minutes, dtype=float), unit="min")

    vis = pd.DataFrame(vis_rows, columns=["date", "hospital_id", "point_id", "officer_id", "start_min", "dur"])
    vis["start"] = stamp(vis["date"], vis["start_min"])
    vis["end"] = vis["start"] + pd.to_timedelta(vis["dur"].astype(float), unit="min")
    vis = vis.drop(columns=["start_min", "dur"]).sort_values(["date", "hospital_id", "start", "officer_id"],
                                                            ignore_index=True)
    vis.insert(0, "visit_id", [f"V{i + 1:06d}" for i in range(len(vis))])
    cov_cols = ["date", "hospital_id", "point_id", "slot_min", "probability", "risk"]
    if cov_parts:
        sizes = [len(c[2]) for c in cov_parts]
        cov = pd.DataFrame({
            "date": np.repeat(np.array([c[0] for c in cov_parts], dtype=object), sizes),
            "hospital_id": np.repeat(np.array([c[1] for c in cov_parts], dtype=object), sizes),
            "point_id": np.concatenate([c[2] for c in cov_parts]),
            "slot_min": np.concatenate([c[3] for c in cov_parts]),
            "probability": np.concatenate([c[4] for c in cov_parts]),
            "risk": np.concatenate([c[5] for c in cov_parts]),
        })
    else:
        cov = pd.DataFrame(columns=cov_cols)
    cov.insert(3, "slot", stamp(cov["date"], cov["slot_min"]))
    cov = cov.drop(columns=["slot_min"])
    guar = pd.DataFrame(guar_rows, columns=["date", "hospital_id", "point_id", "start_min", "end_min"])
    guar["start"] = stamp(guar["date"], guar["start_min"])
    guar["end"] = stamp(guar["date"], guar["end_min"])
    guar = guar.drop(columns=["start_min", "end_min"])
    return PatrolPlan(
        visits=vis,
        coverage=cov,
        guarantees=guar,
        roster=roster,
        covered_risk=covered,
        total_risk=total,
        solve_time_s=lp_time,
        warnings=warnings,
    )
