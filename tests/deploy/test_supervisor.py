"""`make run`'s supervisor (deploy/run.py) with real child processes and a clock the test moves."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

RUN_PY = Path(__file__).resolve().parents[2] / "deploy" / "run.py"


@pytest.fixture(scope="module")
def run_module():
    spec = importlib.util.spec_from_file_location("deploy_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def wait_exit(proc):
    proc.wait(timeout=10)


def test_a_service_that_exits_is_started_again_with_growing_delays(run_module):
    clock, said, started = Clock(), [], []

    def start(module):
        code = "import sys; sys.exit(3)" if len(started) < 3 else "import time; time.sleep(30)"
        started.append(subprocess.Popen([sys.executable, "-c", code]))
        return started[-1]

    sup = run_module.Supervisor(start=start, delays=(1, 2, 5), stable_seconds=60, clock=clock, say=said.append)
    sup.launch("dispatch.service")
    try:
        for expected_delay in (1, 2, 5):
            wait_exit(started[-1])
            sup.tick()
            assert said[-1] == f"dispatch.service exited (code 3); starting it again in {expected_delay} s"
            count = len(started)
            clock.now += expected_delay - 0.5
            sup.tick()
            assert len(started) == count, "restarted before its delay"
            clock.now += 0.5
            sup.tick()
            assert len(started) == count + 1
        sup.tick()
        assert started[-1].poll() is None and len(started) == 4
        clock.now += 60
        sup.tick()
        assert sup.failures["dispatch.service"] == 0, "a service that ran long enough starts over at the first delay"
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
