"""Append-only audit trail of sign-ins, imports, approvals, overrides and exports."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from geo.store import Base


class AuditEntry(Base):
    """One audited action: who, when, what, and the SHA-256 of an exported file."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(32))  # signin, import, approve, override, export, unmask ...
    detail: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def record(action: str, *, username: str = "", detail: str = "", data: bytes | None = None, engine=None) -> None:
    """Append one entry to the audit trail (hashing ``data`` when given)."""
    from geo.store import session_scope

    with session_scope(engine) as s:
        s.add(
            AuditEntry(
                at=dt.datetime.now(),
                username=username,
                action=action,
                detail=detail,
                sha256=sha256_bytes(data) if data is not None else "",
            )
        )
