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
    assert list(df.columns) == ["序号", "时间", "用户", "操作", "操作名称", "内容", "文件SHA-256"]
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
