"""Synthetic demo data (演示数据，合成): 110 calls and complaints around the real Beijing hospitals.

Everything generated here is invented. The hospitals and district outlines are real public
facts (see ``data/README.md``); which hospital is "hot", every incident, name, phone number,
officer and unit is synthetic, drawn from a seeded generator, and labelled as demo data
wherever it shows.

The generator writes the incidents as the messy files real users receive (a GB18030 CSV of
110 calls and an XLSX of complaints, both with a title row above the header, GCJ-02
coordinates, some complaints without coordinates) and loads them through the normal importer,
so the demo store is built along the same path as real data.

Patterns planted (so the analysis has something true to find):

* strongly unequal hospitals (log-normal weights: a few very hot);
* micro-hotspots: the main entrance, the registration hall, the emergency gate and a nearby
  street corner, many calls geocoded to the very same gate coordinates;
* weekday registration peak 06:00–09:30, a smaller afternoon clinic peak 13:30–16:00,
  Monday highs, quiet weekends and nights, a Spring Festival dip;
* near-repeat bursts (follow-up calls within days and ~100 m);
* one hospital heating up over the year and one cooling down;
* background calls across the districts unrelated to hospitals.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape
from sqlalchemy.engine import Engine

from core import settings
from core.db import Officer, PoliceUnit, session_scope, set_meta
from geo.crs import from_wgs84, project, unproject
from geo.io.hospitals import read_hospital_file, save_hospitals

DEMO_LABEL = "演示数据（合成，非真实警情）"

#: Category mix near hospitals (110 calls).
_CAT_110 = {"号贩子/倒号": 0.34, "医托": 0.20, "医闹/扰乱秩序": 0.12, "黑救护车": 0.06, "非法行医": 0.04,
            "盗窃": 0.12, "诈骗": 0.05, "其他": 0.07}
#: Category mix of complaints (more touts, including online ones).
_CAT_COMPLAINT = {"号贩子/倒号": 0.40, "医托": 0.35, "医闹/扰乱秩序": 0.05, "黑救护车": 0.10, "非法行医": 0.06,
                  "诈骗": 0.04}

_SURNAMES = list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕")
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅志文斌宇浩")

_TEMPLATES: dict[str, list[str]] = {
    "号贩子/倒号": [
        "报警人{name}称在{hosp}{spot}有人倒卖专家号，开价{price}元一个。",
        "{hosp}{spot}排队挂号时有号贩子加价{price}元代挂号，请求处理。",
        "群众反映{hosp}{spot}有多名男子高价倒号，自称能挂到专家号。",
        "报警称{hosp}{spot}有黄牛兜售专家号，{price}元，报警人电话{phone}。",
    ],
    "医托": [
        "报警人{name}称在{hosp}{spot}被人冒充病友拉去附近私立诊所，花费{price}元。",
        "{hosp}{spot}有医托招揽患者，称某诊所专家更好，诱导就医。",
        "患者家属反映在网上搜索{hosp}挂号，被网络医托引到其他诊所，被骗{price}元。",
        "{hosp}{spot}有人拉客，带患者去小医院看病，报警人电话{phone}。",
    ],
    "医闹/扰乱秩序": [
        "{hosp}{spot}有患者家属因医疗纠纷聚集闹事，情绪激动。",
        "报警称{hosp}{spot}一男子辱骂医护人员，扰乱就诊秩序。",
        "{hosp}{spot}有家属拉横幅堵门，要求赔偿。",
        "{hosp}{spot}因排队发生纠纷推搡，双方动手。",
    ],
    "黑救护车": [
        "报警人{name}称乘坐{hosp}{spot}附近的黑救护车转院，被要价{price}元。",
        "{hosp}{spot}有非法救护车揽客，无资质转运病人。",
        "群众反映{hosp}{spot}停有私人救护车，乱收费。",
    ],
    "非法行医": [
        "{hosp}{spot}附近有游医兜售药品，自称能治疑难杂症。",
        "举报{hosp}周边有黑诊所非法行医，就在{spot}旁边。",
    ],
    "盗窃": [
        "报警人{name}称在{hosp}{spot}排队时手机被偷。",
        "{hosp}{spot}有人钱包被偷了，内有现金{price}元。",
        "报警称在{hosp}{spot}候诊时背包失窃，报警人电话{phone}。",
    ],
    "诈骗": [
        "报警人{name}称在{hosp}{spot}被冒充工作人员的人以办理住院为由骗走{price}元。",
        "{hosp}{spot}有人以帮忙插队为由诈骗患者{price}元，已转账。",
    ],
    "其他": [
        "{hosp}{spot}有人员求助，称与家人走失。",
        "{hosp}{spot}车辆乱停影响通行。",
        "{hosp}{spot}有醉酒人员滞留。",
        "报警人{name}称在{hosp}{spot}捡到一部手机。",
    ],
}
_BACKGROUND_TEMPLATES = [
    ("其他", "{district}某小区噪音扰民，报警人{name}请求处理。"),
    ("其他", "{district}某路口发生轻微交通事故，无人员受伤。"),
    ("盗窃", "{district}某超市有人被偷了手机。"),
    ("诈骗", "报警人{name}称接到冒充公检法电话被骗{price}元，电话{phone}。"),
    ("其他", "{district}某饭店有人酒后滋扰。"),
]

#: Micro-hotspots of each hospital: (name, distance range in metres, share of events, exact-point share).
_SPOTS = [
    ("门诊正门", (50, 110), 0.32, 0.55),
    ("挂号大厅", (15, 45), 0.30, 0.45),
    ("急诊门口", (60, 140), 0.14, 0.40),
    ("东侧路口", (180, 320), 0.14, 0.35),
    ("周边", (0, 450), 0.10, 0.0),  # diffuse around the hospital
]


#: Relative daily volume per weekday (Monday highs, quiet weekends).
_WEEK = np.array([1.5, 1.1, 1.0, 1.0, 0.95, 0.45, 0.35]) / 0.907


def _hour_of_week_profile(category: str) -> np.ndarray:
    """Within-day shape per (weekday, 30-min slot) for a category: shape (7, 48), rows sum to 1."""
    slots = np.arange(48) / 2.0  # hour of day at slot start
    base = 0.05 + 0.25 * ((slots >= 8) & (slots < 18))
    reg_peak = ((slots >= 6) & (slots < 9.5)).astype(float)
    clinic = ((slots >= 13.5) & (slots < 16)).astype(float)
    if category == "号贩子/倒号":
        day = base * 0.3 + 3.2 * reg_peak + 0.5 * clinic
    elif category == "医托":
        day = base + 1.5 * reg_peak + 1.0 * clinic
    elif category == "医闹/扰乱秩序":
        day = base + 0.6 * clinic + 0.4 * ((slots >= 18) & (slots < 22))
    elif category == "黑救护车":
        day = 0.3 + 0.2 * ((slots >= 8) & (slots < 20))
    elif category == "盗窃":
        day = base + 1.0 * reg_peak + 0.5 * clinic
    else:
        day = base + 0.4 * reg_peak + 0.3 * clinic
    prof = np.repeat(day[None, :], 7, axis=0)
    # Weekends have no registration rush: flatten their day shape.
    prof[5:] = 0.3 * prof[5:] + 0.7 * prof[5:].mean()
    return prof / prof.sum(axis=1, keepdims=True)


def _fake_names(rng: np.random.Generator, n: int) -> list[str]:
    sur = rng.choice(_SURNAMES, size=n)
    g1 = rng.choice(_GIVEN, size=n)
    g2 = np.where(rng.random(n) < 0.6, rng.choice(_GIVEN, size=n), "")
    return [a + b + c for a, b, c in zip(sur, g1, g2, strict=True)]


def _fake_phones(rng: np.random.Generator, n: int) -> list[str]:
    # 19x numbers with a fixed middle block: visibly synthetic, still masked like real ones.
    tails = rng.integers(0, 10**8, size=n)
    return [f"190{t:08d}" for t in tails]


def _fill_texts(templates: list[str], rng: np.random.Generator, **cols: np.ndarray) -> list[str]:
    n = len(next(iter(cols.values())))
    names, phones = _fake_names(rng, n), _fake_phones(rng, n)
    prices = rng.choice([200, 300, 500, 800, 1000, 1500, 3000], size=n)
    pick = rng.integers(0, len(templates), size=n)
    keys = list(cols)
    return [
        templates[pick[i]].format(name=names[i], phone=phones[i], price=prices[i], **{k: cols[k][i] for k in keys})
        for i in range(n)
    ]


def _offset(x: float, y: float, rng: np.random.Generator, dmin: float, dmax: float) -> tuple[float, float]:
    ang = rng.uniform(0, 2 * np.pi)
    d = rng.uniform(dmin, dmax)
    return x + d * np.cos(ang), y + d * np.sin(ang)


def _days(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    return pd.date_range(start, end - pd.Timedelta(days=1), freq="D")


def _season(days: pd.DatetimeIndex) -> np.ndarray:
    f = np.ones(len(days))
    # Spring Festival: hospitals are quiet for about two weeks around it (late Jan to mid Feb).
    doy = days.day_of_year.to_numpy()
    f[(doy >= 28) & (doy <= 45)] = 0.45
    return f


def _sample_times(days: pd.DatetimeIndex, day_idx: np.ndarray, cats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Event times drawn from each category's weekday x half-hour profile."""
    dow = days.day_of_week.to_numpy()[day_idx]
    slot = np.zeros(len(day_idx), dtype=int)
    for cat in np.unique(cats):
        prof = _hour_of_week_profile(str(cat))
        for d in range(7):
            m = (cats == cat) & (dow == d)
            if m.any():
                slot[m] = rng.choice(48, size=int(m.sum()), p=prof[d] / prof[d].sum())
    secs = slot * 1800 + rng.integers(0, 1800, size=len(slot))
    return days.to_numpy()[day_idx] + secs.astype("timedelta64[s]")


