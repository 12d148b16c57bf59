"""Two imports at once do not corrupt the store; a process killed mid-import changes nothing (on each store)."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core.db import ImportBatch, get_engine, incident_count

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["警情编号", "报警时间", "经度", "纬度", "报警内容", "报警电话"]

#: Imports one file in its own process; prints the counts. With a marker path, it creates the
#: marker once rows are being written and then stalls, so that the test can kill it mid-write.
_WORKER = r"""
import json, sys, time
from pathlib import Path
from geo.io.ingest import import_file
from core.db import get_engine

url, path, marker = sys.argv[1], sys.argv[2], sys.argv[3]

def progress(fraction, message):
    if marker != "-" and message.startswith("已写入"):
        Path(marker).write_text("writing")
        time.sleep(60)

r = import_file(path, engine=get_engine(url), source="110", progress=progress)
print(json.dumps({"total": r.total, "accepted": r.accepted, "rejected": r.rejected, "duplicates": r.duplicates}))
"""


def _write_csv(path: Path, ids: range, *, prefix: str = "J") -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    for i in ids:
        w.writerow([f"{prefix}{i:07d}", f"2026-10-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00",
                    f"{116.4166 + (i % 500) * 1e-5:.6f}", f"{39.9120 + (i % 300) * 1e-5:.6f}",
                    "挂号大厅有人倒号", "13812345678"])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _start(url: str, path: Path, tmp_path: Path, marker: str = "-") -> subprocess.Popen:
    script = tmp_path / "worker.py"
    script.write_text(_WORKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOSPITAL_HOTSPOTS_VAR": str(tmp_path / "var")}
    return subprocess.Popen([sys.executable, str(script), url, str(path), marker], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _integrity(engine) -> str:
    """"ok" when the store is physically sound and every batch holds exactly the rows it counts as accepted."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            physical = conn.execute(text("PRAGMA integrity_check")).scalar_one()
            if physical != "ok":
                return physical
        orphans = conn.execute(text(
            "SELECT count(*) FROM incidents i LEFT JOIN import_batches b ON b.id = i.batch_id WHERE b.id IS NULL"
        )).scalar_one()
        mismatched = conn.execute(text(
            "SELECT count(*) FROM import_batches b WHERE b.accepted <> "
            "(SELECT count(*) FROM incidents i WHERE i.batch_id = b.id) OR b.finished_at IS NULL"
        )).scalar_one()
    return "ok" if orphans == 0 and mismatched == 0 else f"{orphans} orphan rows, {mismatched} inconsistent batches"


def _locks_held_by_others(engine) -> int:
    """PostgreSQL: advisory locks still held by other sessions (a killed import must not leave its lock)."""
    if engine.dialect.name != "postgresql":
        return 0
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
        )).scalar_one()


def _batches(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ImportBatch)).scalar_one()


@pytest.mark.slow
def test_two_simultaneous_imports_keep_the_store_consistent(empty_engine, tmp_path):
    import json

    url = empty_engine.url.render_as_string(hide_password=False)
    # Overlapping ids: 0..5999 and 4000..9999 -> 10000 distinct incidents.
    a = _write_csv(tmp_path / "a.csv", range(0, 6000))
    b = _write_csv(tmp_path / "b.csv", range(4000, 10000))
    procs = [_start(url, a, tmp_path), _start(url, b, tmp_path)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    for r in results:
        assert r["total"] == 6000 and r["accepted"] + r["rejected"] + r["duplicates"] == r["total"]
    assert sum(r["accepted"] for r in results) == 10000
    assert sum(r["duplicates"] for r in results) == 2000
    engine = get_engine(url)
    assert incident_count(engine) == 10000
    assert _integrity(engine) == "ok"
    with engine.connect() as conn:
        dup = conn.execute(text(
            "select count(*) from (select source, source_id from incidents group by 1, 2 having count(*) > 1) AS dup"
        )).scalar_one()
        per_batch = conn.execute(text("select total, accepted, rejected, duplicates from import_batches")).all()
    assert dup == 0
    assert len(per_batch) == 2 and all(t == a + r + d for t, a, r, d in per_batch)


@pytest.mark.slow
def test_import_killed_mid_write_leaves_the_store_exactly_as_before(empty_engine, tmp_path):
    url = empty_engine.url.render_as_string(hide_password=False)
    first = _write_csv(tmp_path / "first.csv", range(0, 500), prefix="K")
    p = _start(url, first, tmp_path)
    assert p.wait(timeout=120) == 0, p.stderr.read()[-2000:]
    before = incident_count(empty_engine), _batches(empty_engine)
    assert before == (500, 1)

    # More rows than one insert chunk (20 000), so the killed import has already inserted rows.
    big = _write_csv(tmp_path / "big.csv", range(0, 21_000))
    marker = tmp_path / "writing.flag"
    p = _start(url, big, tmp_path, marker=str(marker))
    deadline = time.monotonic() + 180
    while not marker.exists():
        assert p.poll() is None, p.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL

    engine = get_engine(url)
    assert (incident_count(engine), _batches(engine)) == before
    assert _integrity(engine) == "ok"
    # PostgreSQL ends the killed client's session (and its transaction and lock) once it sees the socket close.
    deadline = time.monotonic() + 30
    while _locks_held_by_others(engine) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _locks_held_by_others(engine) == 0
    # No lock or half batch is left behind: the store takes the next import at once.
    from geo.io.ingest import import_file

    again = _write_csv(tmp_path / "again.csv", range(500, 800), prefix="K")
    result = import_file(again, engine=engine, source="110")
    assert result.accepted == 300 and incident_count(engine) == 800
    assert _integrity(engine) == "ok"
