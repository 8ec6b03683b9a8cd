"""The console in a real browser (issue 16): Playwright driving Debian's Chromium against the whole stack.

This directory runs as a pytest session of its own (`make test` runs it after the main suite, with
``--confcutdir=tests/browser``): the main suite's conftest monkey-patches the standard library for eventlet,
which Playwright's own event loop must not meet. So here the services run as ``nameko run`` processes, as in
production, on a vhost and a database prefix of this session's own, the demo county loaded; the browser is
Debian's ``/usr/bin/chromium`` (``deploy/system-packages.sh browser`` installs it; Playwright cannot download its
own builds here), started with the flags this closed network needs. Screenshots go to ``test-output/screenshots``
(``CONSOLE_SCREENSHOTS`` to change) for review.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))  # the tests import helpers.py (pytest's importlib mode adds nothing)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS", ROOT / "test-output" / "screenshots"))
WIDTHS = {"laptop": (1280, 800), "phone": (390, 844)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def console_base(tmp_path_factory):
    """The whole stack started for this session; yields the gateway's base URL."""
    from township_shared.bus import Admin, provision
    from township_shared.mongo import make_client
    from township_shared.registry import services
    from township_shared.testing import NO_SUBMISSION_LIMITS, ServiceProcess

    mongo_uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27018")
    amqp = os.environ.get("BROWSER_AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672")
    admin = Admin(os.environ.get("BROWSER_RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672"))
    vhost, prefix, port = f"browser-{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:9]}", free_port()
    provision(admin, vhost)
    logs = tmp_path_factory.mktemp("services")
    config = {"AMQP_URI": f"{amqp}/{quote(vhost, safe='')}", "MONGODB_URI": mongo_uri, "MONGODB_DB_PREFIX": prefix,
              "OUTBOX_GRACE_SECONDS": 0.5}
    env = {**os.environ, "MONGODB_URI": mongo_uri, "MONGODB_DB_PREFIX": prefix}
    extra = {"HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(port), "TOKEN_CACHE_SECONDS": "0",
             "CONSOLE_PUBLIC_URL": f"http://township.localhost:{port}",
             **{k: str(v) for k, v in NO_SUBMISSION_LIMITS.items()}}
    procs = []
    try:
        for spec in services():
            if spec.demo:
                subprocess.run([sys.executable, "-m", spec.demo], env=env, cwd=ROOT, check=True,
                               stdout=subprocess.DEVNULL)
        for spec in services():
            procs.append(ServiceProcess(spec.module, config, extra, log_path=logs / f"{spec.name}.log").start())
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            dead = [p for p in procs if p.proc.poll() is not None]
            assert not dead, f"{dead[0].module} exited:\n{dead[0].log_tail()}"
            try:
                if requests.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the stack did not answer /health in 90 s"
            time.sleep(0.5)
        yield base
    finally:
        for p in procs:
            p.kill()
        requests.delete(f"{admin.base}/vhosts/{quote(vhost, safe='')}", auth=admin.session.auth, timeout=10)
        client = make_client(mongo_uri)
        for name in client.list_database_names():
            if name.startswith(prefix + "_"):
                client.drop_database(name)
        client.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run deploy/system-packages.sh browser (make test does)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshots():
    """``shoot(page, name)`` saves ``<name>.png`` (the whole page) under :data:`SCREENSHOTS`."""
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)

    def shoot(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot


@pytest.fixture
def open_page(browser, console_base):
    """``open_page("phone", lang="zh")``: a fresh browser context (its own cookies) of that size and language."""
    contexts = []

    def make(size: str = "laptop", lang: str = "zh"):
        width, height = WIDTHS[size]
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=console_base,
                                      locale="zh-CN" if lang == "zh" else "en-GB")
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
