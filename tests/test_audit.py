"""The audit trail is append-only, readable by administrators only, and exportable."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

import core.trust.audit
from core.db import session_scope
from core.db.schema import AuditEntry, AuditTamperError
from core.trust.access import scope_for_role
from core.trust.audit import export_csv, list_entries, record, sha256_bytes
from tests._trust_data import build_store

ADMIN = scope_for_role("admin", username="adm")


@pytest.fixture()
def engine(tmp_path):
    engine = build_store(tmp_path / "audit.sqlite")
    record("import", username="adm", detail="导入 110.csv：100 行", engine=engine)
    record("export", username="cmd", detail="导出巡防计划 PDF", data=b"%PDF-1.4 ...", engine=engine)
    return engine


def test_entries_are_listed_newest_first_with_labels(engine):
    df = list_entries(engine, scope=ADMIN)
    assert df["action"].tolist() == ["export", "import"]
    assert df["action_label"].tolist() == ["导出", "导入"]
    assert df.iloc[0]["sha256"] == sha256_bytes(b"%PDF-1.4 ...")
    assert df.iloc[1]["sha256"] == ""
    assert list_entries(engine, scope=ADMIN, username="cmd")["action"].tolist() == ["export"]


@pytest.mark.parametrize("role", ["commander", "liaison"])
def test_only_administrators_read_the_trail(engine, role):
    scope = scope_for_role(role, username="x")
    with pytest.raises(PermissionError, match="管理员"):
        list_entries(engine, scope=scope)
    with pytest.raises(PermissionError):
        export_csv(engine, scope=scope)


def test_orm_update_and_delete_are_refused(engine):
    with pytest.raises(AuditTamperError), session_scope(engine) as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "export")).scalar_one()
        entry.detail = "什么也没导出"
    with pytest.raises(AuditTamperError), session_scope(engine) as s:
        s.delete(s.execute(select(AuditEntry).where(AuditEntry.action == "import")).scalar_one())
    df = list_entries(engine)
    assert len(df) == 2 and "导出巡防计划 PDF" in df["detail"].tolist()


@pytest.mark.parametrize("sql", ["update audit_log set detail = 'x'", "delete from audit_log"])
def test_raw_sql_cannot_change_the_trail_either(engine, sql):
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(sql))
    assert len(list_entries(engine)) == 2


def test_module_offers_no_way_to_change_entries():
    public = [n for n in dir(core.trust.audit) if not n.startswith("_")]
    assert not [n for n in public if any(w in n.lower() for w in ("delete", "update", "remove", "purge", "clear"))]


def test_export_is_complete_safe_and_itself_audited(engine):
    record("override", username="cmd", detail='=HYPERLINK("http://evil.example","点我")', engine=engine)
    data = export_csv(engine, scope=ADMIN)
    df = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(df.columns) == ["序号", "时间", "用户", "操作", "操作名称", "内容", "文件SHA-256", "前一条哈希", "本条哈希"]
    assert df["操作"].tolist() == ["import", "export", "override"]
    assert df["内容"].iloc[2].startswith("'=HYPERLINK")
    last = list_entries(engine, limit=1).iloc[0]
    assert last["action"] == "audit_export" and last["username"] == "adm"
    assert last["sha256"] == sha256_bytes(data)


def test_cli_audit_export_writes_the_file(engine, tmp_path, monkeypatch):
    from planning.cli import main

    out = tmp_path / "audit.csv"
    assert main(["audit", "export", "--out", str(out), "--db", engine.url.render_as_string(hide_password=False)]) == 0
    df = pd.read_csv(out, encoding="utf-8-sig")
    assert len(df) == 2
    assert list_entries(engine, limit=1).iloc[0]["sha256"] == sha256_bytes(out.read_bytes())


# --------------------------------------------------------------------------- tamper evidence (issue 11)

from concurrent.futures import ThreadPoolExecutor  # noqa: E402

from core.db import get_engine  # noqa: E402
from core.trust.audit import export_with_head, verify_chain  # noqa: E402


@pytest.fixture()
def chain(store_url):
    engine = get_engine(store_url)
    for i in range(6):
        record("export", username="cmd", detail=f"导出 第{i}份", data=f"file {i}".encode(), engine=engine)
    return engine


def _owner_sql(engine, *statements: str) -> None:
    """Run raw SQL as the store owner would (on SQLite: first drop the triggers, as an attacker with file access can)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_overwrite",
                         "audit_log_no_backdate"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        for sql in statements:
            conn.execute(text(sql))


def test_an_untouched_chain_verifies_and_the_cli_says_so(chain, capsys):
    from planning.cli import main

    report = verify_chain(chain)
    assert report.ok and report.entries == 6
    assert main(["audit", "verify", "--db", str(chain.url.render_as_string(hide_password=False))]) == 0
    assert "审计链完整" in capsys.readouterr().out


def test_concurrent_writers_keep_one_unbroken_chain(chain):
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: record("signin", username=f"u{i}", engine=chain), range(40)))
    report = verify_chain(chain)
    assert report.ok, report.problem
    assert report.entries == 46


def test_a_rewritten_entry_is_found(chain, capsys):
    from planning.cli import main

    _owner_sql(chain, "UPDATE audit_log SET detail = '什么也没导出' WHERE id = 3")
    report = verify_chain(chain)
    assert not report.ok and report.broken_id == 3 and "改写" in report.problem
    assert main(["audit", "verify", "--db", chain.url.render_as_string(hide_password=False)]) == 1
    out = capsys.readouterr().out
    assert "第 3 号记录" in out


def test_a_deleted_entry_is_found(chain):
    _owner_sql(chain, "DELETE FROM audit_log WHERE id = 4")
    report = verify_chain(chain)
    assert not report.ok and report.broken_id == 5 and "删除" in report.problem


