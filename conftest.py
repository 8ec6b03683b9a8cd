"""Root of the suite. eventlet must patch the standard library before anything imports socket or threading
(nameko's rule); the shared plugin brings the real-backing-service fixtures."""
import eventlet

eventlet.monkey_patch()

import pytest  # noqa: E402

pytest_plugins = ["township_shared.testing"]


@pytest.fixture
def repo(demo):
    """Intake's repository on this test's own database, with the demo county loaded."""
    return demo("intake")


@pytest.fixture
def dispatch_repo(demo):
    """Dispatch's repository on this test's own database, with the demo actors and rules loaded."""
    return demo("dispatch")


@pytest.fixture
def dispatch_clock():
    """The clock the dispatch service runs on in ``stack``: tests move it to reach deadlines."""
    from township_shared.clock import FixedClock

    return FixedClock()


@pytest.fixture
def stack(runner_factory, service_config, demo, dispatch_clock):
    """Every service of ``services.toml`` in this process on the real RabbitMQ and MongoDB, the demo county loaded;
    dispatch runs on ``dispatch_clock``."""
    from nameko.testing.services import replace_dependencies
    from nameko.testing.utils import get_container

    from township_shared.registry import services

    classes = {}
    for spec in services():
        demo(spec.name)
        classes[spec.name] = spec.service_class()
    runner = runner_factory(service_config, *classes.values())
    replace_dependencies(get_container(runner, classes["dispatch"]), clock=dispatch_clock)
    runner.start()
    return runner

# tests/browser is a pytest session of its own, without eventlet (its conftest.py says why; `make test` runs it)
collect_ignore = ["tests/browser"]
