"""`make run`: start the backing services, load the demo county, start every service, print where to go.

Ctrl-C (or SIGTERM) stops the services and whatever backing service this run started."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SERVICES = ["intake.service", "dispatch.service", "feedback.service", "gateway.service"]


def sh(*cmd: str) -> None:
    subprocess.run(cmd, cwd=ROOT, check=True)


def main() -> int:
    os.environ.setdefault("CONFIG", str(ROOT / "config.yaml"))
    try:
        sh(str(ROOT / "deploy" / "backing.sh"), "up", "run")
    except subprocess.CalledProcessError:
        print("make run: the backing services could not start (see the message above)", file=sys.stderr)
        return 1
    procs: list[subprocess.Popen] = []

    def stop(*_):
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run([str(ROOT / "deploy" / "backing.sh"), "down", "run"], cwd=ROOT)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    try:
        for loader in ("intake.demo", "dispatch.demo"):
            sh(str(VENV_BIN / "python"), "-m", loader)
        for module in SERVICES:
            procs.append(subprocess.Popen(
                [str(VENV_BIN / "nameko"), "run", "--config", os.environ["CONFIG"], module], cwd=ROOT))
        port = os.environ.get("HTTP_PORT", "8000")
        host = os.environ.get("HTTP_HOST", "127.0.0.1")
        base = f"http://{host}:{port}"
        deadline = time.monotonic() + 60
        while True:
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                print(f"make run: a service exited early ({dead[0].args[-1]}); see its log above", file=sys.stderr)
                return 1
            try:
                if requests.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                print(f"make run: {base}/health did not answer 200 within 60 s", file=sys.stderr)
                return 1
            time.sleep(0.5)
        print(f"""
  Township platform is up (demo county: townships qingshui and baiyun).
  HTTP API:   {base}/api/v1   (e.g. {base}/api/v1/categories)
  Health:     {base}/health
  Point a browser or curl at {base}/api/v1/demands . Ctrl-C stops everything this run started.
""", flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        print("make run: a service stopped; shutting down", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