def test_a_forged_back_dated_entry_is_found(chain):
    # The forger appends a plausible entry dated last year with a self-made hash.
    t = AuditEntry.__table__
    with chain.connect() as conn:
        head = conn.execute(select(t.c.entry_hash).order_by(t.c.id.desc()).limit(1)).scalar_one()
    _owner_sql(
        chain,
        "INSERT INTO audit_log (id, at, username, action, detail, sha256, prev_hash, entry_hash) VALUES "
        f"(7, '2025-01-01 09:00:00', 'adm', 'approve', '补记审批', '', '{head}', '{'a' * 64}')",
    )
    report = verify_chain(chain)
    assert not report.ok and report.broken_id == 7


def test_a_correctly_hashed_back_dated_entry_is_still_found(chain):
    import datetime as dt

    from core.trust.audit import entry_hash

    t = AuditEntry.__table__
    with chain.connect() as conn:
        head = conn.execute(select(t.c.entry_hash).order_by(t.c.id.desc()).limit(1)).scalar_one()
    at = dt.datetime(2025, 1, 1, 9, 0)
    h = entry_hash(7, at, username="adm", action="approve", detail="补记", sha256="", prev_hash=head)
    _owner_sql(
        chain,
        "INSERT INTO audit_log (id, at, username, action, detail, sha256, prev_hash, entry_hash) VALUES "
        f"(7, '2025-01-01 09:00:00', 'adm', 'approve', '补记', '', '{head}', '{h}')",
    )
    report = verify_chain(chain)
    assert not report.ok and report.broken_id == 7 and "早于" in report.problem


def test_removing_the_tail_is_found_against_an_exported_head(chain, tmp_path):
    from planning.cli import main

    url = chain.url.render_as_string(hide_password=False)
    out = tmp_path / "audit.csv"
    assert main(["audit", "export", "--out", str(out), "--db", url]) == 0
    head_file = tmp_path / "audit.csv.head.json"
    assert head_file.exists()
    _, head = export_with_head(chain, scope=ADMIN)
    _owner_sql(chain, "DELETE FROM audit_log WHERE id >= 6")
    assert verify_chain(chain).ok is False  # triggers were dropped / disabled: reported too
    report = verify_chain(chain, expected_head=head["head_hash"])
    assert not report.ok and "链头" in report.problem
    assert main(["audit", "verify", "--head-file", str(head_file), "--db", url]) == 1


def test_sqlite_insert_or_replace_cannot_rewrite_an_entry(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'r.sqlite'}")
    for i in range(3):
        record("export", username="cmd", detail=f"第{i}份", engine=engine)
    t = AuditEntry.__table__
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == 2)).one()
    for sql in (
        # Same id, a "harmless" new text, dated after the head so the back-date trigger does not fire.
        "INSERT OR REPLACE INTO audit_log (id, at, username, action, detail, sha256, prev_hash, entry_hash) "
        f"VALUES (2, '2099-01-01 00:00:00', 'cmd', 'export', '改写', '', '{row.prev_hash}', '{row.entry_hash}')",
        # A new id that collides on prev_hash would make REPLACE delete the old entry silently.
        "INSERT OR REPLACE INTO audit_log (id, at, username, action, detail, sha256, prev_hash, entry_hash) "
        f"VALUES (99, '2099-01-01 00:00:00', 'cmd', 'export', '改写', '', '{row.prev_hash}', 'x')",
        "REPLACE INTO audit_log (id, at, username, action, detail, sha256, prev_hash, entry_hash) "
        "VALUES (2, '2099-01-01 00:00:00', 'cmd', 'export', '改写', '', 'p', 'x')",
        "INSERT INTO audit_log (id, at, username, action, detail, sha256, prev_hash, entry_hash) "
        "VALUES (2, '2099-01-01 00:00:00', 'c', 'x', 'y', '', 'p', 'x') ON CONFLICT(id) DO UPDATE SET detail='z'",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    assert verify_chain(engine).ok
    assert list_entries(engine)["detail"].tolist() == ["第2份", "第1份", "第0份"]


def test_dropping_a_sqlite_trigger_is_reported(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'd.sqlite'}")
    record("export", username="cmd", engine=engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))
    report = verify_chain(engine)
    assert not report.ok and "audit_log_no_delete" in report.problem


def test_postgresql_refuses_delete_and_truncate_even_for_the_owner(store_url):
    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    engine = get_engine(store_url)
    record("export", username="cmd", engine=engine)
    for sql in ("DELETE FROM audit_log", "TRUNCATE audit_log", "UPDATE audit_log SET detail = 'x'"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    assert verify_chain(engine).ok


def test_postgresql_app_role_may_only_insert_and_read(store_url):
    import os

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    app = os.environ.get("HOSPITAL_HOTSPOTS_TEST_PG_APP", "")
    if not store_url.startswith("postgresql") or not app:
        pytest.skip("PostgreSQL with the application role only")
    owner = get_engine(store_url)
    record("export", username="cmd", engine=owner)
    app_url = make_url(app).set(database=make_url(store_url).database)
    eng = create_engine(app_url, poolclass=NullPool)
    try:
        record("signin", username="app", engine=eng)  # the app can append
        for sql in ("DELETE FROM audit_log", "TRUNCATE audit_log", "UPDATE audit_log SET detail = 'x'",
                    "DROP TRIGGER audit_log_no_change ON audit_log", "ALTER TABLE audit_log DISABLE TRIGGER USER"):
            with pytest.raises(DBAPIError, match=r"permission denied|must be owner|append-only"), eng.begin() as conn:
                conn.execute(text(sql))
    finally:
        eng.dispose()
    assert verify_chain(owner).ok and verify_chain(owner).entries == 2
