"""A process a test starts never outlives the test process, even when that one ends by ``os._exit`` (what
pytest-timeout does) and no teardown runs: the chaos run once left four services running that way."""
import os
import subprocess
import sys
import time

PARENT = """
import subprocess, sys
from township_shared.testing import die_with_parent
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
print(child.pid, flush=True)
import os; os._exit(0)
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for init to reap it is gone too
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_a_started_process_dies_with_its_parent():
    out = subprocess.run([sys.executable, "-c", PARENT], capture_output=True, text=True, timeout=30, check=True)
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
