"""A Streamlit server on a free localhost port and a Chromium page that blocks every external request."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def pytest_collection_modifyitems(items):
    if not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(reason=f"Debian chromium not installed at {CHROMIUM} (apt-get install chromium)")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_url: str, *, timeout: float = 90.0, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run dashboard/app.py`` against ``db_url``; return the process and base URL."""
    port = _free_port()
    full_env = {**os.environ, "HOSPITAL_HOTSPOTS_DB": db_url, **(env or {})}
    # Output to a file, never an unread pipe: a full pipe blocks the server at its next log line.
    log = tempfile.NamedTemporaryFile(prefix="streamlit-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    proc.log_path = log.name  # type: ignore[attr-defined]  # benchmarks read the server's start-up lines
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited: {Path(log.name).read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
            if r.read().strip() == b"ok":
                return proc, base
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not become healthy in time")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


class Browser:
    """A Chromium page with the external requests and console errors it produced."""

    def __init__(self, pw, *, width: int = 1600, height: int = 1000, intercept: bool = True):
        self.browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.context = self.browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        self.external: list[str] = []
        self.errors: list[str] = []
        if intercept:  # every request then passes through this process: tests want that, benchmarks do not
            self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def _route(self, route) -> None:
        host = urlparse(route.request.url).hostname
        if host is not None and host not in LOCAL_HOSTS and route.request.url.split(":", 1)[0] in ("http", "https",
                                                                                                   "ws", "wss"):
            self.external.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def wait_idle(self, timeout: float = 180_000, *, polling: float = 200) -> None:
        """Wait until the app is connected, no script is running and no placeholder is left.

        Callers that trigger a rerun also wait for what the rerun shows (a heading, the
        navigation): the rerun may begin a moment after the click.
        """
        p = self.page
        p.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout)
        p.wait_for_function(
            "() => { const s = document.querySelector('[data-test-script-state]');"
            " return s && s.getAttribute('data-test-script-state') === 'notRunning'; }",
            timeout=timeout, polling=polling,
        )
        p.wait_for_selector("[data-testid='stSkeleton']", state="detached", timeout=timeout)

    def close(self) -> None:
        self.context.close()
        self.browser.close()


@pytest.fixture(scope="module")
def server(demo_db_url):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian chromium not installed at {CHROMIUM}")
    proc, base = start_server(demo_db_url)
    yield base
    stop_server(proc)


@pytest.fixture(scope="module")
def playwright_instance():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        yield pw
