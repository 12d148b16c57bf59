"""Seeded synthetic scalpers for demos and tests (演示数据, all persons fictitious).

Names come from a fixed list of placeholder names (百家姓 surnames with 甲乙丙丁… as given
names, the Chinese "John Doe"), every ID number has a deliberately wrong GB 11643 check
character (so it can never be a real person's number), and phones lie in the visibly
patterned block ``199 0000 xxxx``. Every frame carries ``data_label = "演示"``.

Planted structure (returned as ground truth):

- gangs whose members turn up together (same day, within minutes of each other) around one
  time of day at a few hospitals, moving between them from day to day; two members of the
  first gang share one phone;
- lone scalpers at their own main hospital and hour, at the same hospitals as the gangs;
- past actions: the first ``n_displaced`` gangs leave their main hospital for a new one after
  an action there, another action hits a gang that stays;
- two different people with the same name (a gang member and a loner), with different ID
  numbers, phones and hospitals;
- incidents naming members together (with ID numbers and phones in columns or in the text),
  disposal results that climb the sanction ladder, and incidents naming no target at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.persons.identity import ID_CHECK_CHARS, hash_values, id_check_char

#: Label carried by every synthetic frame.
DEMO_LABEL = "演示"
#: Placeholder surnames (start of 百家姓) and given-name characters (天干): clearly fictitious names.
FAKE_SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张"
FAKE_GIVEN = "甲乙丙丁戊己庚辛壬癸"
#: Disposal results of the default sanction ladder (warned, fined, detained, prosecuted).
_RESULT_TEXT = ("予以口头警告并训诫", "处以罚款200元", "处以行政拘留5日", "移送检察院审查起诉")
_LADDER = ("warned", "fined", "detained", "prosecuted")
_DISTRICT_CODES = ("110101", "110102", "110105", "110106", "110108", "110114")
_METRES_PER_DEG = 111_320.0


@dataclass(frozen=True)
class SyntheticPersons:
    """Synthetic incidents, sightings and past actions with their ground truth.

    Attributes
    ----------
    incidents
        Incident rows as a case export holds them: ``source_id, received_at, hospital_id, lon,
        lat, category, description, 涉案人员, 身份证号, 手机号, 处警结果, data_label``.
    sightings
        Watch-list hits: ``告警编号, 抓拍时间, 点位编号, 医院编号`` (empty for ~30 % of rows,
        which carry only ``经度, 纬度``), ``布控编号, 姓名, 身份证号, 相似度, data_label``.
    actions
        Past actions: ``action_id, hospital_id, date, data_label``.
    truth
        One row per planted person: ``truth_id, name, id_number, phone, person_ref, gang`` (-1
        for loners), ``main_hospital, peak_center_min, displaced_to, action_date, sanctions``
        (sanctions received, mildest first, ``"+"``-joined).
    gangs
        One row per gang: ``gang, hospitals, peak_center_min, n_members, displaced``.
    params
        The generator's parameters (seed included).
    """

    incidents: pd.DataFrame
    sightings: pd.DataFrame
    actions: pd.DataFrame
    truth: pd.DataFrame
    gangs: pd.DataFrame
    params: dict = field(default_factory=dict)

    def resolved_truth(self, persons: pd.DataFrame, key: bytes) -> pd.DataFrame:
        """The planted persons with the ``person_id`` a resolution gave each (NaN where none was found).

        Parameters
        ----------
        persons
            ``Resolution.persons`` of a run on this data (``person_id, id_hash, ...``).
        key
            The deployment key the mentions were hashed with.
        """
        truth = self.truth.assign(id_hash=hash_values(self.truth["id_number"], key, field="id_number"))
        by_id = persons[persons["id_hash"] != ""].set_index("id_hash")["person_id"]
        truth["person_id"] = truth["id_hash"].map(by_id)
        return truth


def fake_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct placeholder names (赵甲, 钱乙丙 …) in random order."""
    pool = [s + g for s in FAKE_SURNAMES for g in FAKE_GIVEN]
    pool += [s + g + h for s in FAKE_SURNAMES for g in FAKE_GIVEN for h in FAKE_GIVEN if g != h]
    if n > len(pool):
        raise ValueError(f"At most {len(pool)} distinct fake names, asked for {n}.")
    pick = rng.choice(len(pool), size=n, replace=False)
    return [pool[i] for i in pick]


