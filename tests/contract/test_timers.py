"""Contract: every ``@timer`` duty of every service runs under a lease (decision 81), so that any number of instances
of the service may run and the duty is still done once per round, not once per instance.

A service with a timer declares ``duties = Duties()`` and its timer method starts with
``if not self.duties.hold("<duty>"): return``, each duty under its own name. The outbox sweep of
:class:`~township_shared.relay.EventRelay` takes its lease itself (``outbox_sweep``)."""
import ast
import inspect
import textwrap

import pytest
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.timer import Timer

from township_shared.lease import Duties
from township_shared.registry import services

SPECS = services()


def timers(cls):
    for name, value in vars(cls).items():
        if any(isinstance(e, Timer) for e in getattr(value, ENTRYPOINT_EXTENSIONS_ATTR, ())):
            yield name, value


def first_statement_holds_a_lease(method) -> str | None:
    """The duty name when the method's first statement (after its docstring) is ``if not
    self.duties.hold("<duty>"): return``, else None."""
    body = ast.parse(textwrap.dedent(inspect.getsource(method))).body[0].body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body or not isinstance(body[0], ast.If):
        return None
    test, then = body[0].test, body[0].body
    if not (isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.Call)):
        return None
    call = test.operand
    if ast.unparse(call.func) != "self.duties.hold" or len(call.args) != 1:
        return None
    if not (len(then) == 1 and isinstance(then[0], ast.Return) and then[0].value is None):
        return None
    return call.args[0].value if isinstance(call.args[0], ast.Constant) else None


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_every_timer_holds_its_lease_first(spec):
    cls = spec.service_class()
    found = list(timers(cls))
    if not found:
        return
    assert isinstance(vars(cls).get("duties"), Duties), f"{spec.name} has timers but no `duties = Duties()`"
    duties = []
    for name, method in found:
        duty = first_statement_holds_a_lease(method)
        assert duty, f"{spec.name}.{name} is a timer that does not start with `if not self.duties.hold(...): return`"
        duties.append(duty)
    assert len(set(duties)) == len(duties), f"{spec.name}: two timers share a lease: {duties}"


def test_the_check_tells_a_leased_timer_from_one_that_is_not():
    class Example:
        def leased(self):
            """Doc."""
            if not self.duties.hold("x"):
                return
            self.work()

        def unleased(self):
            self.work()

        def leased_late(self):
            self.work()
            if not self.duties.hold("x"):
                return

    assert first_statement_holds_a_lease(Example.leased) == "x"
    assert first_statement_holds_a_lease(Example.unleased) is None
    assert first_statement_holds_a_lease(Example.leased_late) is None
