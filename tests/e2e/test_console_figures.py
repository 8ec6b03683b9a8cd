"""The console's figures pages on the running stack: the assessment page's tables, its charts (valid SVG images
without script, under the SVG policy of decision 103) and CSV export; a county reading its townships and never
another; the hotspots page listing a hotspot raised by demands and marking it on the village map."""
import csv
import io
import xml.etree.ElementTree as ET

import pytest
import requests

from gateway.security import SVG_POLICY
from township_shared.testing import ConsoleClient, as_actor, wait_for

pytestmark = pytest.mark.integration
SVG = "{http://www.w3.org/2000/svg}"


def demand(base, village, category, title, phone, township="qingshui"):
    body = {"channel": "hotline", "reporter": {"name": "王五", "phone": phone, "village": village},
            "village": village, "category": category, "title": title, "description": title}
    answer = requests.post(f"{base}/api/v1/demands", json=body, headers={"X-Township-Id": township}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def dispatched_in(base, township, village):
    """Wait until the month's figures of ``township`` count a dispatch in ``village``."""
    def rows():
        answer = requests.get(f"{base}/api/v1/assessment", params={"dimension": "village"},
                              headers=as_actor("office", township), timeout=10)
        return {r["key"]: r for r in answer.json()["items"]}

    wait_for(rows, lambda found: (found.get(village) or {}).get("dispatched", 0) >= 1, timeout=20)


def svg_of(answer):
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["Content-Type"].startswith("image/svg+xml")
    assert answer.headers["Content-Security-Policy"] == SVG_POLICY
    root = ET.fromstring(answer.text)
    assert root.tag == SVG + "svg"
    assert not [e for e in root.iter() if e.tag == SVG + "script"] and "<script" not in answer.text
    assert not [e for e in root.iter() if "style" in e.attrib]
    return root


def test_assessment_page_tables_charts_and_csv(stack, http_base):
    demand(http_base, "dongpo", "drinking_water", "东坡村停水", "13811110001")
    dispatched_in(http_base, "qingshui", "dongpo")
    office = ConsoleClient(http_base, "office")

    page = office.get("/console/assessment")
    assert page.status_code == 200
    assert 'id="assessment-table"' in page.text and "Township Water Station" in page.text
    assert 'id="trend-table"' in page.text and 'id="ranking-top"' in page.text
    assert page.headers["Content-Security-Policy"] != SVG_POLICY and "unsafe-inline" not in page.headers[
        "Content-Security-Policy"]
    for chart in ("trend", "ranking"):
        src = f'/console/assessment/chart.svg?chart={chart}'
        assert src in page.text.replace("&amp;", "&")
    img = page.text.split('id="trend-chart"')[1].split(">")[0]
    assert 'alt="Line chart' in img

    trend = svg_of(office.get("/console/assessment/chart.svg?chart=trend&view=unit&rate=response_rate"))
    texts = " ".join(t.text or "" for t in trend.iter(SVG + "text"))
    assert "Township Water Station" in texts and "Response rate" in texts
    ranking = svg_of(office.get("/console/assessment/chart.svg?chart=ranking&view=village&rate=response_rate"))
    assert "Dongpo Village" in " ".join(t.text or "" for t in ranking.iter(SVG + "text"))

    villages = office.get("/console/assessment?view=village&rate=satisfaction_rate")
    table = villages.text.split('id="assessment-table"')[1].split("</table>")[0]
    assert "Dongpo Village" in table and "Xihe Village" not in table  # only villages with figures this month

    exported = office.get("/console/assessment.csv?view=village")
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    assert exported.headers["Content-Disposition"].startswith("attachment; filename=assessment-qingshui-village-")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert "dongpo" in [r["key"] for r in rows] and int(rows[0]["dispatched"]) >= 1

    unit = ConsoleClient(http_base, "unit:water_station")
    assert unit.get("/console/assessment").status_code == 403
    assert unit.get("/console/assessment/chart.svg").status_code == 403
    assert unit.get("/console/assessment.csv").status_code == 403


def test_a_county_reads_its_townships_and_no_other(stack, http_base):
    demand(http_base, "dongpo", "drinking_water", "东坡村停水", "13811110002")
    demand(http_base, "yunfeng", "drinking_water", "云峰村停水", "13811110003", township="baiyun")
    dispatched_in(http_base, "qingshui", "dongpo")
    dispatched_in(http_base, "baiyun", "yunfeng")
    county = ConsoleClient(http_base, "county:lanxi", township=None)

    home = county.get("/console/", follow=True)
    assert home.url.endswith("/console/assessment") and 'id="township-switch"' in home.text
    first = county.get("/console/assessment?view=village")
    assert "Dongpo Village" in first.text and "Yunfeng Village" not in first.text

    switched = county.post("/console/township", {"township": "baiyun", "next": "/console/assessment?view=village"})
    assert switched.status_code == 303 and switched.headers["Location"] == "/console/assessment?view=village"
    second = county.get("/console/assessment?view=village")
    assert "Yunfeng Village" in second.text and "Dongpo Village" not in second.text
    exported = county.get("/console/assessment.csv?view=village")
    assert [r["key"] for r in csv.DictReader(io.StringIO(exported.text))] == ["yunfeng"]
    chart = svg_of(county.get("/console/assessment/chart.svg?chart=ranking&view=village"))
    assert "Yunfeng Village" in " ".join(t.text or "" for t in chart.iter(SVG + "text"))

    # a township outside the county, whatever the switch's cookie says, is never read: the county's first instead
    for elsewhere in ("atlantis", "other_county_town"):
        county.post("/console/township", {"township": elsewhere, "next": "/console/assessment"})
        assert county.http.cookies.get("tp_township") == elsewhere
        answer = county.get("/console/assessment?view=village")
        assert answer.status_code == 200 and elsewhere not in answer.text
        assert "Dongpo Village" in answer.text and "Yunfeng Village" not in answer.text
    # and the service itself refuses the county a township it does not hold
    refused = requests.get(f"{http_base}/api/v1/assessment",
                           headers={**as_actor("county:lanxi", None), "X-Township-Id": "atlantis"}, timeout=10)
    assert refused.status_code in (403, 404)


def test_hotspots_page_lists_a_hotspot_and_marks_it_on_the_village_map(stack, http_base):
    for i in range(5):
        demand(http_base, "taoyuan", "environmental_pollution", f"河水发臭 {i}", f"1350000010{i}")
    office = ConsoleClient(http_base, "office")
    page = wait_for(lambda: office.get("/console/hotspots"), lambda p: 'id="hotspot-list"' in p.text, timeout=20)
    listed = page.text.split('id="hotspot-list"')[1].split("</table>")[0]
    assert "Taoyuan Village" in listed and 'id="hotspot-taoyuan-environmental_pollution"' in listed
    assert ">5<" in listed.replace(" ", "")

    svg = page.text.split('<svg id="hotspot-map"')[1].split("</svg>")[0]
    root = ET.fromstring('<svg id="hotspot-map"' + svg + "</svg>")
    groups = {g.get("data-village"): g for g in root.iter(SVG + "g") if g.get("data-village")}
    assert set(groups) >= {"dongpo", "xihe", "taoyuan", "zhenjie"} and "yunfeng" not in groups
    assert "hot" in groups["taoyuan"].get("class").split() and "hot" not in groups["dongpo"].get("class").split()
    assert [c for c in groups["taoyuan"].iter(SVG + "circle") if c.get("class") == "map-ring"]
    dots = {code: (float(next(g.iter(SVG + "circle")).get("cx")), float(next(g.iter(SVG + "circle")).get("cy")))
            for code, g in groups.items()}
    assert dots["beiling"][1] < dots["huaxi"][1]  # north up: Beiling (29.2287) above Huaxi (29.1820)
    assert dots["liushu"][0] < dots["shiqiao"][0]  # west left: Liushu (119.4333) left of Shiqiao (119.4899)
    assert ConsoleClient(http_base, "unit:water_station").get("/console/hotspots").status_code == 403
