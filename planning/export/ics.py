"""One iCalendar file per officer: patrol visits (place and instructions) and the actions they serve in."""

from __future__ import annotations

import pandas as pd

from geo.access import AccessScope
from planning.export import DEMO_LABEL, record_export, scoped

#: What an officer does at a patrol point (shown in the event description).
VISIT_INSTRUCTIONS = (
    "到点后停留12–16分钟：巡视挂号窗口、自助机和出入口，盘查可疑倒号、拉客人员，劝离医托，"
    "发现医闹、黑救护车及时处置并报告；离开前登记巡查情况。请按本日历时间执行，勿向无关人员透露巡逻时间。"
)


def _calendar(plan, sp, officer_ids: list[str], *, title: str | None = None) -> bytes:
    from icalendar import Calendar, Event, vText

    label = DEMO_LABEL if plan.demo else ""
    names = dict(zip(sp.officers["officer_id"], sp.officers["display_name"], strict=True))
    if title is None:
        oid = officer_ids[0]
        title = f"{plan.month} 巡逻排班 {names.get(oid, oid)}（{oid}）"
    many = len(officer_ids) > 1
    cal = Calendar()
    cal.add("prodid", "-//hospital-hotspots//巡防排班//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", title + (f" {label}" if label else ""))
    cal.add("x-wr-timezone", "Asia/Shanghai")
    pts = {r.point_id: {"name": r.name, "lat": r.lat, "lon": r.lon} for r in sp.points.itertuples(index=False)}
    stamp = plan.created_at.tz_convert("UTC").to_pydatetime()
    mine = sp.visits[sp.visits["officer_id"].isin(officer_ids)]
    # UTC times keep the file small and fast to write; calendar apps show them in local time.
    starts = mine["start"].dt.tz_convert("UTC").dt.to_pydatetime() if len(mine) else []
    ends = mine["end"].dt.tz_convert("UTC").dt.to_pydatetime() if len(mine) else []
    for v, t0, t1 in zip(mine.itertuples(index=False), starts, ends, strict=True):
        p = pts[v.point_id]
        h = plan.hospital_name(v.hospital_id)
        ev = Event()
        ev.add("uid", f"{v.visit_id}-{plan.month}-{plan.seed}@hospital-hotspots")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", t0)
        ev.add("dtend", t1)
        who = f"{names.get(v.officer_id, v.officer_id)}：" if many else ""
        ev.add("summary", f"{who}巡逻：{h} {p['name']}" + (f"（{label}）" if label else ""))
        ev["location"] = vText(f"{h} {p['name']}（{p['lat']:.6f}, {p['lon']:.6f}，WGS-84）")
        ev.add("geo", (float(p["lat"]), float(p["lon"])))
        ev.add("description", VISIT_INSTRUCTIONS + (f"\n{label}：本日程由合成演示数据生成。" if label else ""))
        cal.add_component(ev)
    units = set(sp.officers.loc[sp.officers["officer_id"].isin(officer_ids), "unit_id"])
    for a in sp.actions.itertuples(index=False):
        f = sp.forces[(sp.forces["hospital_id"] == a.hospital_id) & sp.forces["unit_id"].isin(units)]
        if f.empty:
            continue
        ev = Event()
        ev.add("uid", f"A-{plan.month}-{a.hospital_id}-{'-'.join(sorted(units))}@hospital-hotspots")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", pd.Timestamp(a.start).to_pydatetime())
        ev.add("dtend", pd.Timestamp(a.end).to_pydatetime())
        ev.add("summary", f"集中整治行动：{plan.hospital_name(a.hospital_id)}")
        ev["location"] = vText(plan.hospital_name(a.hospital_id))
        ev.add("description", f"本单位出动{int(f['officers'].sum())}人，全行动警力{a.officers}人。按指挥部统一部署执行。")
        cal.add_component(ev)
    return cal.to_ical()


def export_ics(plan, *, scope: AccessScope, officer_id: str | None = None) -> bytes:
    """One calendar (bytes).

    With ``officer_id`` (or a stationed officer's own scope): that officer's calendar; an
    officer's scope may only export its own. Without either: one combined calendar of every
    officer the scope may see, each event titled with the officer (for commanders).
    """
    sp = scoped(plan, scope)
    officer_id = officer_id or scope.officer_id
    if officer_id is None:
        ids = sorted(sp.officers["officer_id"])
        data = _calendar(plan, sp, ids, title=f"{plan.month} 巡逻排班（{len(ids)}名民警）")
        record_export(plan, scope, "ICS 合并", data)
        return data
    if officer_id not in set(sp.officers["officer_id"]):
        raise PermissionError(f"无权导出民警 {officer_id} 的排班，或该民警不在本方案中。")
    data = _calendar(plan, sp, [officer_id])
    record_export(plan, scope, f"ICS {officer_id}", data)
    return data


def export_ics_all(plan, *, scope: AccessScope) -> dict[str, bytes]:
    """Calendars of every officer ``scope`` may see: officer_id -> bytes (one audit entry)."""
    sp = scoped(plan, scope)
    out = {oid: _calendar(plan, sp, [oid]) for oid in sorted(sp.officers["officer_id"])}
    record_export(plan, scope, f"ICS x{len(out)}", b"".join(out[k] for k in sorted(out)))
    return out
