"""Backups (decision 83): a township's documents exported from every service's database and imported back, round
trip exact to the BSON type, the other township untouched and absent from the file, and the platform serving the
restored case afterwards."""
import gzip
import io

import pytest
import requests

from township_shared import backup
from township_shared.registry import services
from township_shared.testing import as_actor, wait_for

pytestmark = pytest.mark.integration


def snapshot(client, prefix, township=None):
    """Every document of every service database (of ``township`` only, if given), by service, collection, _id."""
    found = {}
    query = backup.township_filter(township) if township else {}
    for spec in services():
        db = client[f"{prefix}_{spec.name}"]
        for collection in db.list_collection_names():
            if collection in backup.DEPLOYMENT_COLLECTIONS:
                continue
            for doc in db[collection].find(query):
                found[(spec.name, collection, str(doc["_id"]))] = doc
    return found


def test_a_township_round_trips_through_export_and_import(stack, http_base, mongo_client, db_prefix):
    body = {"channel": "hotline", "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"},
            "village": "dongpo", "category": "drinking_water", "title": "停水三天", "description": "东坡村三组停水三天了"}
    res = requests.post(f"{http_base}/api/v1/demands", json=body, timeout=15)
    assert res.status_code == 201, res.text
    case_id = res.json()["id"]
    office = as_actor("office")
    wait_for(lambda: requests.get(f"{http_base}/api/v1/cases/{case_id}", headers=office, timeout=15).json()
             .get("tasks"))
    other = requests.post(f"{http_base}/api/v1/demands", headers={"X-Township-Id": "baiyun"}, timeout=15,
                          json={**body, "village": "yunfeng", "reporter": {**body["reporter"], "village": "yunfeng"}})
    assert other.status_code == 201, other.text
    names = [spec.name for spec in services()]

    before = snapshot(mongo_client, db_prefix, "qingshui")
    everything = snapshot(mongo_client, db_prefix)
    assert {key[:2] for key in before} >= {("intake", "cases"), ("dispatch", "cases"), ("identity", "tokens"),
                                           ("intake", "townships"), ("intake", "counters")}
    buffer = io.StringIO()
    count = backup.export(mongo_client, db_prefix, names, "qingshui", buffer, "2026-12-01T00:00:00+00:00")
    assert count == len(before)
    text = buffer.getvalue()
    assert "baiyun" not in text.split("\n", 1)[1].replace('"township_id": "qingshui"', ""), \
        "a document of another township (or naming it) was exported"

    for name in names:     # the disaster: the township's documents are gone
        db = mongo_client[f"{db_prefix}_{name}"]
        for collection in db.list_collection_names():
            db[collection].delete_many(backup.township_filter("qingshui"))
    assert not snapshot(mongo_client, db_prefix, "qingshui")
    assert requests.get(f"{http_base}/api/v1/cases/{case_id}", headers=office, timeout=15).status_code != 200

    counts = backup.restore(mongo_client, db_prefix, io.StringIO(text))
    assert sum(counts.values()) == count
    after = snapshot(mongo_client, db_prefix, "qingshui")
    assert after.keys() == before.keys()
    for key, doc in before.items():
        assert after[key] == doc, key
        assert {k: type(v) for k, v in after[key].items()} == {k: type(v) for k, v in doc.items()}, key
    assert snapshot(mongo_client, db_prefix) == everything, "other townships changed, or documents appeared"

    again = backup.restore(mongo_client, db_prefix, io.StringIO(text))
    assert again == counts and snapshot(mongo_client, db_prefix) == everything, "import is idempotent"
    case = requests.get(f"{http_base}/api/v1/cases/{case_id}", headers=office, timeout=15)
    assert case.status_code == 200 and case.json()["tasks"], "the platform serves the restored case"


def test_the_file_format_is_checked_and_the_cli_writes_gzip(tmp_path, mongo_client, db_prefix, demo, monkeypatch):
    demo("intake")
    with pytest.raises(ValueError, match="township-backup"):
        backup.restore(mongo_client, db_prefix, io.StringIO('{"format": "something-else", "version": 1}\n'))
    monkeypatch.setenv("MONGODB_URI", mongo_client.address and f"mongodb://{mongo_client.address[0]}:"
                                                                f"{mongo_client.address[1]}")
    monkeypatch.setenv("MONGODB_DB_PREFIX", db_prefix)
    path = tmp_path / "qingshui.jsonl.gz"
    assert backup.main(["export", "--township", "qingshui", "--out", str(path)]) == 0
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert lines[0].startswith('{"format": "township-backup"') and len(lines) > 10
    assert backup.main(["import", "--in", str(path)]) == 0
