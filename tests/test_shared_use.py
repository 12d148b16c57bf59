"""Shared use of one PostgreSQL store: two dashboard servers, the CLI and 20 sessions while an import runs.

The import is held open half-way (its rows written, its transaction not committed) while everything else reads:
nobody may see a part of it, nobody errs, and each session sees only its own scope. After the import commits every
reader sees all of it, exactly once.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from core.db import count_incidents, get_engine, incident_count, load_incidents
from core.trust.access import AccessScope

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard" / "app.py")
PASSWORD = "Shared-Use-2026x"
HOSPITALS = [f"bj{i:03d}" for i in range(1, 11)]
#: (username, role, hospital) of the accounts the sessions sign in with.
ACCOUNTS = [("chief", "commander", None), ("liaison1", "liaison", None)] + [
    (f"officer{i}", "officer", h) for i, h in enumerate(HOSPITALS[:4], start=1)
]
SESSIONS = 20
#: Sessions that run at once (bounded: the test machine has 2 cores).
PARALLEL = 4

#: Imports one file; after its first rows are written (inside the transaction) it creates ``marker`` and waits for
#: ``release`` to appear before it goes on and commits.
_WORKER = r"""
import json, sys, time
from pathlib import Path
from geo.io.ingest import import_file
from core.db import get_engine

url, path, marker, release = sys.argv[1:5]
held = []

def progress(fraction, message):
    if message.startswith("已写入") and not held:
        held.append(1)
        Path(marker).write_text("writing")
        deadline = time.monotonic() + 600
        while not Path(release).exists() and time.monotonic() < deadline:
            time.sleep(0.05)

r = import_file(path, engine=get_engine(url), source="110", progress=progress)
print(json.dumps({"total": r.total, "accepted": r.accepted, "rejected": r.rejected, "duplicates": r.duplicates}))
"""


def _csv(path: Path, ids: range, hospitals) -> Path:
    """110 calls at the given hospitals' coordinates (round robin), October 2026."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["警情编号", "报警时间", "经度", "纬度", "报警内容", "报警电话"])
    coords = hospitals.set_index("hospital_id").loc[HOSPITALS, ["lon", "lat"]].to_numpy()
    for i in ids:
        lon, lat = coords[i % len(coords)]
        w.writerow([f"S{i:07d}", f"2026-10-{1 + i % 28:02d} {8 + i % 10:02d}:{i % 60:02d}:00", f"{lon:.6f}",
                    f"{lat:.6f}", "挂号大厅有人倒号", "13812345678"])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 30) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8", "replace")


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else "server exited"
        try:
            if _get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) == (200, "ok"):
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"dashboard on port {port} never became healthy")


@pytest.fixture
def shared_store(store_kind: str, store_url: str, tmp_path):
    """A PostgreSQL store with hospitals, six accounts and 3,000 imported calls."""
    if store_kind != "postgresql":
        pytest.skip("shared use is a PostgreSQL deployment")
    from core.trust.auth import create_user
    from geo.io.hospitals import read_hospital_file, save_hospitals
    from geo.io.ingest import import_file

    engine = get_engine(store_url)
    hospitals = read_hospital_file()
    save_hospitals(engine, hospitals)
    for username, role, hospital in ACCOUNTS:
        create_user(engine, username, PASSWORD, role=role, hospital_id=hospital)
    first = import_file(_csv(tmp_path / "first.csv", range(0, 3000), hospitals), engine=engine, source="110")
    assert first.accepted == 3000
    return store_url, hospitals


def _page_session(username: str, url: str) -> dict:
    """A user signs in and renders the overview page (AppTest, in this process: one at a time)."""
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(PASSWORD)
    next(b for b in at.button if b.label == "登录").click().run()
    assert not at.exception, [e.message for e in at.exception]
    scope: AccessScope = at.session_state["_auth"]["scope"]
    at.switch_page("views/overview.py").run()
    assert not at.exception, [e.message for e in at.exception]
    shown = set()
    for frame in at.dataframe:
        if "医院" in frame.value.columns:
            shown |= set(frame.value["医院"])
    return {"scope": scope, "shown": shown}


def _session(i: int, ports: list[int], url: str, scopes: dict[str, AccessScope]) -> dict:
    """One simulated session in its own thread: a server's page over HTTP, then the scoped reads its pages make."""
    username, role, hospital = ACCOUNTS[i % len(ACCOUNTS)]
    port = ports[i % len(ports)]
    assert _get(f"http://127.0.0.1:{port}/_stcore/health") == (200, "ok")
    status, page = _get(f"http://127.0.0.1:{port}/")
    assert status == 200 and 'id="root"' in page
    scope = scopes[username]
    engine = get_engine(url)
    counts = count_incidents(engine, by=("hospital_id",), scope=scope)
    rows = None if scope.aggregates_only else load_incidents(engine, scope=scope, columns=["source_id", "hospital_id"])
    return {"username": username, "role": role, "hospital": hospital, "scope": scope,
            "counts": dict(zip(counts["hospital_id"], counts["count"], strict=True)),
            "rows": None if rows is None else rows.groupby("hospital_id").size().to_dict(),
            "ids_unique": True if rows is None else bool(rows["source_id"].is_unique)}


