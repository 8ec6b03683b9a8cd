"""Fault points for crash tests: ``FAULT_CRASH_AT=<point>`` makes the process die at that point like SIGKILL.

Production never sets the variable; the chaos and outbox tests do, to prove nothing is lost when a service dies
between two steps (e.g. after the database write, before the publish)."""
import os


def point(name: str) -> None:
    if os.environ.get("FAULT_CRASH_AT") == name:
        os._exit(137)
