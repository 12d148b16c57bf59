"""Faults answered in Chinese (issue 11): one line with the cause and what to do, never a traceback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from core.trust.faults import describe_fault

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "planning", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def _one_chinese_line(r: subprocess.CompletedProcess, word: str) -> None:
    assert r.returncode == 3, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("错误: ") and word in lines[0]
    assert "Traceback" not in r.stderr


def test_a_corrupted_sqlite_file(tmp_path):
    db = tmp_path / "broken.sqlite"
    db.write_bytes(b"this is not a database, it was overwritten" * 200)
    before = db.read_bytes()
    _one_chinese_line(_cli("users", "list", "--db", f"sqlite:///{db}"), "损坏")
    assert db.read_bytes() == before  # nothing lost: the file is left for recovery


def test_an_unreachable_postgresql_server():
    _one_chinese_line(
        _cli("users", "list", "--db", "postgresql+psycopg://hh:pw@127.0.0.1:1/none?connect_timeout=3"), "PostgreSQL"
    )


def _sqlite_error(tmp_path, setup) -> BaseException:
    db = tmp_path / "f.sqlite"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.commit()
    setup(db)
    engine = create_engine(f"sqlite:///file:{db}?mode=ro&uri=true")
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
    except Exception as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("the write did not fail")


def test_a_read_only_store_is_named(tmp_path):
    exc = _sqlite_error(tmp_path, lambda db: None)
    assert "只读" in describe_fault(exc)


@pytest.mark.parametrize(("error", "word"), [
    (sqlite3.OperationalError("database or disk is full"), "磁盘空间已满"),
    (sqlite3.OperationalError("database is locked"), "锁定"),
    (OSError(28, "No space left on device"), "磁盘空间已满"),
    (OSError(30, "Read-only file system"), "只读"),
])
def test_driver_errors_of_the_other_faults_are_named(error, word):
    from sqlalchemy.exc import OperationalError

    wrapped = OperationalError("INSERT ...", {}, error) if isinstance(error, sqlite3.Error) else error
    assert word in describe_fault(wrapped)


def test_a_real_bug_keeps_its_traceback():
    assert describe_fault(KeyError("x")) is None
    assert describe_fault(ValueError("database is locked")) is None  # not from the database
