"""Access scopes: what share of the data a caller may see.

The data access functions (``geo.store.load_*`` and the planning exports) take an
:class:`AccessScope` and enforce it themselves, so hiding a page is never the only guard.
``geo.auth`` turns a signed-in user into a scope.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = {
    "commander": "指挥员",
    "officer": "驻院民警",
    "liaison": "卫健联络员",
    "admin": "管理员",
}


@dataclass(frozen=True)
class AccessScope:
    """The share of the data a caller may see.

    Parameters
    ----------
    role
        One of :data:`ROLES` (English key).
    hospital_ids
        Hospitals whose incidents are visible; None means all (the jurisdiction).
    personal
        Whether personal fields (caller names and phones, ID numbers in text) may be shown.
    aggregates_only
        True for roles that may see statistics but no incident rows.
    username
        Who is asking (for the audit trail).
    officer_id
        The officer record of a stationed officer, for their own schedule.
    """

    role: str
    hospital_ids: frozenset[str] | None = None
    personal: bool = False
    aggregates_only: bool = False
    username: str = ""
    officer_id: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Unknown role {self.role!r}; expected one of {sorted(ROLES)}.")

    def allows_hospital(self, hospital_id: str | None) -> bool:
        """True if incidents of ``hospital_id`` are visible in this scope."""
        return self.hospital_ids is None or (hospital_id is not None and hospital_id in self.hospital_ids)


#: Unrestricted scope used by the command line run by an operator on the server.
SYSTEM = AccessScope(role="admin", personal=True, username="system")
