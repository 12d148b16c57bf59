"""Access scopes: what share of the data a caller may see.

The data access functions (``core.db.load_*``, ``core.db.aggregates`` and the planning exports)
take an :class:`AccessScope` and enforce it themselves, so hiding a page is never the only
guard. ``core.trust.auth`` turns a signed-in user into a scope with :func:`scope_for_role`.

Role rules
----------
指挥员 (``commander``)
    Every hospital of the jurisdiction, incident rows included. Personal fields are masked by
    default; the role may unmask them (:func:`core.trust.disclosure.unmask`), which is written to the audit trail.
驻院民警 (``officer``)
    Incidents and hotspots of their own hospital only, and their own schedule
    (``officer_id``). Personal fields masked, no unmasking.
卫健联络员 (``liaison``)
    Aggregates, the key-hospital list and statistics only: no incident rows
    (``aggregates_only``) and never personal fields.
管理员 (``admin``)
    Users, settings, imports and the audit trail. No incident rows in the dashboard
    (aggregates only); the operator's command line uses :data:`SYSTEM` instead.
"""

from __future__ import annotations

import dataclasses
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
        Whether personal fields (caller names and phones, ID numbers in text) are shown unmasked.
    aggregates_only
        True for roles that may see statistics but no incident rows.
    username
        Who is asking (for the audit trail).
    officer_id
        The officer record of a stationed officer, for their own schedule.
    can_unmask
        Whether the role may switch ``personal`` on (see :func:`unmask`).
    """

    role: str
    hospital_ids: frozenset[str] | None = None
    personal: bool = False
    aggregates_only: bool = False
    username: str = ""
    officer_id: str | None = None
    can_unmask: bool = False

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Unknown role {self.role!r}; expected one of {sorted(ROLES)}.")
        if self.hospital_ids is not None and not isinstance(self.hospital_ids, frozenset):
            # Accept any iterable of ids but keep the dataclass hashable.
            object.__setattr__(self, "hospital_ids", frozenset(self.hospital_ids))
        if self.aggregates_only and self.personal:
            raise ValueError("`personal` cannot be True for an aggregates_only scope.")

    @property
    def role_label(self) -> str:
        """The Chinese name of the role (指挥员 ...)."""
        return ROLES[self.role]

    def allows_hospital(self, hospital_id: str | None) -> bool:
        """True if incidents of ``hospital_id`` are visible in this scope."""
        return self.hospital_ids is None or (hospital_id is not None and hospital_id in self.hospital_ids)


#: Unrestricted scope used by the command line run by an operator on the server.
SYSTEM = AccessScope(role="admin", personal=True, username="system", can_unmask=True)


def scope_for_role(
    role: str,
    *,
    username: str = "",
    hospital_id: str | None = None,
    officer_id: str | None = None,
) -> AccessScope:
    """Build the scope a user of ``role`` gets on sign-in.

    Parameters
    ----------
    role
        One of :data:`ROLES`.
    username
        The signed-in user, recorded in the audit trail.
    hospital_id
        The hospital of a stationed officer (required for ``officer``).
    officer_id
        The officer record of a stationed officer (their own schedule).

    Returns
    -------
    AccessScope
        Masked by default for every role.
    """
    if role not in ROLES:
        raise ValueError(f"`role` must be one of {sorted(ROLES)}, got {role!r}.")
    if role == "commander":
        return AccessScope(role=role, username=username, can_unmask=True)
    if role == "officer":
        if not hospital_id:
            raise ValueError("`hospital_id` is required for role 'officer' (驻院民警 must belong to a hospital).")
        return AccessScope(
            role=role, hospital_ids=frozenset({hospital_id}), username=username, officer_id=officer_id
        )
    # liaison and admin: statistics only, never personal fields.
    return AccessScope(role=role, aggregates_only=True, username=username)


def require(
    scope: AccessScope | None,
    *,
    rows: bool = False,
    personal: bool = False,
    hospital_id: str | None = None,
    roles: tuple[str, ...] | None = None,
) -> None:
    """Raise :class:`PermissionError` (Chinese message) unless ``scope`` grants the request.

    ``scope=None`` means internal/unrestricted use and is always allowed.

    Parameters
    ----------
    scope
        The caller's scope.
    rows
        The caller asks for incident rows (not only aggregates).
    personal
        The caller asks for unmasked personal fields.
    hospital_id
        The caller asks for data of this hospital.
    roles
        Only these roles may proceed.
    """
    if scope is None:
        return
    who = f"{scope.role_label}{(' ' + scope.username) if scope.username else ''}"
    if roles is not None and scope.role not in roles:
        allowed = "、".join(ROLES[r] for r in roles)
        raise PermissionError(f"权限不足：{who} 无权执行此操作（仅限{allowed}）。")
    if rows and scope.aggregates_only:
        raise PermissionError(f"权限不足：{who} 只能查看汇总统计，不能查看警情明细。")
    if personal and not scope.personal:
        raise PermissionError(f"权限不足：{who} 无权查看未脱敏的个人信息。")
    if hospital_id is not None and not scope.allows_hospital(hospital_id):
        raise PermissionError(f"权限不足：{who} 无权查看医院 {hospital_id} 的数据。")


def mask(scope: AccessScope) -> AccessScope:
    """Return a copy of ``scope`` with personal fields masked again."""
    return dataclasses.replace(scope, personal=False)
