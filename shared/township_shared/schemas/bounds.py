"""The bounds of every value the platform accepts, from HTTP, RPC or events (decision 31).

Every number and date a schema loads is stored in MongoDB, compared with clock times, sent on to other services
and read back by clients; a value any of these cannot hold must be refused when it comes in (400 naming the field,
or a dead letter), never discovered by a crash deep inside a service (500, or a message requeued forever):

- :class:`Integer` and :class:`Float`: within ±(2**53 - 1), exact in a JavaScript client, a float and a BSON
  int64 (a cursor of 2**64 made pymongo raise ``OverflowError``);
- :class:`Date`: a calendar day from :data:`EARLIEST` to :data:`LATEST` (a due date beyond them means nothing here);
- :class:`AwareDateTime`: ``YYYY-MM-DDThh:mm:ss[.ffffff]`` with ``Z`` or an offset, its day as written from
  :data:`EARLIEST` to :data:`LATEST` (9999-12-31T23:59:59-01:00 is year 10000 in UTC, and a far date overflows every
  deadline computed from it; an offset moves a day by less than one, so no date in bounds overflows). Both state
  their bounds as a ``pattern`` the OpenAPI document carries, the very regular expression they check (decision 70);
- :class:`Pattern`: marshmallow's ``Regexp`` matching the whole text, as a JSON schema ``pattern`` does (``$``
  in Python also matches before a final newline);
- :func:`check_json`: any JSON value nested at most :data:`MAX_DEPTH` levels, every string (and key) valid Unicode
  text (JSON's ``\\ud800`` escape decodes to a lone surrogate, which no UTF-8 encoder, BSON included, accepts).

Schemas use these types instead of marshmallow's (a test fails on a bare ``fields.Integer``, ``Date`` or ``DateTime``).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from marshmallow import ValidationError, fields, validate

MAX_SAFE_INTEGER = 2**53 - 1
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
MAX_DEPTH = 16
MAX_ECHO = 200


SAFE_RANGE = validate.Range(min=-MAX_SAFE_INTEGER, max=MAX_SAFE_INTEGER,
                            error=f"must be between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}")


QUERY_INTEGER = re.compile(r"-?[0-9]{1,16}")


class Integer(fields.Integer):
    """marshmallow's Integer within ±(2**53 - 1); a field's own ``validate`` narrows it further. The bound is a
    ``Range`` validator, so the OpenAPI document states it (``minimum``, ``maximum``).

    A JSON integer only, as the document says ``type: integer`` (marshmallow alone took ``2.5`` as 2, ``true`` as 1
    and ``"7"`` as 7); ``query=True`` for a query string's parameter, written in decimal digits (decision 70)."""

    def __init__(self, *, query: bool = False, **kwargs):
        kwargs.pop("strict", None)  # strict always, but in a query string
        super().__init__(strict=not query, **kwargs)
        self.query = query
        self.validators.insert(0, SAFE_RANGE)

    def _validated(self, value):
        if isinstance(value, bool) or (self.query and not isinstance(value, int)
                                       and not (isinstance(value, str) and QUERY_INTEGER.fullmatch(value))):
            raise self.make_error("invalid")
        return super()._validated(value)


class Float(fields.Float):
    """marshmallow's Float (no NaN, no infinity) within ±(2**53 - 1), stated like :class:`Integer`'s; a JSON
    number only (not ``"1.5"``, not ``true``)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, SAFE_RANGE)

    def _validated(self, value):
        if isinstance(value, (bool, str)):
            raise self.make_error("invalid")
        return super()._validated(value)


class Boolean(fields.Boolean):
    """A JSON ``true`` or ``false`` only (marshmallow alone took ``0``, ``"yes"`` and ``"on"``); ``query=True``
    for a query string's parameter: ``true`` or ``false`` (decision 70)."""

    def __init__(self, *, query: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.query = query

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        if self.query and value in ("true", "false"):
            return value == "true"
        raise self.make_error("invalid", input=value)


class Pattern(validate.Regexp):
    """marshmallow's ``Regexp``, matching the whole text (``re.fullmatch``) as JSON schema's ``pattern`` does; the
    OpenAPI document states it as ``pattern``. Write the expression with ``[0-9]``, not ``\\d`` (Python's matches
    any Unicode digit)."""

    def __call__(self, value: str) -> str:
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


# the days from EARLIEST to LATEST as written, each a real calendar day (29 February in leap years only)
YEAR = r"(?:19[7-9][0-9]|20[0-9][0-9])"
_DAY = (rf"(?:{YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
        r"|02-(?:0[1-9]|1[0-9]|2[0-8]))|(?:19(?:7[26]|8[048]|9[26])|20(?:[02468][048]|[13579][26]))-02-29"
        r"|2100-01-01)")
DATE_PATTERN = rf"^{_DAY}$"
DATETIME_PATTERN = (rf"^{_DAY}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{{1,6}})?"
                    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$")
_WRITTEN_DATE = re.compile(DATE_PATTERN)
_WRITTEN_DATETIME = re.compile(DATETIME_PATTERN)


def _with_pattern(kwargs: dict[str, Any], pattern: str) -> dict[str, Any]:
    return {**kwargs, "metadata": {"pattern": pattern, **(kwargs.get("metadata") or {})}}


class AwareDateTime(fields.AwareDateTime):
    """marshmallow's AwareDateTime written ``YYYY-MM-DDThh:mm:ss[.ffffff]`` with ``Z`` or an offset, its day (as
    written) from 1970-01-01 to 2100-01-01: :data:`DATETIME_PATTERN`, which the OpenAPI document states."""

    default_error_messages = {"bounds": f"must be written YYYY-MM-DDThh:mm:ss with Z or an offset (+08:00), a day "
                                        f"from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}"}

    def __init__(self, **kwargs):
        super().__init__(**_with_pattern(kwargs, DATETIME_PATTERN))

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and _WRITTEN_DATETIME.fullmatch(value) is None:
            raise self.make_error("bounds")
        return super()._deserialize(value, attr, data, **kwargs)


class Date(fields.Date):
    """marshmallow's Date (``YYYY-MM-DD``) from 1970-01-01 to 2100-01-01: :data:`DATE_PATTERN`, which the OpenAPI
    document states."""

    default_error_messages = {"bounds": f"must be a day YYYY-MM-DD from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}"}

    def __init__(self, **kwargs):
        super().__init__(**_with_pattern(kwargs, DATE_PATTERN))

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and _WRITTEN_DATE.fullmatch(value) is None:
            raise self.make_error("bounds")
        return super()._deserialize(value, attr, data, **kwargs)


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
