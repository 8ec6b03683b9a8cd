"""The console's server-drawn charts and village map alone (decision 103): valid SVG without script or style
attributes, gaps for rates without a basis, the map's orientation and scale; the months a trend covers."""
import xml.etree.ElementTree as ET

from gateway.console import charts
from gateway.console.pages.figures import _months

SVG = "{http://www.w3.org/2000/svg}"


def parsed(text):
    root = ET.fromstring(text)
    assert root.tag == SVG + "svg"
    assert not [e for e in root.iter() if e.tag == SVG + "script" or "style" in e.attrib]
    assert "<!--" not in text and len([e for e in root.iter(SVG + "style")]) == 1
    return root


def test_a_line_chart_is_an_svg_without_script_and_draws_each_series_with_gaps():
    root = parsed(charts.line_chart("响应率", ["2026-10", "2026-11"], {"东坡村": [0.5, None], "unit:x": [1.0, 0.25]}))
    texts = [t.text for t in root.iter(SVG + "text")]
    assert "响应率" in texts and "东坡村" in texts and "unit:x" in texts and "100%" in texts
    many = {f"k{i}": [0.1] for i in range(charts.MAX_SERIES + 3)}
    legends = [t.text for t in parsed(charts.line_chart("x", ["m"], many)).iter(SVG + "text")]
    assert f"k{charts.MAX_SERIES - 1}" in legends and f"k{charts.MAX_SERIES}" not in legends


def test_a_bar_chart_keeps_the_ranking_order_top_down():
    root = parsed(charts.bar_chart("Ranking", [("best", 0.9), ("none", None), ("worst", 0.1)]))
    labels = [t for t in root.iter(SVG + "text") if t.text in ("best", "none", "worst")]
    ys = {t.text: float(t.get("y")) for t in labels}
    assert ys["best"] < ys["none"] < ys["worst"]


def test_the_village_map_puts_north_up_west_left_with_one_scale():
    villages = [{"code": "n", "lat": 29.3, "long": 119.5}, {"code": "s", "lat": 29.2, "long": 119.5},
                {"code": "e", "lat": 29.25, "long": 119.6}, {"code": "far", "lat": None, "long": None}]
    placed = charts.village_map(villages, width=600, height=400, margin=50)
    at = {p["code"]: (p["x"], p["y"]) for p in placed["points"]}
    assert at["n"][1] < at["s"][1] and at["n"][0] < at["e"][0] and [v["code"] for v in placed["unplaced"]] == ["far"]
    assert all(50 <= x <= 550 and 50 <= y <= 350 for x, y in at.values())
    north_south = at["s"][1] - at["n"][1]
    west_east = at["e"][0] - at["n"][0]
    assert abs(west_east / north_south - 0.872) < 0.01  # 0.1° of longitude at 29.25° N is cos(29.25°) of 0.1° lat
    assert charts.village_map([])["points"] == []
    single = charts.village_map([{"code": "a", "lat": 29.2, "long": 119.4}], width=600, height=400)
    assert (single["points"][0]["x"], single["points"][0]["y"]) == (300.0, 200.0)


def test_the_trend_covers_six_months_across_a_new_year():
    assert _months("2026-02") == ["2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]
    assert _months("2026-12", 2) == ["2026-11", "2026-12"]