#: Hospitals given a monthly concentrated action in the demo's past, and the planted effect.
DEMO_ACTION_HOSPITALS = 8
DEMO_ACTION_EFFECT = 0.5  # incidents at the hospital fall to half ...
DEMO_ACTION_EFFECT_DAYS = 14  # ... for two weeks after the action day


def _demo_actions(
    hospitals: pd.DataFrame, weight: np.ndarray, days: pd.DatetimeIndex, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """Past monthly actions at the hottest hospitals and their multiplicative effect (n_h, n_days).

    One action per month and hospital on a weekday between the 8th and the 20th, 08:00-11:00;
    afterwards the hospital's incidents drop to ``DEMO_ACTION_EFFECT`` for
    ``DEMO_ACTION_EFFECT_DAYS`` days, so the evaluation page has a true effect to find.
    """
    effect = np.ones((len(hospitals), len(days)))
    top = np.argsort(weight)[::-1][:DEMO_ACTION_HOSPITALS]
    rows = []
    months = days.to_period("M").unique()
    for month in months[:-1]:  # the last month is "now": its action is still to be planned
        in_month = np.nonzero((days.to_period("M") == month) & (days.day >= 8) & (days.day <= 20)
                              & (days.day_of_week < 5))[0]
        if len(in_month) == 0:
            continue
        for h in top:
            d = int(rng.choice(in_month))
            effect[h, d + 1 : d + 1 + DEMO_ACTION_EFFECT_DAYS] *= DEMO_ACTION_EFFECT
            start = days[d] + pd.Timedelta(hours=8)
            rows.append({"hospital_id": hospitals["hospital_id"].iloc[h], "start": start,
                         "end": start + pd.Timedelta(hours=3), "officers": int(rng.integers(12, 31))})
    return pd.DataFrame(rows, columns=["hospital_id", "start", "end", "officers"]), effect


def generate_incidents(
    hospitals: pd.DataFrame,
    districts: list[tuple[str, object]],
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    seed: int,
    scale: float = 1.0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Generate synthetic 110 calls and complaints (WGS-84).

    Returns ``(calls, complaints, actions)``; ``actions`` are the past monthly concentrated
    actions whose effect is planted in the incidents (see :func:`_demo_actions`).
    """
    rng = np.random.default_rng(seed)
    days = _days(start, end)
    n_days = len(days)
    hx, hy, epsg = project(hospitals["lon"].to_numpy(float), hospitals["lat"].to_numpy(float))
    n_h = len(hospitals)
    weight = np.sort(rng.lognormal(0.0, 1.1, n_h))[::-1]
    order = rng.permutation(n_h)  # which real hospital gets which synthetic weight
    w = np.empty(n_h)
    w[order] = weight
    w = w / w.mean()
    # One hospital heats up over the period, one cools down (both mid-ranked, so the change shows).
    mid = order[n_h // 4 : n_h // 2]
    heating, cooling = int(mid[0]), int(mid[1])
    ramp = np.linspace(0, 1, n_days)
    trend = np.ones((n_h, n_days))
    trend[heating] = 0.25 + 2.5 * ramp**1.5
    trend[cooling] = 2.6 - 2.3 * ramp
    season = _season(days)
    spot_xy = np.zeros((n_h, len(_SPOTS), 2))
    for i in range(n_h):
        for k, (_name, (dmin, dmax), _share, _exact) in enumerate(_SPOTS):
            spot_xy[i, k] = _offset(hx[i], hy[i], rng, dmin, dmax) if dmax > 0 else (hx[i], hy[i])
    spot_share = np.array([sp[2] for sp in _SPOTS])
    spot_exact = np.array([sp[3] for sp in _SPOTS])
    spot_spread = np.array([180.0 if sp[0] == "周边" else 18.0 for sp in _SPOTS])
    spot_names = np.array([sp[0] for sp in _SPOTS])

    actions, effect = _demo_actions(hospitals, w, days, np.random.default_rng(seed + 7))

    def events_for(mix: dict[str, float], per_day: float) -> pd.DataFrame:
        lam = per_day * w[:, None] * trend * effect * (season * _WEEK[days.day_of_week.to_numpy()])[None, :]
        counts = rng.poisson(lam)
        hosp_idx, day_idx = np.nonzero(counts)
        reps = counts[hosp_idx, day_idx]
        hosp_idx, day_idx = np.repeat(hosp_idx, reps), np.repeat(day_idx, reps)
        n = len(hosp_idx)
        labels = np.array(list(mix))
        p = np.array(list(mix.values()))
        cats = labels[rng.choice(len(labels), size=n, p=p / p.sum())]
        t = _sample_times(days, day_idx, cats, rng)
        k = rng.choice(len(_SPOTS), size=n, p=spot_share / spot_share.sum())
        base = spot_xy[hosp_idx, k]
        exact = rng.random(n) < spot_exact[k]
        jitter = rng.normal(0, 1, size=(n, 2)) * spot_spread[k][:, None]
        xy = np.where(exact[:, None], base, base + jitter)  # exact: geocoded to the very same gate point
        return pd.DataFrame({"t": t, "x": xy[:, 0], "y": xy[:, 1], "cat": cats, "hosp": hosp_idx,
                             "spot": spot_names[k]})

    calls = events_for(_CAT_110, 2.4 * scale)
    # Near-repeat bursts: some calls are followed by others close in space and time.
    parent = calls[calls["cat"].isin(["号贩子/倒号", "医托", "盗窃"]) & (rng.random(len(calls)) < 0.12)]
    kids = parent.loc[parent.index.repeat(rng.integers(1, 4, size=len(parent)))].copy()
    kids["t"] = kids["t"] + pd.to_timedelta(rng.uniform(2, 72, size=len(kids)), unit="h")
    kids["x"] += rng.normal(0, 40, size=len(kids))
    kids["y"] += rng.normal(0, 40, size=len(kids))
    kids = kids[kids["t"] < end]
    calls = pd.concat([calls, kids], ignore_index=True)
    complaints = events_for(_CAT_COMPLAINT, 0.55 * scale)

    # Background calls across the districts, unrelated to hospitals.
    n_bg = int(rng.poisson(0.18 * len(calls)))
    polys = [g for _n, g in districts]
    names = np.array([n for n, _g in districts])
    areas = np.array([g.area for g in polys])
    pick = rng.choice(len(polys), size=n_bg, p=areas / areas.sum())
    lon = np.empty(n_bg)
    lat = np.empty(n_bg)
    for j in np.unique(pick):
        idx = np.nonzero(pick == j)[0]
        g = polys[j]
        minx, miny, maxx, maxy = g.bounds
        got = 0
        while got < len(idx):
            cx, cy = rng.uniform(minx, maxx, 4 * len(idx)), rng.uniform(miny, maxy, 4 * len(idx))
            inside = shapely.contains_xy(g, cx, cy)
            take = min(len(idx) - got, int(inside.sum()))
            lon[idx[got : got + take]] = cx[inside][:take]
            lat[idx[got : got + take]] = cy[inside][:take]
            got += take
    bx, by, _ = project(lon, lat, epsg)
    bg_day = rng.integers(0, n_days, size=n_bg)
    bg = pd.DataFrame({
        "t": days.to_numpy()[bg_day] + rng.integers(0, 86400, size=n_bg).astype("timedelta64[s]"),
        "x": bx, "y": by, "cat": "其他", "hosp": -1, "spot": names[pick],
    })
    bg_tpl = rng.integers(0, len(_BACKGROUND_TEMPLATES), size=n_bg)
    bg["cat"] = [_BACKGROUND_TEMPLATES[i][0] for i in bg_tpl]
    bg["text"] = [
        t.format(district=d, name=nm, phone=ph, price=pr)
        for t, d, nm, ph, pr in zip(
            [_BACKGROUND_TEMPLATES[i][1] for i in bg_tpl], bg["spot"], _fake_names(rng, n_bg), _fake_phones(rng, n_bg),
            rng.choice([500, 2000, 8000, 30000], size=n_bg), strict=True,
        )
    ]
    calls = pd.concat([calls, bg], ignore_index=True)

    hosp_names = hospitals["name"].to_numpy()
    hosp_full = hospitals["full_name"].where(hospitals["full_name"] != "", hospitals["name"]).to_numpy()

    def frame(df: pd.DataFrame, prefix: str) -> pd.DataFrame:
        df = df.sort_values("t", kind="stable").reset_index(drop=True)
        lon, lat = unproject(df["x"].to_numpy(), df["y"].to_numpy(), epsg)
        df["lon"], df["lat"] = np.round(lon, 7), np.round(lat, 7)
        text = df["text"].to_numpy(dtype=object) if "text" in df else np.full(len(df), None, dtype=object)
        for cat, tpls in _TEMPLATES.items():
            m = (df["cat"].to_numpy() == cat) & pd.isna(text)
            if m.any():
                h = df.loc[m, "hosp"].to_numpy()
                text[m] = _fill_texts(tpls, rng, hosp=hosp_names[h], spot=df.loc[m, "spot"].to_numpy())
        df["description"] = text
        df["hospital_name"] = np.where(df["hosp"] >= 0, hosp_full[df["hosp"].clip(lower=0)], "")
        df["caller_name"] = _fake_names(rng, len(df))
        df["caller_phone"] = _fake_phones(rng, len(df))
        df["source_id"] = [f"{prefix}{t:%Y%m%d}{i:06d}" for i, t in enumerate(df["t"])]
        return df

    return frame(calls, "J110"), frame(complaints, "TS"), actions


def _title_frame(title: str, df: pd.DataFrame) -> pd.DataFrame:
    """Prepend a title row and a blank row above the header, as real exports have."""
    top = pd.DataFrame([[title] + [""] * (df.shape[1] - 1), [""] * df.shape[1], list(df.columns)])
    body = pd.DataFrame(df.astype(str).to_numpy())
    return pd.concat([top, body], ignore_index=True)


def write_sample_files(calls: pd.DataFrame, complaints: pd.DataFrame, out_dir: Path, *, seed: int) -> dict[str, Path]:
    """Write the demo as messy real-world files: GB18030 CSV (110) and XLSX (complaints), GCJ-02."""
    from core.safeio import write_xlsx

    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1)
    glon, glat = from_wgs84(calls["lon"], calls["lat"], "gcj02")
    c = pd.DataFrame({
        "接警单编号": calls["source_id"],
        "报警时间": calls["t"].dt.strftime("%Y/%m/%d %H:%M"),
        "报警人": calls["caller_name"],
        "联系电话": calls["caller_phone"],
        "事发地址": calls["spot"].where(calls["hosp"] < 0, calls["hospital_name"] + calls["spot"]),
        "经度": np.round(glon, 6),
        "纬度": np.round(glat, 6),
        "警情类别": "",
        "简要警情": calls["description"],
    })
    # Some stations write Chinese dates; the importer must read both.
    chinese = rng.random(len(c)) < 0.2
    c.loc[chinese, "报警时间"] = calls.loc[chinese, "t"].map(lambda t: f"{t.year}年{t.month}月{t.day}日 {t.hour}时{t.minute}分")
    calls_path = out_dir / "演示_110接处警_GB18030.csv"
    _title_frame(f"{DEMO_LABEL} 北京市公安局110接处警登记表", c).to_csv(
        calls_path, index=False, header=False, encoding="gb18030"
    )
    plon, plat = from_wgs84(complaints["lon"], complaints["lat"], "gcj02")
    no_coords = rng.random(len(complaints)) < 0.3  # complaints often name the hospital but no place
    channels = rng.choice(["12345", "12320", "医院投诉办", "网络举报"], size=len(complaints), p=[0.45, 0.3, 0.15, 0.1])
    p = pd.DataFrame({
        "工单编号": complaints["source_id"],
        "受理日期": complaints["t"].dt.strftime("%Y-%m-%d"),
        "受理时刻": complaints["t"].dt.strftime("%H:%M"),
        "来源渠道": channels,
        "投诉人": complaints["caller_name"],
        "联系电话": complaints["caller_phone"],
        "涉及医院": complaints["hospital_name"],
        "坐标": [("" if nc else f"{x:.6f},{y:.6f}") for nc, x, y in zip(no_coords, plon, plat, strict=True)],
        "反映内容": complaints["description"],
    })
    comp_path = out_dir / "演示_投诉记录.xlsx"
    grid = _title_frame(f"{DEMO_LABEL} 医疗服务投诉登记（12345/12320/医院投诉办）", p)
    # The title row becomes the sheet's first row (write_xlsx writes column names first).
    write_xlsx({"投诉记录": pd.DataFrame(grid.iloc[1:].to_numpy(), columns=grid.iloc[0].tolist())}, comp_path)
    return {"calls": calls_path, "complaints": comp_path}


def _units_and_officers(hospitals: pd.DataFrame, rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    units, officers = [], []
    n = 0

    def officer(unit_id: str, hospital_id: str | None) -> None:
        nonlocal n
        n += 1
        officers.append({"id": f"O{n:04d}", "name": _fake_names(rng, 1)[0], "unit_id": unit_id,
                         "hospital_id": hospital_id, "phone": _fake_phones(rng, 1)[0]})

    for h in hospitals.itertuples():
        uid = f"ZY-{h.hospital_id}"
        units.append({"id": uid, "name": f"{h.name}驻院警务室", "kind": "stationed", "district": h.district,
                      "hospital_id": h.hospital_id, "available_per_day": int(h.stationed_officers)})
        for _ in range(int(h.stationed_officers)):
            officer(uid, h.hospital_id)
    for i, d in enumerate(sorted(hospitals["district"].unique())):
        for k in range(1 + int((hospitals["district"] == d).sum() >= 5)):
            uid = f"PCS{i:02d}{k}"
            units.append({"id": uid, "name": f"{d}第{k + 1}派出所（演示）", "kind": "station", "district": d,
                          "hospital_id": None, "available_per_day": int(rng.integers(6, 13))})
            for _ in range(12):
                officer(uid, None)
    units.append({"id": "ZADD", "name": "市局治安总队机动支队（演示）", "kind": "reserve", "district": "",
                  "hospital_id": None, "available_per_day": 40})
    for _ in range(40):
        officer("ZADD", None)
    return units, officers


def load_districts(path: str | Path | None = None) -> list[tuple[str, object]]:
    """District outlines as ``(name, shapely geometry)`` pairs (WGS-84)."""
    gj = json.loads(Path(path or settings.DATA_DIR / "beijing_districts.geojson").read_text(encoding="utf-8"))
    return [(f["properties"]["name"], shape(f["geometry"])) for f in gj["features"]]


def build_demo(
    engine: Engine,
    *,
    months: int = 12,
    seed: int = 20261101,
    scale: float = 1.0,
    end: str | dt.date | None = None,
    out_dir: str | Path | None = None,
) -> dict:
    """Fill ``engine`` with the synthetic demo.

    Parameters
    ----------
    engine
        An empty store (or one holding only an earlier demo build of the same seed).
    months
        Length of the period, ending at ``end``.
    seed
        Seed of the generator; the same seed gives the same data.
    scale
        Multiplies the incident volume (1.0 ≈ 60,000 incidents a year).
    end
        Exclusive end date; default today.
    out_dir
        Where the sample files are written; default ``settings.VAR_DIR / "demo"``.

    Returns
    -------
    dict
        The import summaries and the sample file paths.
    """
    from core.trust.storekind import claim
    from geo.io.ingest import import_file

    claim(engine, "demo")  # before anything is written: refused on a real store
    set_meta("demo", "1", engine)
    end_ts = pd.Timestamp(end or pd.Timestamp.now(tz=settings.TIMEZONE).date()).normalize()
    start_ts = end_ts - pd.DateOffset(months=months)
    rng = np.random.default_rng(seed)
    hospitals = read_hospital_file()
    three_a = hospitals["grade"].str.contains("三级甲等")
    hospitals["stationed_officers"] = np.where(three_a, rng.integers(3, 7, len(hospitals)), rng.integers(1, 4, len(hospitals)))
    hospitals["reg_open"] = rng.choice(["06:30", "07:00", "07:00", "07:30"], size=len(hospitals))
    hospitals["reg_close"] = rng.choice(["16:30", "17:00"], size=len(hospitals))
    save_hospitals(engine, hospitals, source_note="北京市预约挂号平台医院列表（公开数据，GCJ-02 转 WGS-84）")
    units, officers = _units_and_officers(hospitals, rng)
    with session_scope(engine) as s:
        for u in units:
            s.merge(PoliceUnit(**u))
        for o in officers:
            s.merge(Officer(**o))
    calls, complaints, actions = generate_incidents(
        hospitals, load_districts(), start=start_ts, end=end_ts, seed=seed, scale=scale
    )
    paths = write_sample_files(calls, complaints, Path(out_dir or settings.VAR_DIR / "demo"), seed=seed)
    r1 = import_file(paths["calls"], source="110", crs="gcj02", engine=engine, username="demo", demo_build=True)
    r2 = import_file(
        paths["complaints"], source="complaint", crs="gcj02", engine=engine, username="demo", demo_build=True
    )
    set_meta("demo_seed", str(seed), engine)
    set_meta("demo_period", f"{start_ts.date()}/{end_ts.date()}", engine)
    # The past actions whose effect is planted; planning stores them as the demo's action history.
    set_meta("demo_actions", actions.assign(start=actions["start"].astype(str), end=actions["end"].astype(str))
             .to_json(orient="records", force_ascii=False), engine)
    from geo.io.demo_outcomes import add_past_outcomes
    from geo.io.persons import add_demo_persons  # synthetic persons (演示), planted gangs; issue 14

    outcomes = add_past_outcomes(engine, hospitals=hospitals, units=units, officers=officers, actions=actions,
                                 end=end_ts, seed=seed)
    persons = add_demo_persons(engine, hospitals, start=start_ts, days=(end_ts - start_ts).days, seed=seed)
    return {"calls": r1.summary(), "complaints": r2.summary(), "files": {k: str(v) for k, v in paths.items()},
            "outcomes": outcomes, "persons": persons}
