"""Classification of incident text into the campaign taxonomy, driven by an editable rule file.

The rules live in ``data/taxonomy.yaml``: categories in priority order, each with keyword
regular expressions. The source's own category is kept when it maps to a taxonomy label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from core import settings

#: The taxonomy labels in display order.
LABELS = ("号贩子/倒号", "医托", "医闹/扰乱秩序", "黑救护车", "非法行医", "盗窃", "诈骗", "其他")

DEFAULT_RULES = settings.DATA_DIR / "taxonomy.yaml"


@dataclass
class Taxonomy:
    """A compiled rule set.

    Parameters
    ----------
    categories
        ``(label, compiled regex)`` pairs in priority order.
    default
        Label for text that matches no rule.
    source_aliases
        Substring of a source category -> taxonomy label.
    """

    categories: list[tuple[str, re.Pattern[str]]]
    default: str = "其他"
    source_aliases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> Taxonomy:
        """Read and compile a rule file (default ``data/taxonomy.yaml``)."""
        path = Path(path or DEFAULT_RULES)
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
        problems = []
        cats = []
        for i, cat in enumerate(raw.get("categories", [])):
            label = cat.get("label")
            if label not in LABELS:
                problems.append(f"category #{i + 1}: label {label!r} is not one of {LABELS}")
                continue
            try:
                # Users write plain groups; make them non-capturing so pandas need not extract them.
                kws = [re.sub(r"(?<!\\)\((?!\?)", "(?:", k) for k in cat.get("keywords", [])]
                cats.append((label, re.compile("|".join(f"(?:{k})" for k in kws))))
            except re.error as exc:
                problems.append(f"category {label}: bad keyword regex ({exc})")
        if problems:
            raise ValueError(f"Invalid taxonomy file {path}: " + "; ".join(problems))
        return cls(cats, raw.get("default", "其他"), dict(raw.get("source_aliases") or {}))

    def classify_text(self, text: str) -> str:
        """Label of one free-text description."""
        for label, rx in self.categories:
            if rx.search(text or ""):
                return label
        return self.default

    def map_source_category(self, value: str) -> str | None:
        """Taxonomy label for a source category, or None when it does not map."""
        v = (value or "").strip()
        if not v:
            return None
        if v in LABELS:
            return v
        for key, label in self.source_aliases.items():
            if key in v:
                return label
        return None

    def classify(self, descriptions: pd.Series, source_categories: pd.Series | None = None) -> pd.Series:
        """Vectorised classification.

        The source category wins where it maps to a label; otherwise the description (and the
        source category's text, which often says more than the description) is matched
        against the rules in priority order.
        """
        text = descriptions.fillna("").astype(str)
        out = pd.Series(np.full(len(text), None, dtype=object), index=text.index)
        if source_categories is not None:
            src = source_categories.fillna("").astype(str)
            uniq = {v: self.map_source_category(v) for v in src.unique()}
            out = src.map(uniq).astype(object)
            text = src + " " + text
        todo = out.isna()
        for label, rx in self.categories:
            if not todo.any():
                break
            hit = text[todo].str.contains(rx, regex=True)
            idx = hit[hit].index
            out.loc[idx] = label
            todo.loc[idx] = False
        out[todo] = self.default
        return out.astype(str)


@lru_cache(maxsize=4)
def load_taxonomy(path: str | None = None) -> Taxonomy:
    """Cached :meth:`Taxonomy.from_file`."""
    return Taxonomy.from_file(path)