def _check_scopes(results: list[dict], expected: dict[str, int]) -> None:
    for r in results:
        want = {r["hospital"]: expected[r["hospital"]]} if r["role"] == "officer" else expected
        if r["role"] == "officer":
            assert r["scope"].hospital_ids == frozenset({r["hospital"]}), r["username"]
        assert r["counts"] == want, r["username"]
        assert r["rows"] is None if r["role"] == "liaison" else r["rows"] == want, r["username"]
        assert r["ids_unique"], r["username"]


def _check_pages(pages: dict[str, dict], names: dict[str, str]) -> None:
    for username, role, hospital in ACCOUNTS:
        p = pages[username]
        if role == "officer":
            assert p["scope"].hospital_ids == frozenset({hospital})
            assert p["shown"] and p["shown"] <= {names[hospital]}, (username, p["shown"])
        else:
            assert p["scope"].hospital_ids is None
            assert p["shown"] <= set(names.values())


@pytest.mark.slow
def test_two_dashboards_cli_and_twenty_sessions_share_one_store_during_an_import(shared_store, tmp_path,
                                                                                monkeypatch):
    from core import settings

    url, hospitals = shared_store
    names = dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True))
    engine = get_engine(url)
    before = {h: 300 for h in HOSPITALS}
    assert dict(zip(*count_incidents(engine, by=("hospital_id",)).to_dict("list").values(), strict=True)) == before
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOSPITAL_HOTSPOTS_DB": url,
           "HOSPITAL_HOTSPOTS_VAR": str(tmp_path / "var")}
    monkeypatch.setattr(settings, "DB_URL", url)

    ports = [_free_port(), _free_port()]
    servers = [subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", APP, "--server.port", str(p), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for p in ports]
    importer = None
    try:
        for p, proc in zip(ports, servers, strict=True):
            _wait_healthy(p, proc)
        # The import: 6,000 calls, 1,000 of them already stored; held open after its rows are written.
        script = tmp_path / "worker.py"
        script.write_text(_WORKER, encoding="utf-8")
        marker, release = tmp_path / "writing.flag", tmp_path / "release.flag"
        big = _csv(tmp_path / "second.csv", range(2000, 8000), hospitals)
        importer = subprocess.Popen([sys.executable, str(script), url, str(big), str(marker), str(release)], cwd=ROOT,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert importer.poll() is None, importer.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "the import never started writing"
            time.sleep(0.05)

        # The CLI reads the same store meanwhile (a statistics export) and sees none of the open import.
        out = tmp_path / "stats.csv"
        cli = subprocess.run([sys.executable, "-m", "planning", "stats", "export", "--db", url, "--out", str(out)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert cli.returncode == 0, cli.stderr[-2000:]
        assert out.exists() and out.stat().st_size > 0
        # Another import of overlapping ids waits for the first one (it does not fail and does not double rows).
        second = _csv(tmp_path / "third.csv", range(7000, 9000), hospitals)
        cli_import = subprocess.Popen([sys.executable, "-m", "planning", "import", str(second), "--source", "110",
                                       "--db", url], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)

        # Each account renders its overview page (in this process) while the import is open ...
        pages = {u: _page_session(u, url) for u, _r, _h in ACCOUNTS}
        _check_pages(pages, names)
        scopes = {u: p["scope"] for u, p in pages.items()}
        # ... and 20 sessions at once load a page from one of the two servers and read with their scope.
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            during = list(pool.map(lambda i: _session(i, ports, url, scopes), range(SESSIONS)))
        assert len(during) == SESSIONS
        _check_scopes(during, before)  # none of the open import is visible
        assert incident_count(engine) == 3000
        assert importer.poll() is None  # still held open: the sessions really read during the import

        release.write_text("go")
        out_a, err_a = importer.communicate(timeout=300)
        assert importer.returncode == 0, err_a[-2000:]
        out_b, err_b = cli_import.communicate(timeout=300)
        assert cli_import.returncode == 0, err_b[-2000:]
        a = json.loads(out_a.strip().splitlines()[-1])
        b = json.loads(out_b)
        assert (a["accepted"], a["duplicates"]) == (5000, 1000)
        assert (b["accepted"], b["duplicates"]) == (1000, 1000)

        # After the commits: every reader sees all rows exactly once, each within its scope.
        after = {h: 900 for h in HOSPITALS}
        assert incident_count(engine) == 9000
        with engine.connect() as conn:
            doubled = conn.execute(text(
                "SELECT count(*) FROM (SELECT source_id FROM incidents GROUP BY source_id HAVING count(*) > 1) d"
            )).scalar_one()
        assert doubled == 0
        ids = load_incidents(engine, columns=["source_id"])["source_id"]
        assert sorted(ids) == [f"S{i:07d}" for i in range(9000)]
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            later = list(pool.map(lambda i: _session(i, ports, url, scopes), range(SESSIONS)))
        _check_scopes(later, after)
        _check_pages({u: _page_session(u, url) for u in ("chief", "officer1")} | {
            u: pages[u] for u, _r, _h in ACCOUNTS if u not in ("chief", "officer1")}, names)
        for p, proc in zip(ports, servers, strict=True):
            assert proc.poll() is None
            assert _get(f"http://127.0.0.1:{p}/_stcore/health") == (200, "ok")
    finally:
        for proc in [*servers, *([importer] if importer is not None else [])]:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=20)

