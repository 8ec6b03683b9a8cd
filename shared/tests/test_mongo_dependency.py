"""The Mongo dependency's lifecycle in a real nameko container against the real MongoDB-compatible server."""
import pytest
from nameko.rpc import rpc

from township_shared.mongo import MongoRepository

pytestmark = pytest.mark.integration


class Notes:
    def __init__(self, db):
        self.notes = db["notes"]

    def ensure_indexes(self):
        self.notes.create_index("topic")

    def add(self, topic):
        self.notes.insert_one({"topic": topic})
        return self.notes.count_documents({"topic": topic})


class NotesService:
    name = "notes"
    repo = MongoRepository(Notes)

    @rpc
    def add(self, topic):
        return self.repo.add(topic)


def provider_of(container):
    return next(iter(container.dependencies))


def test_a_killed_container_leaves_straggling_workers_a_working_repository(container_factory, service_config):
    container = container_factory(NotesService, service_config)
    container.start()
    repository = provider_of(container).repository
    container.kill()
    assert repository.add("water") == 1


def test_a_stopped_container_closes_its_client(container_factory, service_config):
    from pymongo.errors import InvalidOperation

    container = container_factory(NotesService, service_config)
    container.start()
    repository = provider_of(container).repository
    container.stop()
    with pytest.raises(InvalidOperation):
        repository.add("water")
