"""Hotspot-engine subcommands: ``hotspots``, ``backtest``, ``forecast``.

``backtest`` and ``forecast`` read any point-event CSV (column names given by flags), so
outside evaluators can run and score our methods on their own data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from core import settings

COVERAGE_HELP = "1、2、5、10%% 面积覆盖率下的命中率、PAI、PEI*"  # %% : argparse formats help text


def _read_points(args: argparse.Namespace) -> pd.DataFrame:
    """Read a point CSV into ``lon, lat (WGS-84), received_at``; rows without a time or place are dropped."""
    from geo.crs import normalize_crs_name, to_wgs84

    path = Path(args.csv)
    if not path.exists():
        raise FileNotFoundError(f"找不到文件 {path}")
    wanted = {args.time, args.lon, args.lat}
    raw = None
    for encoding in ("utf-8-sig", "gb18030"):  # Chinese exports are often GBK/GB18030
        try:
            raw = pd.read_csv(path, usecols=lambda c: c in wanted, low_memory=False, encoding=encoding)
            break
        except UnicodeDecodeError:
            continue
    if raw is None:
        raise ValueError(f"无法识别文件编码：{path}（支持 UTF-8 与 GB18030）")
    missing = [c for c in (args.time, args.lon, args.lat) if c not in raw.columns]
    if missing:
        raise ValueError(f"文件中缺少列 {', '.join(missing)}（请用 --time/--lon/--lat 指定列名）")
    try:
        t = pd.to_datetime(raw[args.time], errors="coerce", format="mixed")
    except (ValueError, TypeError):
        # Mixed UTC offsets: read as UTC rather than fail.
        t = pd.to_datetime(raw[args.time], errors="coerce", format="mixed", utc=True)
    lon = pd.to_numeric(raw[args.lon], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(raw[args.lat], errors="coerce").to_numpy(float)
    ok = t.notna().to_numpy() & np.isfinite(lon) & np.isfinite(lat)
    ok &= (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    ok &= ~((np.abs(lon) < 1e-6) & (np.abs(lat) < 1e-6))  # (0, 0) is a geocoding failure, not a place
    dropped = int((~ok).sum())
    if dropped:
        print(f"提示: 跳过 {dropped} 行（时间或坐标无效）", file=sys.stderr)
    if not ok.any():
        raise ValueError("文件中没有有效的时间和坐标")
    lon, lat = to_wgs84(lon[ok], lat[ok], normalize_crs_name(args.crs))
    return pd.DataFrame({"lon": lon, "lat": lat, "received_at": t[ok].reset_index(drop=True)})


#: Largest analysis grid the CLI accepts (cells); beyond it the extent is almost surely wrong.
MAX_CLI_CELLS = 25_000_000


def _check_extent(events: pd.DataFrame, cell: float) -> None:
    """Refuse extents that would need an absurd grid (stray coordinates), in Chinese."""
    from geo._events import project_events

    if cell <= 0:
        raise ValueError("--cell 必须为正数（米）")
    x, y, _ = project_events(events)
    w, h = float(np.nanmax(x) - np.nanmin(x)), float(np.nanmax(y) - np.nanmin(y))
    cells = (w / cell + 3) * (h / cell + 3)
    if cells > MAX_CLI_CELLS:
        raise ValueError(f"数据范围过大（约 {w / 1000:.0f}×{h / 1000:.0f} 公里，按 {cell:g} 米网格需约 {cells:,.0f} 个网格），"
                         "请检查异常坐标、--crs 设置，或增大 --cell")


def _check_span(events: pd.DataFrame, horizon: str) -> None:
    t = events["received_at"]
    days = (t.max() - t.min()) / pd.Timedelta(days=1)
    need = 14 if horizon == "week" else 60
    if days < need:
        raise ValueError(f"数据只覆盖 {days:.0f} 天，按 {horizon} 回测至少需要 {need} 天")


def _add_csv_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv", required=True, help="点事件 CSV 文件（可为 .gz）")
    p.add_argument("--time", required=True, help="时间列名")
    p.add_argument("--lon", required=True, help="经度列名")
    p.add_argument("--lat", required=True, help="纬度列名")
    p.add_argument("--crs", default="wgs84", help="坐标系：wgs84、gcj02 或 bd09（默认 wgs84）")
    p.add_argument("--cell", type=float, default=settings.GRID_SIZE_M, help="网格边长（米）")
    p.add_argument("--horizon", choices=["week", "month"], default="month", help="预测期：week 或 month")


def _backtest(args: argparse.Namespace) -> int:
    from geo.backtest import backtest
    from geo.forecast_models import ALL_METHODS as METHODS

    events = _read_points(args)
    _check_extent(events, args.cell)
    _check_span(events, args.horizon)
    if args.periods < 1:
        raise ValueError("--periods 至少为 1")
    methods = tuple(METHODS) if not args.methods else tuple(m.strip() for m in args.methods.split(",") if m.strip())
    result = backtest(events, methods=methods, cell_size=args.cell, horizon=args.horizon, n_periods=args.periods)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    print(f"滚动回测：{len(result.origins)} 个预测期（{args.horizon}），网格 {args.cell:g} 米，"
          f"研究区 {result.params['area_cells']} 个网格")
    table = result.summary.pivot(index="method", columns="coverage", values=["hit_rate", "pai", "pei"])
    table = table.rename(columns={"hit_rate": "命中率", "pai": "PAI", "pei": "PEI*"}, level=0)
    table.columns = [f"{m}@{c}%" for m, c in table.columns]
    table.index.name = "方法"
    print(table.round(3).to_string())
    best = result.best_method(coverage=5)
    base = result.strongest_baseline(coverage=5)
    print(f"5% 覆盖率下 PAI 最高的方法：{best}；最强基线：{base}（{best} 为其 {result.ratio_to_baseline(best):.2f} 倍）")
    if "auto" in set(result.summary["method"]):
        ev = result.evidence("auto")
        lo, hi = ev.pai_diff_ci
        print(f"auto 与最强基线 {ev.baseline} 的逐期 PAI@5% 差：{ev.pai_diff:+.3f}（95% 区间 {lo:+.3f}–{hi:+.3f}）")
    return 0


def _forecast(args: argparse.Namespace) -> int:
    from geo.forecast import horizon_end, to_local_naive
    from geo.forecast_auto import make_forecaster as make_model
    from geo.forecast_models import Points
    from geo.grid import Grid

    try:
        until = to_local_naive(args.until)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--until 不是有效日期：{args.until}") from exc
    events = _read_points(args)
    _check_extent(events, args.cell)
    pts = Points.from_events(events)
    train = pts.before(pd.Timestamp(until).value / 86400e9)
    if len(train) == 0:
        raise ValueError(f"{args.until} 之前没有事件，无法预测")
    grid = Grid.from_points(train.x, train.y, epsg=train.epsg, cell_size=args.cell, margin_cells=2)
    kw = {"horizon": args.horizon} if args.method in ("auto", "boosted_counts") else {}
    if args.method == "naive_decay":
        kw = {"period_days": 7.0 if args.horizon == "week" else 30.0}
    model = make_model(args.method, **kw).fit(train, grid=grid, until=until)
    risk = model.predict(horizon=args.horizon).ravel()
    choice = getattr(model, "choice_", None)
    if args.method == "auto":
        if choice is None:
            print("提示: 历史太短，无法回测比较，按全部历史计数预测", file=sys.stderr)
        else:
            print(f"自动选择方法：{model.method_}。{choice.statement()}", file=sys.stderr)
    if args.cells == "all":
        index = np.arange(grid.n_cells)
    else:
        from geo.backtest import study_area

        index = np.flatnonzero(study_area(grid, train, buffer_cells=2).ravel())
    out = grid.bounds_wgs84(index)
    out["risk"] = risk[index]
    out.to_csv(args.out, index=False, float_format="%.8g")
    end = horizon_end(until, args.horizon)
    used = getattr(model, "method_", args.method)
    print(f"已写出 {len(out)} 个网格的预测（{used}，{until:%Y-%m-%d} 至 {end:%Y-%m-%d}）到 {args.out}",
          file=sys.stderr)
    return 0


def _hotspots(args: argparse.Namespace) -> int:
    from core.db import get_engine, load_hospitals, load_incidents
    from geo.hotspot_report import hotspot_geojson

    engine = get_engine(args.db) if args.db else get_engine()
    hospital_ids = [args.hospital] if args.hospital else None
    events = load_incidents(engine, start=args.start, end=args.end, hospital_ids=hospital_ids)
    if events.empty:
        raise ValueError(f"{args.start} 至 {args.end} 没有警情记录")
    hospitals = load_hospitals(engine)
    collection = hotspot_geojson(events, hospitals=hospitals, cell_size=args.cell)
    data = json.dumps(collection, ensure_ascii=False).encode("utf-8")
    Path(args.out).write_bytes(data)
    try:
        from core.trust import audit

        audit.record("export", username="cli", detail=f"热点分析 GeoJSON {args.start}~{args.end} → {args.out}",
                     data=data, engine=engine)
    except Exception as exc:  # the export itself succeeded; say so but keep the file
        print(f"提示: 未能写入审计记录（{exc}）", file=sys.stderr)
    n_cl = sum(1 for f in collection["features"] if f["properties"]["kind"] == "cluster")
    n_gi = sum(1 for f in collection["features"] if f["properties"]["kind"] == "gi_cell")
    print(f"已写出 {n_cl} 个聚集区、{n_gi} 个显著网格到 {args.out}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this concern's subcommands to the parser."""
    from geo.forecast_models import ALL_METHODS as METHODS

    p = sub.add_parser("hotspots", help="热点分析：聚集区与 Gi* 显著网格，输出 GeoJSON（WGS-84）")
    p.add_argument("--start", required=True, help="开始日期 YYYY-MM-DD（含）")
    p.add_argument("--end", required=True, help="结束日期 YYYY-MM-DD（不含）")
    p.add_argument("--hospital", default=None, help="只分析该医院 ID")
    p.add_argument("--cell", type=float, default=settings.GRID_SIZE_M, help="网格边长（米）")
    p.add_argument("--db", default=None, help="数据库 URL（默认配置中的库）")
    p.add_argument("--out", required=True, help="输出 GeoJSON 文件")
    p.set_defaults(func=_hotspots)

    p = sub.add_parser("backtest", help=f"滚动回测各预测方法：{COVERAGE_HELP}")
    _add_csv_args(p)
    p.add_argument("--periods", type=int, default=6, help="回测的预测期数（最近的完整周/月）")
    p.add_argument("--methods", default="", help=f"逗号分隔的方法名（默认全部）：{', '.join(METHODS)}")
    p.add_argument("--json", action="store_true", help="输出一个 JSON 对象")
    p.set_defaults(func=_backtest)

    p = sub.add_parser("forecast", help="预测 --until 之后一期每个网格的风险，输出 CSV（WGS-84）")
    _add_csv_args(p)
    p.add_argument("--method", default="auto", choices=sorted(METHODS),
                   help="预测方法（默认 auto：在本数据上滚动回测，选 5%% 面积 PAI 最高者，学习模型不明显更好时按历史计数）")
    p.add_argument("--until", required=True, help="预测起点 YYYY-MM-DD（只用此前的事件训练）")
    p.add_argument("--cells", choices=["area", "all"], default="area",
                   help="输出哪些网格：area＝历史事件两格范围内的网格（默认，其余风险视为 0），all＝数据范围内全部网格")
    p.add_argument("--out", required=True, help="输出 CSV 文件")
    p.set_defaults(func=_forecast)
