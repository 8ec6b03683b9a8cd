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
def stack(runner_factory, service_config, repo):
    """intake and gateway running in this process on the real RabbitMQ and MongoDB, demo county loaded."""
    from gateway.service import GatewayService
    from intake.service import IntakeService

    runner = runner_factory(service_config, IntakeService, GatewayService)
    runner.start()
    return runner
