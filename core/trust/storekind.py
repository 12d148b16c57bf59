"""Demo and real data never mix: a store is ``demo`` or ``real`` from its first content on, for good.

The kind is the ``meta`` row ``store_kind``, written once with an insert that fails if the row exists, so two
processes cannot give one store two kinds. The demo build (``python -m planning demo``) claims ``demo`` before it
writes anything; the first real import, or the first real (non-demo) account, claims ``real``.

* Importing into a demo store is **refused** (:class:`StoreKindError`): the demo's one-click accounts and its
  "synthetic data" banner would otherwise stand beside real records. Load real data into a new store.
* ``python -m planning demo`` refuses a store that is not a demo store, unless ``--force-wipe`` is given and the
  operator types the confirmation; the wipe is recorded in the old trail first, and that trail is kept in a file
  and referred to from the new one (:mod:`planning.cli.data`).

Stores from before this rule have no ``store_kind``: ``meta.demo = 1`` makes them demo; any incident, or any
non-demo account, makes them real; an empty store has no kind yet.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core.db.schema import Incident, Meta, User, table_of

KEY = "store_kind"
KINDS = {"demo": "演示（合成数据）", "real": "真实数据"}


class StoreKindError(PermissionError):
    """The operation would mix demo and real data; ``str(exc)`` is a Chinese message for the user."""


def store_kind(engine: Engine) -> str | None:
    """``"demo"``, ``"real"`` or None (an empty store that has no kind yet)."""
    with engine.connect() as conn:
        rows = dict(conn.execute(select(Meta.key, Meta.value).where(Meta.key.in_((KEY, "demo")))).all())
        if rows.get(KEY) in KINDS:
            return rows[KEY]
        if rows.get("demo") == "1":
            return "demo"
        real_users = conn.execute(
            select(func.count()).select_from(User).where(User.demo.is_(False))
        ).scalar_one()
        incidents = conn.execute(select(func.count()).select_from(Incident)).scalar_one()
    return "real" if (real_users or incidents) else None


def claim(engine: Engine, kind: str) -> str:
    """Fix the kind of the store to ``kind`` (if it has none yet) and return it.

    Raises
    ------
    StoreKindError
        When the store already is of the other kind.
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {sorted(KINDS)}, got {kind!r}.")
    current = store_kind(engine)
    if current in (None, kind):
        try:  # write the kind once (also for an old store whose kind was only inferred)
            with engine.begin() as conn:
                conn.execute(table_of(Meta).insert().values(key=KEY, value=kind))
        except IntegrityError:
            pass  # already written, perhaps by another process just now: read what it says
        current = store_kind(engine)
    if current != kind:
        if current == "demo":
            raise StoreKindError(
                "当前存储是演示存储（合成数据），不能导入真实数据：演示账户和“合成数据”提示会与真实记录混在一起。"
                "请为真实数据新建存储（设置 HOSPITAL_HOTSPOTS_DB 或 --db 指向新的数据库）后再导入。"
            )
        raise StoreKindError(
            "当前存储保存的是真实数据，不能写入演示数据。如确需清空它，请运行 "
            "`python -m planning demo --force-wipe` 并按提示确认（清空操作会先记入审计）。"
        )
    return current


def require_real(engine: Engine, *, username: str = "") -> None:
    """Make sure real data may be written (claiming ``real`` for a new store); refused on a demo store (audited)."""
    try:
        claim(engine, "real")
    except StoreKindError as exc:
        from core.trust.audit import record

        record("import_refused", username=username, detail="演示存储拒绝导入真实数据", engine=engine)
        raise exc from None
