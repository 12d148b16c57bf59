"""Row accounting shared by every importer: each input row is accepted, rejected or a duplicate."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(kw_only=True)
class RowAccount:
    """What happened to the rows of one imported file.

    ``accepted + rejected + duplicates == total`` always holds once an import has finished;
    :meth:`balanced` checks it, and :meth:`counts` is the part every summary prints.
    """

    filename: str
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    batch_id: int | None = None
    quarantine_path: str | None = None
    encoding: str = ""
    header_row: int = 0
    column_mapping: dict[str, str] = field(default_factory=dict)
    unmapped_columns: list[str] = field(default_factory=list)
    rejected_rows: pd.DataFrame = field(default_factory=pd.DataFrame)

    def balanced(self) -> bool:
        """Whether every row is accounted for."""
        return self.accepted + self.rejected + self.duplicates == self.total

    def counts(self) -> dict:
        """The JSON-ready accounting fields (file, counts, batch, quarantine, reading layout)."""
        return {
            "file": self.filename, "total": self.total, "accepted": self.accepted, "rejected": self.rejected,
            "duplicates": self.duplicates, "batch_id": self.batch_id, "quarantine": self.quarantine_path,
            "encoding": self.encoding, "header_row": self.header_row, "column_mapping": self.column_mapping,
            "unmapped_columns": self.unmapped_columns,
        }
