"""Demo and real data never mix (issue 11): a demo store refuses real imports, `demo` refuses a real store."""

from __future__ import annotations

import io
import subprocess
import sys

import pandas as pd
import pytest
from sqlalchemy import func, select

from core.db import get_engine, incident_count, is_demo
from core.db.schema import AuditEntry, User
from core.trust.audit import list_entries, verify_chain
from core.trust.auth import AuthError, demo_sign_in
from core.trust.storekind import StoreKindError, claim, store_kind
from geo.io.ingest import import_file
from planning.cli import main
from tests._trust_data import build_store

DEMO_ARGS = ["--months", "2", "--scale", "0.02", "--end", "2026-11-01"]
REAL_CSV = (
    "警情编号,报警时间,经度,纬度,报警内容,报警人,联系电话\n"
    "R0001,2026-10-02 09:10,116.3725,39.9365,挂号大厅有号贩子倒号,张三,13800001111\n"
).encode()


def _fingerprint(engine) -> tuple:
    with engine.connect() as conn:
        users = conn.execute(select(func.count()).select_from(User)).scalar_one()
        audit = conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    return incident_count(engine), users, audit, store_kind(engine)


@pytest.fixture()
def demo_url(tmp_path, monkeypatch):
    monkeypatch.setenv("HOSPITAL_HOTSPOTS_VAR", str(tmp_path / "var"))
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    assert main(["demo", "--db", url, *DEMO_ARGS]) == 0
    return url


@pytest.fixture()
def real_engine(tmp_path):
    return build_store(tmp_path / "real.sqlite")


def test_a_demo_store_is_demo_from_its_creation(demo_url):
    engine = get_engine(demo_url)
    assert store_kind(engine) == "demo" and is_demo(engine)


def test_a_demo_store_refuses_a_real_import_and_keeps_no_trace_of_it(demo_url, tmp_path, capsys):
    engine = get_engine(demo_url)
    before = incident_count(engine)
    with pytest.raises(StoreKindError, match="演示存储"):
        import_file(REAL_CSV, engine=engine, source="110", filename="real.csv", username="adm")
    f = tmp_path / "real.csv"
    f.write_bytes(REAL_CSV)
    assert main(["import", str(f), "--db", demo_url, "--source", "110"]) == 2
    assert "演示存储" in capsys.readouterr().err
    assert incident_count(engine) == before
    assert store_kind(engine) == "demo"
    assert "import_refused" in list_entries(engine)["action"].tolist()


def test_demo_accounts_are_never_offered_on_a_real_store(real_engine):
    assert store_kind(real_engine) == "real"
    with pytest.raises(StoreKindError):
        claim(real_engine, "demo")
    with pytest.raises(AuthError, match="演示"):
        demo_sign_in(real_engine, "demo_commander")


def test_demo_refuses_a_real_store_and_changes_nothing(real_engine, capsys):
    url = str(real_engine.url)
    before = _fingerprint(real_engine)
    assert main(["demo", "--db", url, *DEMO_ARGS]) == 2
    assert "真实数据" in capsys.readouterr().err
    assert main(["demo", "--if-missing", "--db", url, *DEMO_ARGS]) == 0
    assert _fingerprint(real_engine) == before


def test_force_wipe_without_the_typed_confirmation_changes_nothing(real_engine, monkeypatch, capsys):
    url = str(real_engine.url)
    before = _fingerprint(real_engine)
    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))
    assert main(["demo", "--force-wipe", "--db", url, *DEMO_ARGS]) == 2
    assert "已取消" in capsys.readouterr().err
    assert _fingerprint(real_engine) == before


def test_a_confirmed_wipe_is_recorded_before_and_kept_after(real_engine, tmp_path, monkeypatch):
    from planning.cli.data import WIPE_CONFIRMATION

    monkeypatch.setenv("HOSPITAL_HOTSPOTS_VAR", str(tmp_path / "var"))
    import core.settings as settings

    monkeypatch.setattr(settings, "VAR_DIR", tmp_path / "var")
    url = str(real_engine.url)
    n_real = incident_count(real_engine)
    monkeypatch.setattr(sys, "stdin", io.StringIO(WIPE_CONFIRMATION + "\n"))
    assert main(["demo", "--force-wipe", "--db", url, *DEMO_ARGS]) == 0
    engine = get_engine(url)
    assert store_kind(engine) == "demo"
    # The old trail, ending with the wipe record, is archived outside the store ...
    archives = list((tmp_path / "var" / "wiped").glob("audit-before-wipe-*.csv"))
    assert len(archives) == 1
    old = pd.read_csv(archives[0], encoding="utf-8-sig", dtype=str)
    assert old["操作"].iloc[-1] == "store_wipe" and str(n_real) in old["内容"].iloc[-1]
    # ... and the new trail starts by naming that archive and its hash.
    first = list_entries(engine).sort_values("id").iloc[0]
    assert first["action"] == "store_wiped" and archives[0].name in first["detail"]
    from core.trust.audit import sha256_bytes

    assert sha256_bytes(archives[0].read_bytes()) in first["detail"]
    assert verify_chain(engine).ok


def test_demo_on_postgresql_refuses_a_real_store(store_url):
    engine = get_engine(store_url)
    import_file(REAL_CSV, engine=engine, source="110", filename="real.csv", username="adm")
    before = _fingerprint(engine)
    r = subprocess.run(
        [sys.executable, "-m", "planning", "demo", "--db", store_url, *DEMO_ARGS], capture_output=True, text=True,
        timeout=300,
    )
    assert r.returncode == 2 and "真实数据" in r.stderr
    assert _fingerprint(engine) == before
