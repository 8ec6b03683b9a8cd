"""The guard that gives the machine its RabbitMQ back however a chaos run ends, tried with fake stop and start
commands that only write to a file (the machine's broker is never touched here)."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from township_shared.testing import BrokerGuard


def fake(path, word):
    return [sys.executable, "-c", f"open({str(path)!r}, 'a').write({word + chr(10)!r})"]


def journal(path):
    return path.read_text().split() if path.exists() else []


def eventually(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_a_failing_run_starts_the_broker_it_stopped(tmp_path):
    log = tmp_path / "broker"
    with pytest.raises(RuntimeError):
        with BrokerGuard(stop=[fake(log, "stop")], start=[fake(log, "start"), fake(log, "awaited")]) as guard:
            guard.stop()
            raise RuntimeError("the chaos test failed midway")
    assert journal(log) == ["stop", "start", "awaited"]


def test_a_broker_started_again_is_not_started_twice(tmp_path):
    log = tmp_path / "broker"
    with BrokerGuard(stop=[fake(log, "stop")], start=[fake(log, "start")]) as guard:
        guard.stop()
        guard.start()
    time.sleep(0.5)  # the watchdog has ended; nothing more may be written
    assert journal(log) == ["stop", "start"]


CHILD = textwrap.dedent("""
    import os, signal, sys, time
    from township_shared.testing import BrokerGuard
    log, how = sys.argv[1], sys.argv[2]
    # a run started in the background by a shell inherits SIGINT ignored; Ctrl-C means an interactive run
    signal.signal(signal.SIGINT, signal.default_int_handler)
    def fake(word):
        return [sys.executable, "-c", f"open({log!r}, 'a').write({word + chr(10)!r})"]
    guard = BrokerGuard(stop=[fake("stop")], start=[fake("start")]).__enter__()
    guard.stop()
    if how == "exit":
        sys.exit(3)
    if how == "os_exit":  # what pytest-timeout's thread method does
        os._exit(1)
    print("stopped", flush=True)
    time.sleep(60)
""")


@pytest.mark.parametrize("how", ["exit", "os_exit", "SIGKILL", "SIGTERM", "SIGINT", "SIGHUP"])
def test_however_the_run_ends_the_broker_is_started_again(tmp_path, how):
    log = tmp_path / "broker"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(log), how], stdout=subprocess.PIPE)
    if how.startswith("SIG"):
        assert child.stdout.readline().strip() == b"stopped"
        child.send_signal(getattr(signal, how))
    child.wait(timeout=30)
    assert eventually(lambda: "start" in journal(log)), journal(log)
    assert journal(log)[0] == "stop" and journal(log).count("start") >= 1