def fake_id_numbers(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct 18-character ID numbers whose check character is deliberately wrong."""
    out: set[str] = set()
    res: list[str] = []
    while len(res) < n:
        born = pd.Timestamp("1965-01-01") + pd.Timedelta(days=int(rng.integers(0, 35 * 365)))
        first17 = f"{rng.choice(_DISTRICT_CODES)}{born:%Y%m%d}{int(rng.integers(0, 1000)):03d}"
        right = id_check_char(first17)
        wrong = ID_CHECK_CHARS[(ID_CHECK_CHARS.index(right) + 1 + int(rng.integers(0, 10))) % 11]
        s = first17 + wrong
        if s not in out:
            out.add(s)
            res.append(s)
    return res


def fake_phones(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct mobiles in the patterned block ``1990000xxxx``."""
    if n > 10_000:
        raise ValueError(f"At most 10000 fake phones, asked for {n}.")
    return [f"1990000{t:04d}" for t in rng.choice(10_000, size=n, replace=False)]


def _offset(lon: float, lat: float, rng: np.random.Generator, n: int, max_m: float) -> tuple[np.ndarray, np.ndarray]:
    r = max_m * np.sqrt(rng.random(n))
    a = rng.random(n) * 2 * np.pi
    return (lon + r * np.cos(a) / (_METRES_PER_DEG * np.cos(np.radians(lat))),
            lat + r * np.sin(a) / _METRES_PER_DEG)


def make_synthetic_persons(
    hospitals: pd.DataFrame,
    *,
    n_gangs: int = 4,
    gang_size: tuple[int, int] = (3, 5),
    n_loners: int = 12,
    n_displaced: int = 1,
    start: str = "2026-05-01",
    days: int = 180,
    gang_day_rate: float = 0.55,
    loner_day_rate: float = 0.35,
    incident_rate: float = 0.06,
    time_sd_min: float = 25.0,
    false_hits: int = 20,
    seed: int = 0,
) -> SyntheticPersons:
    """Generate synthetic scalpers, their sightings and incidents (see the module docstring).

    Parameters
    ----------
    hospitals
        Hospital table with ``hospital_id, lon, lat`` (e.g. ``data/beijing_hospitals.csv``).
    n_gangs, gang_size
        Number of gangs and the inclusive range of their sizes.
    n_loners
        Lone scalpers.
    n_displaced
        The first this many gangs are displaced by an action at their main hospital.
    start, days
        Period simulated.
    gang_day_rate, loner_day_rate
        Chance that a gang (a loner) works on a weekday; halved at weekends.
    incident_rate
        Chance that a working day of a gang or loner ends in an incident naming them.
    time_sd_min
        Spread (minutes) of a person's appearances around their peak time.
    false_hits
        Low-similarity camera hits (score < 0.7) of random persons at random places.
    seed
        Seed of the random generator.

    Returns
    -------
    SyntheticPersons
    """
    if len(hospitals) < 4:
        raise ValueError(f"`hospitals` needs at least 4 rows, got {len(hospitals)}.")
    if not 0 <= n_displaced <= n_gangs:
        raise ValueError(f"`n_displaced` must be in [0, n_gangs={n_gangs}], got {n_displaced}.")
    params = {k: v for k, v in locals().items() if k not in ("hospitals",)}
    rng = np.random.default_rng(seed)
    hids = hospitals["hospital_id"].astype(str).to_numpy()
    hpos = {h: (float(lo), float(la)) for h, lo, la in zip(hids, hospitals["lon"], hospitals["lat"], strict=True)}
    day0 = pd.Timestamp(start).normalize()
    dates = day0 + pd.to_timedelta(np.arange(days), unit="D")
    weekend = dates.day_of_week.to_numpy() >= 5
    action_day = int(days * 0.7)

    sizes = rng.integers(gang_size[0], gang_size[1] + 1, size=n_gangs)
    n_people = int(sizes.sum()) + n_loners
    names = fake_names(n_people, rng)
    if n_gangs and n_loners:
        names[int(sizes.sum())] = names[0]  # the first loner shares the first gang member's name
    ids = fake_id_numbers(n_people, rng)
    phones = fake_phones(n_people, rng)
    if n_gangs and sizes[0] >= 3:
        phones[2] = phones[1]  # a shared "business" phone in the first gang
    truth_rows: list[dict] = []
    gang_rows: list[dict] = []
    # appearances: person index, day index, hospital id, minute of day
    app_p: list[np.ndarray] = []
    app_d: list[np.ndarray] = []
    app_h: list[np.ndarray] = []
    app_m: list[np.ndarray] = []
    actions: list[dict] = []
    incidents_plan: list[tuple[int, str, list[int]]] = []  # day, hospital, persons

    def person(i: int, gang: int, main: str, center: float, moved: str, act: str) -> None:
        truth_rows.append({"truth_id": f"T{i + 1:04d}", "name": names[i], "id_number": ids[i], "phone": phones[i],
                           "person_ref": f"DEMO-WL-{i + 1:05d}", "gang": gang, "main_hospital": main,
                           "peak_center_min": center, "displaced_to": moved, "action_date": act})

    used_mains: set[str] = set()
    p = 0
    for g in range(n_gangs):
        free = [h for h in hids if h not in used_mains] or list(hids)
        main = str(rng.choice(free))
        used_mains.add(main)
        others = [str(h) for h in rng.choice([h for h in hids if h != main], size=int(rng.integers(1, 3)), replace=False)]
        ghosp = [main, *others]
        weights = np.array([0.7] + [0.3 / len(others)] * len(others))
        center = float(rng.uniform(6 * 60, 15 * 60))
        displaced = g < n_displaced
        moved = ""
        act = ""
        if displaced or g == n_displaced:  # one more action that does not displace
            act = str(dates[action_day].date())
            actions.append({"action_id": f"A{len(actions) + 1:03d}", "hospital_id": main, "date": act})
        if displaced:
            moved = str(rng.choice([h for h in hids if h not in ghosp and h not in used_mains]))
        day_h = rng.choice(len(ghosp), size=days, p=weights)
        hosp_day = np.asarray(ghosp, dtype=object)[day_h]
        if displaced:
            after = np.arange(days) >= action_day
            hosp_day[after] = np.where(rng.random(after.sum()) < 0.75, moved,
                                       np.asarray(others, dtype=object)[rng.integers(0, len(others), after.sum())])
        active = rng.random(days) < np.where(weekend, gang_day_rate / 2, gang_day_rate)
        members = list(range(p, p + int(sizes[g])))
        m_center = center + rng.normal(0, 10, size=len(members))
        for k, i in enumerate(members):
            person(i, g, main, float(m_center[k] % 1440), moved, act if displaced or g == n_displaced else "")
        present = (rng.random((days, len(members))) < 0.75) & active[:, None]
        day_shift = rng.normal(0, time_sd_min, size=days)  # a gang arrives together: one shift per day
        for k, i in enumerate(members):
            d = np.flatnonzero(present[:, k])
            app_p.append(np.full(d.size, i))
            app_d.append(d)
            app_h.append(hosp_day[d])
            app_m.append(m_center[k] + day_shift[d] + rng.normal(0, 8.0, size=d.size))
        for d in np.flatnonzero(active & (rng.random(days) < incident_rate)):
            who = [members[k] for k in np.flatnonzero(present[d])]
            if len(who) >= 2:
                pick = sorted(rng.choice(who, size=min(len(who), int(rng.integers(2, 4))), replace=False).tolist())
                incidents_plan.append((int(d), str(hosp_day[d]), pick))
        gang_rows.append({"gang": g, "hospitals": "+".join(ghosp), "peak_center_min": center,
                          "n_members": len(members), "displaced": displaced})
        p += int(sizes[g])
    for i in range(p, n_people):
        pool = [h for h in hids if h not in [t["main_hospital"] for t in truth_rows if t["name"] == names[i]]]
        main = str(rng.choice(pool))
        other = str(rng.choice([h for h in pool if h != main]))
        center = float(rng.uniform(6 * 60, 16 * 60))
        person(i, -1, main, center, "", "")
        active = np.flatnonzero(rng.random(days) < np.where(weekend, loner_day_rate / 2, loner_day_rate))
        app_p.append(np.full(active.size, i))
        app_d.append(active)
        app_h.append(np.where(rng.random(active.size) < 0.8, main, other).astype(object))
        app_m.append(center + rng.normal(0, time_sd_min, size=active.size))
        for d in active[rng.random(active.size) < incident_rate]:
            incidents_plan.append((int(d), main, [i]))

    truth = pd.DataFrame(truth_rows)
    ap = np.concatenate(app_p) if app_p else np.zeros(0, int)
    ad = np.concatenate(app_d) if app_d else np.zeros(0, int)
    ah = np.concatenate(app_h) if app_h else np.zeros(0, object)
    am = np.clip(np.concatenate(app_m) if app_m else np.zeros(0), 0, 1439.9)
    seen = (dates[ad] + pd.to_timedelta(np.round(am * 60), unit="s")).to_numpy()
    sightings = _sightings(truth, ap, seen, ah, hpos, hids, rng, false_hits)
    incidents = _incidents(truth, incidents_plan, dates, ap, ad, am, hpos, rng)
    sanctions = incidents.attrs.pop("sanctions")
    truth["sanctions"] = ["+".join(sanctions.get(i, [])) for i in range(len(truth))]
    acts = pd.DataFrame(actions, columns=["action_id", "hospital_id", "date"]).assign(data_label=DEMO_LABEL)
    return SyntheticPersons(incidents=incidents, sightings=sightings, actions=acts, truth=truth,
                            gangs=pd.DataFrame(gang_rows), params=params)


def _sightings(truth: pd.DataFrame, ap: np.ndarray, seen: np.ndarray, ah: np.ndarray, hpos: dict, hids: np.ndarray,
               rng: np.random.Generator, false_hits: int) -> pd.DataFrame:
    hit = rng.random(ap.size) < 0.85  # the camera does not catch every appearance
    ap, seen, ah = ap[hit], seen[hit], ah[hit]
    n = ap.size
    if false_hits:
        ap = np.concatenate([ap, rng.integers(0, len(truth), false_hits)])
        seen = np.concatenate([seen, seen[rng.integers(0, max(n, 1), false_hits)] if n else
                               np.full(false_hits, np.datetime64("2026-05-01T10:00"))])
        ah = np.concatenate([ah, rng.choice(hids, false_hits).astype(object)])
    score = np.concatenate([rng.uniform(0.82, 0.99, n), rng.uniform(0.55, 0.69, ap.size - n)])
    lon = np.empty(ap.size)
    lat = np.empty(ap.size)
    for h in set(ah.tolist()):
        sel = ah == h
        lon[sel], lat[sel] = _offset(*hpos[h], rng, int(sel.sum()), 150.0)
    with_id = rng.random(ap.size) < 0.6
    with_hosp = rng.random(ap.size) < 0.7
    t = truth.iloc[ap]
    out = pd.DataFrame({
        "告警编号": [f"S{k + 1:07d}" for k in range(ap.size)],
        "抓拍时间": pd.to_datetime(seen).strftime("%Y-%m-%d %H:%M:%S"),
        "点位编号": [f"{h}-C{int(c):02d}" for h, c in zip(ah, rng.integers(1, 9, ap.size), strict=True)],
        "医院编号": np.where(with_hosp, ah, ""),
        "经度": np.round(lon, 6),
        "纬度": np.round(lat, 6),
        "布控编号": t["person_ref"].to_numpy(),
        "姓名": np.where(with_id, t["name"].to_numpy(), ""),
        "身份证号": np.where(with_id, t["id_number"].to_numpy(), ""),
        "相似度": np.round(score, 3),
        "data_label": DEMO_LABEL,
    })
    return out.sort_values("抓拍时间", kind="stable").reset_index(drop=True)


def _incidents(truth: pd.DataFrame, plan: list[tuple[int, str, list[int]]], dates: pd.DatetimeIndex,
               ap: np.ndarray, ad: np.ndarray, am: np.ndarray, hpos: dict, rng: np.random.Generator) -> pd.DataFrame:
    minute = {(int(p), int(d)): float(m) for p, d, m in zip(ap, ad, am, strict=True)}
    level: dict[int, int] = {}
    sanctions: dict[int, list[str]] = {}
    rows = []
    plan = sorted(plan, key=lambda x: (x[0], x[2]))
    for k, (d, h, who) in enumerate(plan):
        t = (dates[d] + pd.Timedelta(minutes=min(minute.get((who[0], d), 600.0), 1439.0))).round("s")
        step = max(level.get(i, 0) for i in who)
        for i in who:
            level[i] = step + 1
            sanctions.setdefault(i, []).append(_LADDER[min(step, 3)])
        names = [truth["name"].iloc[i] for i in who]
        style = rng.random()
        lon, lat = _offset(*hpos[h], rng, 1, 100.0)
        row = {"source_id": f"DEMO-J{k + 1:06d}", "received_at": t, "hospital_id": h, "lon": float(lon[0]),
               "lat": float(lat[0]), "category": "号贩子/倒号", "涉案人员": "", "身份证号": "", "手机号": ""}
        if style < 0.6:  # persons in the columns
            row["涉案人员"] = "、".join(names)
            row["身份证号"] = "、".join(truth["id_number"].iloc[i] for i in who)
            if rng.random() < 0.5:
                row["手机号"] = "、".join(truth["phone"].iloc[i] for i in who)
            row["description"] = f"巡逻发现号贩子{'、'.join(names)}在门诊大厅倒卖专家号"
        else:  # persons only in the text, first one with a mobile or an ID number
            first = who[0]
            extra = (f"（手机{truth['phone'].iloc[first]}）" if style < 0.8
                     else f"（身份证号{truth['id_number'].iloc[first]}）")
            rest = f"伙同{'、'.join(names[1:])}" if len(names) > 1 else ""
            row["description"] = f"群众举报号贩子{names[0]}{extra}{rest}在挂号窗口附近倒号加价"
        row["处警结果"] = f"对{'、'.join(names)}{_RESULT_TEXT[min(step, 3)]}"
        rows.append(row)
    # Incidents naming no target: a tout who got away, and a caller (never a target).
    for k in range(max(len(plan) // 5, 2)):
        h = str(rng.choice(list(hpos)))
        lon, lat = _offset(*hpos[h], rng, 1, 100.0)
        rows.append({"source_id": f"DEMO-N{k + 1:05d}", "hospital_id": h, "lon": float(lon[0]), "lat": float(lat[0]),
                     "received_at": dates[int(rng.integers(0, len(dates)))] + pd.Timedelta(hours=9),
                     "category": "医托", "涉案人员": "", "身份证号": "", "手机号": "",
                     "description": "报警人演示甲称在门诊楼前被医托拉拢，民警到场时人员已离开",
                     "处警结果": "民警到场未发现可疑人员，已做好登记"})
    out = pd.DataFrame(rows).assign(data_label="演示")
    out = out.sort_values("received_at", kind="stable").reset_index(drop=True)
    out.attrs["sanctions"] = sanctions
    return out
