"""Root of the suite. eventlet must patch the standard library before anything imports socket or threading
(nameko's rule); the shared plugin brings the real-backing-service fixtures."""
import eventlet

eventlet.monkey_patch()

import pytest  # noqa: E402

pytest_plugins = ["township_shared.testing"]


@pytest.fixture
def repo(mongo_client, db_prefix):
    """Intake's repository on this test's own database, with the demo county loaded."""
    import yaml

    from intake.demo import DEFAULT_COUNTY, load_county
    from intake.repository import DemandRepository

    repository = DemandRepository(mongo_client[f"{db_prefix}_intake"])
    repository.ensure_indexes()
    load_county(repository, yaml.safe_load(DEFAULT_COUNTY.read_text(encoding="utf-8")))
    return repository


@pytest.fixture
def dispatch_repo(mongo_client, db_prefix):
    """Dispatch's repository on this test's own database, with the demo actors and rules loaded."""
    import yaml

    from dispatch.demo import DEFAULT_ACTORS, DEFAULT_COUNTY, load_dispatch_data
    from dispatch.repository import DispatchRepository

    repository = DispatchRepository(mongo_client[f"{db_prefix}_dispatch"])
    repository.ensure_indexes()
    load_dispatch_data(repository, yaml.safe_load(DEFAULT_COUNTY.read_text(encoding="utf-8")),
                       yaml.safe_load(DEFAULT_ACTORS.read_text(encoding="utf-8")))
    return repository


@pytest.fixture
def dispatch_clock():
    """The clock the dispatch service runs on in ``stack``: tests move it to reach deadlines."""
    from township_shared.clock import FixedClock

    return FixedClock()


@pytest.fixture
def stack(runner_factory, service_config, repo, dispatch_repo, dispatch_clock):
    """intake, dispatch, feedback and gateway in this process on the real RabbitMQ and MongoDB, demo county loaded;
    dispatch runs on ``dispatch_clock``."""
    from nameko.testing.services import replace_dependencies
    from nameko.testing.utils import get_container

    from dispatch.service import DispatchService
    from feedback.service import FeedbackService
    from gateway.service import GatewayService
    from intake.service import IntakeService

    runner = runner_factory(service_config, IntakeService, DispatchService, FeedbackService, GatewayService)
    replace_dependencies(get_container(runner, DispatchService), clock=dispatch_clock)
    runner.start()
    return runner
