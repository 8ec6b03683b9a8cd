"""A photo is served only to readers who may see its subject, in its township (decision 92)."""
import io
from datetime import datetime, timezone

import pytest
import requests
from PIL import Image

from gateway.console.photos import PhotoRepository, checked_image
from township_shared.testing import ConsoleClient, as_actor, wait_for

pytestmark = pytest.mark.integration


def a_demand(http_base) -> str:
    answer = requests.post(f"{http_base}/api/v1/demands", json={
        "channel": "hotline", "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"},
        "village": "dongpo", "category": "drinking_water", "title": "停水", "description": "东坡村三组停水三天了"},
        headers={"Idempotency-Key": "photo-case-1"}, timeout=10)
    assert answer.status_code == 201, answer.text
    case_number = answer.json()["case_number"]

    def routed():
        cases = requests.get(f"{http_base}/api/v1/demands", params={"limit": 5},
                             headers=as_actor("office"), timeout=10).json()["items"]
        return [c for c in cases if c.get("case_number") == case_number]

    found = wait_for(routed, what="the case")[0]
    return found.get("case_id") or found["id"]


def test_a_case_photo_is_served_to_the_office_and_to_no_one_else(stack, http_base, mongo_client, db_prefix):
    case_id = a_demand(http_base)
    out = io.BytesIO()
    Image.new("RGB", (20, 10), (0, 120, 0)).save(out, format="JPEG")
    repo = PhotoRepository(mongo_client[f"{db_prefix}_gateway"])
    photo_id = repo.save(checked_image(out.getvalue()), township_id="qingshui", subject=f"case:{case_id}",
                         uploaded_by="unit:water_station", now=datetime.now(timezone.utc))
    office = ConsoleClient(http_base, "office")
    answer = office.get(f"/console/photos/{photo_id}")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
    assert answer.content[:2] == b"\xff\xd8" and "private" in answer.headers["Cache-Control"]
    assert ConsoleClient(http_base, "unit:power_station").get(f"/console/photos/{photo_id}").status_code == 404
    assert ConsoleClient(http_base, "office", township="baiyun").get(f"/console/photos/{photo_id}").status_code == 404
    assert ConsoleClient(http_base).get(f"/console/photos/{photo_id}").status_code == 303  # the public: sign in
    assert office.get("/console/photos/not-an-id").status_code == 404
    assert repo.of("qingshui", f"case:{case_id}")[0]["id"] == photo_id
    assert repo.of("baiyun", f"case:{case_id}") == []
