"""The store: one schema, engines and sessions, scoped loaders.

``core.db.schema`` defines every table, ``core.db.engine`` creates engines (building or upgrading the schema),
``core.db.loaders`` and ``core.db.aggregates`` read with the caller's scope. The public names are re-exported here.
"""

from core.db.engine import get_engine, get_meta, is_demo, session_scope, set_meta
from core.db.loaders import (
    INCIDENT_COLUMNS,
    count_incidents,
    ensure_month_partitions,
    has_geometry,
    incident_count,
    load_hospitals,
    load_incidents,
    load_incidents_in_view,
    load_incidents_near,
    load_officers,
    load_units,
)
from core.db.schema import (
    ActionOutcome,
    AuditEntry,
    Base,
    DailyOutcome,
    Hospital,
    HospitalEntrance,
    ImportBatch,
    Incident,
    KeylistEntry,
    LoginFailure,
    Meta,
    Officer,
    PlanAction,
    PlanEdit,
    PlanRecord,
    PoliceUnit,
    User,
)

__all__ = [
    "INCIDENT_COLUMNS", "ActionOutcome", "AuditEntry", "Base", "DailyOutcome", "Hospital", "HospitalEntrance", "ImportBatch",
    "Incident", "KeylistEntry", "LoginFailure", "Meta", "Officer", "PlanAction", "PlanEdit", "PlanRecord",
    "PoliceUnit", "User", "count_incidents", "ensure_month_partitions", "get_engine", "get_meta", "has_geometry",
    "incident_count", "is_demo", "load_hospitals",
    "load_incidents", "load_incidents_in_view", "load_incidents_near", "load_officers", "load_units", "session_scope", "set_meta",
]
