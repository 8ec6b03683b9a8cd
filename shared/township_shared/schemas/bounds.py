"""The bounds of every value the platform accepts, from HTTP, RPC or events (decision 31).

Every number and date a schema loads is stored in MongoDB, compared with clock times, sent on to other services
and read back by clients; a value any of these cannot hold must be refused when it comes in (400 naming the field,
or a dead letter), never discovered by a crash deep inside a service (500, or a message requeued forever):

- :class:`Integer` and :class:`Float`: within ±(2**53 - 1), exact in a JavaScript client, a float and a BSON
  int64 (a cursor of 2**64 made pymongo raise ``OverflowError``);
- :class:`Date`: a calendar day from :data:`EARLIEST` to :data:`LATEST` (a due date beyond them means nothing here);
- :class:`AwareDateTime`: with an offset, from :data:`EARLIEST` to :data:`LATEST` once in UTC (9999-12-31T23:59:59
  -01:00 is year 10000 in UTC, and a far date overflows every deadline computed from it);
- :func:`check_json`: any JSON value nested at most :data:`MAX_DEPTH` levels, every string (and key) valid Unicode
  text (JSON's ``\\ud800`` escape decodes to a lone surrogate, which no UTF-8 encoder, BSON included, accepts).

Schemas use these types instead of marshmallow's (a test fails on a bare ``fields.Integer``, ``Date`` or ``DateTime``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from marshmallow import fields, validate

MAX_SAFE_INTEGER = 2**53 - 1
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
MAX_DEPTH = 16
MAX_ECHO = 200


SAFE_RANGE = validate.Range(min=-MAX_SAFE_INTEGER, max=MAX_SAFE_INTEGER,
                            error=f"must be between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}")


class Integer(fields.Integer):
    """marshmallow's Integer within ±(2**53 - 1); a field's own ``validate`` narrows it further. The bound is a
    ``Range`` validator, so the OpenAPI document states it (``minimum``, ``maximum``)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, SAFE_RANGE)


class Float(fields.Float):
    """marshmallow's Float (no NaN, no infinity) within ±(2**53 - 1), stated like :class:`Integer`'s."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, SAFE_RANGE)


class AwareDateTime(fields.AwareDateTime):
    """marshmallow's AwareDateTime (an offset is required) from 1970-01-01 to 2100-01-01 in UTC."""

    default_error_messages = {"bounds": f"must be from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} (UTC)"}

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_bounds = EARLIEST <= moment.astimezone(timezone.utc) <= LATEST
        except OverflowError:  # year 1 or 9999 moved across midnight by its offset
            in_bounds = False
        if not in_bounds:
            raise self.make_error("bounds")
        return moment


class Date(fields.Date):
    """marshmallow's Date (``YYYY-MM-DD``) from 1970-01-01 to 2100-01-01."""

    default_error_messages = {"bounds": f"must be from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}"}

    def _deserialize(self, value, attr, data, **kwargs):
        day = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST.date() <= day <= LATEST.date():
            raise self.make_error("bounds")
        return day


def _printable(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udxxx``, so an error message naming it can be encoded."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _surrogate(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not valid Unicode text: a lone surrogate (U+{ord(text[exc.start]):04X})"
    return None


def check_json(value: Any, max_depth: int = MAX_DEPTH, root: str = "_body") -> dict[str, list[str]]:
    """The problems of a decoded JSON value that no schema can report safely: nesting deeper than ``max_depth``
    (named by its top-level field, or ``root``) and strings or keys that are not valid Unicode text (named by
    their dotted path, a bad key written with ``\\u`` escapes). Empty when the value is fine.

    Iterative, so any depth is measured without recursion."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            reason = _surrogate(item)
            if reason:
                problems.setdefault(path or root, []).append(reason)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > max_depth:
            top = path.split(".", 1)[0] if path and isinstance(value, dict) else root
            problems.setdefault(top, [f"nested deeper than {max_depth} levels"])
            continue
        children = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in children:
            name = str(key)
            if isinstance(key, str) and _surrogate(key):
                name = _printable(key)
                problems.setdefault(f"{path}.{name}" if path else name, []).append(_surrogate(key))
                continue
            stack.append((child, f"{path}.{name}" if path else name, depth + 1))
    return problems


def echo(value: Any, limit: int = MAX_ECHO) -> str:
    """``value`` as short printable text for a log line or a message: at most ``limit`` characters."""
    text = _printable(value if isinstance(value, str) else repr(value))
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"
