"""Disclosure of personal data: unmasking with a stated reason, always recorded in the audit trail."""

from __future__ import annotations

import dataclasses

from core.trust.access import AccessScope
from core.trust.audit import record


def unmask(scope: AccessScope, *, reason: str, engine=None) -> AccessScope:
    """Return a copy of ``scope`` with personal fields shown, recording it in the audit trail.

    Parameters
    ----------
    scope
        The current scope; its role must allow unmasking.
    reason
        Why the personal data is needed (required, written to the audit trail).
    engine
        Store engine holding the audit trail.
    """
    if not scope.can_unmask:
        raise PermissionError(f"权限不足：{scope.role_label} 无权查看未脱敏的个人信息。")
    if not reason or not reason.strip():
        raise ValueError("`reason` must not be empty: 查看个人信息需填写事由。")
    record("unmask", username=scope.username, detail=f"查看未脱敏个人信息，事由：{reason.strip()}", engine=engine)
    return dataclasses.replace(scope, personal=True)
