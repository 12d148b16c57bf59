"""The evidence behind ``auto``'s choice of forecast method, and the rules of that choice.

Pure functions on backtest figures (no model fitting here): which methods are baselines, which method wins
(mean PAI at 5 % over rolling origins, a learned method only when it beats the strongest baseline by a margin, ties
to the simpler), the paired bootstrap interval of the gain, and the plain-Chinese statement of what the forecast is
worth. :mod:`geo.forecast_auto` runs the backtest; :mod:`geo.backtest` reuses these rules to score ``auto`` without
leakage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Methods ``auto`` compares by default: the baselines, the self-exciting models and the learned count model.
AUTO_CANDIDATES: tuple[str, ...] = ("naive_all", "naive_12m", "naive_decay", "naive_last", "kde_retrospective",
                                    "sepp", "ensemble", "boosted_counts")
#: Simplest first; a tie (within ``tie_tolerance``) goes to the earlier name.
SIMPLICITY: tuple[str, ...] = ("naive_all", "naive_12m", "naive_last", "naive_decay", "kde_retrospective",
                               "prospective", "sepp", "ensemble", "poisson_stack", "boosted_counts")
#: Rolling origins ``auto`` chooses by (a year of monthly origins: six proved too noisy on Medellín).
AUTO_ORIGINS = 12
#: Default coverage (percent of the area) at which methods are compared.
COVERAGE = 5


def is_baseline(name: str) -> bool:
    """Whether a method is a simple baseline (counting or retrospective KDE)."""
    return name.startswith("naive_") or name == "kde_retrospective"


def _simplicity(name: str) -> int:
    return SIMPLICITY.index(name) if name in SIMPLICITY else len(SIMPLICITY)


def pick_method(mean_pai: dict[str, float], *, min_gain: float = 0.02, tie_tolerance: float = 0.005) -> str:
    """The method ``auto`` uses given each candidate's mean PAI over the selection origins.

    The best baseline is the baseline with the highest mean PAI (near-ties, within
    ``tie_tolerance`` relative, go to the simpler one). A non-baseline method replaces it only
    if its mean PAI is at least ``(1 + min_gain)`` times the baseline's; among such methods the
    best (ties to the simpler) wins.
    """
    vals = {m: float(v) for m, v in mean_pai.items() if np.isfinite(v)}
    if not vals:
        return "naive_all"

    def best_of(names: list[str]) -> str | None:
        if not names:
            return None
        top = max(vals[m] for m in names)
        near = [m for m in names if vals[m] >= top * (1 - tie_tolerance)]
        return min(near, key=_simplicity)

    base = best_of([m for m in vals if is_baseline(m)])
    if base is None:
        return best_of(list(vals)) or "naive_all"
    better = [m for m in vals if not is_baseline(m) and vals[m] >= vals[base] * (1 + min_gain)]
    return best_of(better) or base


def paired_bootstrap(a: np.ndarray, b: np.ndarray, *, statistic: str = "diff", n_boot: int = 2000,
                     confidence: float = 0.95, random_state: int = 0) -> tuple[float, float, float]:
    """Estimate and percentile bootstrap interval of a paired per-origin comparison.

    ``statistic="diff"``: mean of ``a - b``; ``"gain"``: ``mean(a) / mean(b) - 1``. Origins are
    resampled with replacement (``n_boot`` times, seeded).
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size == 0:
        return float("nan"), float("nan"), float("nan")

    def stat(x, y):
        if statistic == "diff":
            return np.mean(x - y, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.mean(x, axis=-1) / np.mean(y, axis=-1) - 1.0

    est = float(stat(a, b))
    rng = np.random.default_rng(random_state)
    idx = rng.integers(0, a.size, size=(n_boot, a.size))
    boots = stat(a[idx], b[idx])
    boots = boots[np.isfinite(boots)]
    alpha = (1 - confidence) / 2
    lo, hi = (np.quantile(boots, [alpha, 1 - alpha]) if boots.size else (np.nan, np.nan))
    return est, float(lo), float(hi)


@dataclass
class ForecastChoice:
    """What ``auto`` chose and why.

    Attributes
    ----------
    method
        The method used for the forecast.
    baseline
        The strongest count baseline on these origins (highest mean PAI among baselines).
    learned
        The best non-baseline method on these origins (None if none was a candidate).
    beats_baseline
        Whether ``method`` is a learned method that beat the baseline (else it is counting).
    summary
        One row per candidate: ``method, pai, hit_rate, pei`` (means at ``coverage``) and
        ``baseline`` (bool), best first.
    by_origin
        PAI and hit rate per origin and method (columns ``origin, method, pai, hit_rate, pei``).
    pai_diff, pai_diff_ci
        Mean paired per-origin PAI difference ``method − baseline`` and its bootstrap interval.
    hit_gain, hit_gain_ci
        Relative gain in events covered, ``mean hits(method) / mean hits(baseline) − 1``, and interval.
    learned_pai_diff, learned_pai_diff_ci
        The same PAI difference for ``learned`` (evidence even when counting is used).
    origins, horizon, coverage, window
        Selection origins, forecast horizon, area share (%) and ``(first, last)`` day of the
        events used.
    params
        Settings of the selection (bootstrap size, seed, minimum gain, cell size).
    """

    method: str
    baseline: str
    learned: str | None
    beats_baseline: bool
    summary: pd.DataFrame
    by_origin: pd.DataFrame
    pai_diff: float
    pai_diff_ci: tuple[float, float]
    hit_gain: float
    hit_gain_ci: tuple[float, float]
    learned_pai_diff: float
    learned_pai_diff_ci: tuple[float, float]
    origins: list[pd.Timestamp]
    horizon: str
    coverage: float
    window: tuple[pd.Timestamp, pd.Timestamp]
    params: dict = field(default_factory=dict)

    def statement(self) -> str:
        """Plain-Chinese sentence of what the forecast is worth (see :func:`worth_statement`)."""
        return worth_statement(self)

    def to_dict(self) -> dict:
        """JSON-ready evidence."""
        def num(v):
            return None if v is None or not np.isfinite(v) else round(float(v), 4)

        return {
            "method": self.method, "baseline": self.baseline, "learned": self.learned,
            "beats_baseline": self.beats_baseline, "coverage": self.coverage, "horizon": self.horizon,
            "origins": [o.strftime("%Y-%m-%d") for o in self.origins],
            "window": [self.window[0].strftime("%Y-%m-%d"), self.window[1].strftime("%Y-%m-%d")],
            "methods": {r.method: {"pai": num(r.pai), "hit_rate": num(r.hit_rate), "pei": num(r.pei)}
                        for r in self.summary.itertuples()},
            "pai_diff": num(self.pai_diff), "pai_diff_ci": [num(v) for v in self.pai_diff_ci],
            "hit_gain": num(self.hit_gain), "hit_gain_ci": [num(v) for v in self.hit_gain_ci],
            "learned_pai_diff": num(self.learned_pai_diff),
            "learned_pai_diff_ci": [num(v) for v in self.learned_pai_diff_ci],
            "statement": self.statement(),
        }


_METHOD_ZH = {
    "naive_all": "按全部历史计数", "naive_12m": "按近 12 个月计数", "naive_last": "按上一期计数",
    "naive_decay": "按时间衰减计数", "kde_retrospective": "核密度（回顾式）", "prospective": "前瞻热点",
    "sepp": "自激点过程", "ensemble": "组合模型", "poisson_stack": "泊松堆叠模型",
    "boosted_counts": "梯度提升计数模型", "auto": "自动选择的方法",
}
_PERIOD_ZH = {"month": "下月", "week": "下周"}


def method_label(name: str) -> str:
    """Chinese name of a forecast method."""
    return _METHOD_ZH.get(name, name)


def worth_statement(choice: ForecastChoice) -> str:
    """Plain-Chinese statement of what the forecast is worth, with its evidence window.

    E.g. "下月预测（梯度提升计数模型）圈定 5% 区域可覆盖 31% 的警情，比按历史计数多 18%（95% 区间 9%–27%）。
    依据：2018-01 至 2018-12 共 12 期滚动回测，所用数据 2016-01-01 至 2018-12-31。"
    When the forecast is not better than counting it says so.
    """
    def pct(v: float) -> str:
        return f"{100 * v:.0f}%"

    period = _PERIOD_ZH.get(choice.horizon, "下一期")
    fmt = "%Y-%m" if choice.horizon == "month" else "%Y-%m-%d"
    first, last = choice.origins[0].strftime(fmt), choice.origins[-1].strftime(fmt)
    basis = (f"依据：{first} 至 {last} 共 {len(choice.origins)} 期滚动回测，"
             f"所用数据 {choice.window[0]:%Y-%m-%d} 至 {choice.window[1]:%Y-%m-%d}。")
    row = choice.summary.set_index("method").loc[choice.method]
    cov = f"{choice.coverage:g}%"
    base_zh = method_label(choice.baseline)
    if choice.beats_baseline:
        lo, hi = choice.hit_gain_ci
        sure = "" if lo > 0 else "；区间含 0，优势尚不确定"
        return (f"{period}预测（{method_label(choice.method)}）圈定 {cov} 区域可覆盖 {pct(row.hit_rate)} 的警情，"
                f"比{base_zh}多 {pct(choice.hit_gain)}（95% 区间 {pct(lo)}–{pct(hi)}{sure}）。{basis}")
    extra = ""
    if choice.learned is not None and np.isfinite(choice.learned_pai_diff):
        lrow = choice.summary.set_index("method").loc[choice.learned]
        extra = (f"学习模型（{method_label(choice.learned)}）覆盖 {pct(lrow.hit_rate)}，"
                 f"未能稳定超过按历史计数，")
    return (f"{period}预测未能稳定优于按历史计数：{extra}因此直接{base_zh}圈定 {cov} 区域，"
            f"可覆盖 {pct(row.hit_rate)} 的警情。{basis}")


def choice_from_periods(by_period: pd.DataFrame, *, coverage: float = COVERAGE, horizon: str = "month",
                        min_gain: float = 0.02, n_boot: int = 2000, random_state: int = 0,
                        window: tuple[pd.Timestamp, pd.Timestamp] | None = None, method: str | None = None,
                        cell_size: float | None = None) -> ForecastChoice:
    """Build a :class:`ForecastChoice` from backtest rows (``BacktestResult.by_period``).

    ``method`` forces the reported method (e.g. ``auto``'s own per-origin choices scored as a
    method in a backtest); by default it is :func:`pick_method`'s choice.
    """
    rows = by_period[by_period["coverage"] == coverage]
    rows = rows[rows["method"] != "auto"] if method is None else rows
    wide_pai = rows.pivot(index="origin", columns="method", values="pai")
    wide_hits = rows.pivot(index="origin", columns="method", values="hits")
    names = list(dict.fromkeys(rows["method"]))
    mean = rows.groupby("method", sort=False)[["pai", "hit_rate", "pei"]].mean()
    pure = {m: mean.loc[m, "pai"] for m in names if m != "auto"}
    chosen = method or pick_method(pure, min_gain=min_gain)
    bases = [m for m in names if is_baseline(m)]
    top = max(mean.loc[m, "pai"] for m in bases)
    baseline = min([m for m in bases if mean.loc[m, "pai"] >= top * (1 - 0.005)], key=_simplicity)
    learned_names = [m for m in names if not is_baseline(m) and m != "auto"]
    learned = max(learned_names, key=lambda m: mean.loc[m, "pai"]) if learned_names else None
    kw = {"n_boot": n_boot, "random_state": random_state}
    if chosen == baseline:
        d, d_ci, g, g_ci = 0.0, (0.0, 0.0), 0.0, (0.0, 0.0)
    else:
        d, *d_ci = paired_bootstrap(wide_pai[chosen], wide_pai[baseline], **kw)
        g, *g_ci = paired_bootstrap(wide_hits[chosen], wide_hits[baseline], statistic="gain", **kw)
    if learned is not None:
        ld, *ld_ci = paired_bootstrap(wide_pai[learned], wide_pai[baseline], **kw)
    else:
        ld, ld_ci = float("nan"), [float("nan"), float("nan")]
    summary = mean.reset_index().assign(baseline=lambda f: f["method"].map(is_baseline))
    summary = summary.sort_values("pai", ascending=False, kind="stable").reset_index(drop=True)
    origins = [pd.Timestamp(o) for o in wide_pai.index]
    if window is None:
        window = (origins[0], origins[-1])
    return ForecastChoice(
        method=chosen, baseline=baseline, learned=learned,
        beats_baseline=not is_baseline(chosen) and chosen != baseline and d > 0,
        summary=summary, by_origin=rows[["origin", "method", "pai", "hit_rate", "pei"]].reset_index(drop=True),
        pai_diff=float(d), pai_diff_ci=tuple(d_ci), hit_gain=float(g), hit_gain_ci=tuple(g_ci),
        learned_pai_diff=float(ld), learned_pai_diff_ci=tuple(ld_ci), origins=origins, horizon=horizon,
        coverage=float(coverage), window=window,
        params={"n_boot": n_boot, "random_state": random_state, "min_gain": min_gain, "cell_size": cell_size},
    )


def coverage_metrics(risk: np.ndarray, actual: np.ndarray, *, coverage: float, total: float | None = None) -> dict:
    """Hit rate, PAI and PEI* of one forecast over the study-area cells.

    Parameters
    ----------
    risk, actual
        Forecast risk and observed counts per study-area cell (1-D, same length).
    coverage
        Flagged share of the area in percent.
    total
        N, the period's events (default ``actual.sum()``; pass more to count events outside the area).
    """
    risk = np.asarray(risk, dtype=float)
    actual = np.asarray(actual, dtype=float)
    if risk.shape != actual.shape:
        raise ValueError(f"`risk` and `actual` must have the same shape, got {risk.shape} and {actual.shape}.")
    if not 0 < coverage <= 100:
        raise ValueError(f"`coverage` must be in (0, 100] percent, got {coverage!r}.")
    area = risk.size
    big_n = float(actual.sum() if total is None else total)
    k = max(1, round(area * coverage / 100.0))
    order = np.argsort(-risk, kind="stable")
    thr = risk[order[k - 1]]
    above = risk > thr
    tied = risk == thr
    n_above = int(above.sum())
    hits = actual[above].sum() + actual[tied].sum() * (k - n_above) / tied.sum()
    best = np.sort(actual)[::-1][:k].sum()
    hit_rate = hits / big_n if big_n > 0 else float("nan")
    return {
        "hit_rate": float(hit_rate),
        "pai": float(hit_rate / (k / area)) if big_n > 0 else float("nan"),
        "pei": float(hits / best) if best > 0 else float("nan"),
        "cells": k,
        "hits": float(hits),
    }
