"""`make run`: start the backing services, load the demo county, start every service of ``services.toml``, print
where to go.

Once the stack is up, a service that exits is started again (see :class:`Supervisor`). Ctrl-C (or SIGTERM) stops
the services and whatever backing service this run started."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from township_shared.registry import services

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_SECONDS = 60.0


def start_service(module: str) -> subprocess.Popen:
    return subprocess.Popen([str(VENV_BIN / "nameko"), "run", "--config", os.environ["CONFIG"], module], cwd=ROOT)


class Supervisor:
    """Start a service again when it exits, after 1, 2, 5, 10, then every 30 s while it keeps failing (the delay
    starts over once it has run ``STABLE_SECONDS``).

    A nameko container dies when it loses RabbitMQ for long enough (its consumers give up reconnecting), and the
    process ends with it; a restart of the broker must not take the platform down for good. Nothing is lost
    meanwhile: accepted work is in MongoDB and in durable queues, and events written but not yet published are in
    their documents' outboxes, which the restarted service sweeps."""

    def __init__(self, start=start_service, delays=RESTART_DELAYS, stable_seconds=STABLE_SECONDS,
                 clock=time.monotonic, say=None):
        self.start, self.delays, self.stable_seconds, self.clock = start, delays, stable_seconds, clock
        self.say = say or (lambda text: print(f"make run: {text}", file=sys.stderr, flush=True))
        self.procs: dict[str, subprocess.Popen] = {}
        self.started_at: dict[str, float] = {}
        self.failures: dict[str, int] = {}
        self.restart_at: dict[str, float] = {}

    def launch(self, module: str) -> None:
        self.procs[module] = self.start(module)
        self.started_at[module] = self.clock()

    def tick(self) -> None:
        """Check every service once: schedule a restart for one that exited, restart one whose delay is over."""
        now = self.clock()
        for module, proc in self.procs.items():
            if module in self.restart_at:
                if now >= self.restart_at[module]:
                    del self.restart_at[module]
                    self.say(f"starting {module} again")
                    self.launch(module)
                continue
            if proc.poll() is None:
                if now - self.started_at[module] >= self.stable_seconds:
                    self.failures[module] = 0
                continue
            failures = self.failures.get(module, 0)
            delay = self.delays[min(failures, len(self.delays) - 1)]
            self.failures[module] = failures + 1
            self.restart_at[module] = now + delay
            self.say(f"{module} exited (code {proc.returncode}); starting it again in {delay:g} s")


def demo_token_lines() -> str:
    """The demo tokens ``make run`` prints, one per role, exactly as the README lists them (a contract test
    compares the two): ``api_key=<token> role=<role> actor=<actor> township=<township>``."""
    from identity.demo import shown_lines

    return "\n".join(shown_lines())


def sh(*cmd: str) -> None:
    subprocess.run(cmd, cwd=ROOT, check=True)


def main() -> int:
    os.environ.setdefault("CONFIG", str(ROOT / "config.yaml"))
    try:
        sh(str(ROOT / "deploy" / "backing.sh"), "up", "run")
    except subprocess.CalledProcessError:
        print("make run: the backing services could not start (see the message above)", file=sys.stderr)
        return 1
    supervisor = Supervisor()

    def stop(*_):
        procs = list(supervisor.procs.values())
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
        for spec in services():
            if spec.demo:
                sh(str(VENV_BIN / "python"), "-m", spec.demo)
        for spec in services():
            supervisor.launch(spec.module)
        port = os.environ.get("HTTP_PORT", "8000")
        host = os.environ.get("HTTP_HOST", "127.0.0.1")
        base = f"http://{host}:{port}"
        deadline = time.monotonic() + 60
        while True:
            dead = [p for p in supervisor.procs.values() if p.poll() is not None]
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
  Web console: {base}/   (point a browser there; sign in with an api_key below as the sign-in code)
  HTTP API:   {base}/api/v1   (e.g. {base}/api/v1/categories)
  Health:     {base}/health
  Try: curl -H "Authorization: Bearer <api_key>" {base}/api/v1/me  (roles: README). Ctrl-C stops everything.

  Demo tokens, one per role (send Authorization: Bearer <api_key>; every demo actor has one, README):
{demo_token_lines()}
""", flush=True)
        while True:
            time.sleep(1)
            supervisor.tick()
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
