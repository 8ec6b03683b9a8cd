"""Unit tests of the input bounds (decisions 31, 70): bounded numbers and dates, nesting and Unicode checks, which
database errors are outages, and the log filters that keep expected refusals to one short line."""
import importlib
import inspect
import logging
import pkgutil
from datetime import datetime, timezone

import pymongo.errors
import pytest
from bson.errors import InvalidDocument
from marshmallow import Schema, ValidationError, fields

import township_shared.schemas as schemas_pkg
from township_shared.errors import (ExpectedErrorLogFilter, LongLineLogFilter, NotFound, ValidationFailed,
                                    is_outage)
from township_shared.events import EnvelopeSchema, load_event
from township_shared.schemas.bounds import (DATE_PATTERN, DATETIME_PATTERN, EARLIEST, LATEST, MAX_DEPTH,
                                            MAX_SAFE_INTEGER, AwareDateTime, Boolean, Date, Float, Integer,
                                            check_json, echo)
from township_shared.service import load


class Sample(Schema):
    n = Integer()
    x = Float()
    at = AwareDateTime()


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 2**64, str(2**70), "9" * 40])
def test_integers_beyond_53_bits_are_refused(value):
    with pytest.raises(ValidationError) as err:
        Sample().load({"n": value})
    assert "n" in err.value.messages


def test_integers_within_53_bits_load():
    assert Sample().load({"n": MAX_SAFE_INTEGER})["n"] == MAX_SAFE_INTEGER
    assert Sample().load({"n": -MAX_SAFE_INTEGER})["n"] == -MAX_SAFE_INTEGER


@pytest.mark.parametrize("value", ["7", 2.5, 7.0, 2.5e-42, True])
def test_a_json_integer_is_an_integer_only(value):
    """The document says ``type: integer`` (decision 70): marshmallow alone took 2.5e-42 as 0 and true as 1."""
    with pytest.raises(ValidationError):
        Sample().load({"n": value})


def test_a_query_integer_or_boolean_is_written_in_its_one_way():
    class Query(Schema):
        n = Integer(query=True)
        b = Boolean(query=True)

    assert Query().load({"n": "-12", "b": "true"}) == {"n": -12, "b": True}
    for bad in ({"n": " 7"}, {"n": "7.0"}, {"n": "5_000"}, {"n": "\u0667"}, {"b": "1"}, {"b": "yes"}, {"b": "True"}):
        with pytest.raises(ValidationError):
            Query().load(bad)


@pytest.mark.parametrize("value", [0, 1, "true", "yes", None])
def test_a_json_boolean_is_true_or_false_only(value):
    class Flag(Schema):
        b = Boolean()

    with pytest.raises(ValidationError):
        Flag().load({"b": value})
    assert Flag().load({"b": False}) == {"b": False}


@pytest.mark.parametrize("value", ["1.5", True])
def test_a_json_number_is_a_number_only(value):
    with pytest.raises(ValidationError):
        Sample().load({"x": value})


@pytest.mark.parametrize("value", [1e300, -1e17, "1e400", "nan", "-inf"])
def test_floats_out_of_bounds_or_special_are_refused(value):
    with pytest.raises(ValidationError):
        Sample().load({"x": value})


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59+00:00",
                                   "0001-01-01T00:00:00+14:00", "1969-12-31T23:59:59+00:00",
                                   "1969-12-31T23:00:00-02:00", "2100-01-02T00:00:00+14:00",
                                   "2026-11-29T08:00:00", "2026-11-29T08:00+08:00", "2026-11-29 08:00:00+08:00",
                                   "2026-02-29T08:00:00Z", "2026-11-29T08:00:60Z", "2026-11-29T08:00:00.1234567Z",
                                   "2026-11-29t08:00:00Z", "2026-11-29T08:00:00Z\n"])
def test_dates_outside_1970_to_2100_or_naive_are_refused(value):
    """The day as written, so the OpenAPI document states the bound as a pattern (decision 70)."""
    with pytest.raises(ValidationError) as err:
        Sample().load({"at": value})
    assert "at" in err.value.messages


def test_dates_at_the_bounds_load():
    assert Sample().load({"at": EARLIEST.isoformat()})["at"] == EARLIEST
    assert Sample().load({"at": "2100-01-01T08:00:00+08:00"})["at"] == LATEST
    for written in ("1970-01-01T07:59:59+08:00", "2100-01-01T23:59:59.999999-23:59", "2024-02-29T00:00:00Z"):
        assert Sample().load({"at": written})["at"] == datetime.fromisoformat(written)


def test_the_date_patterns_are_what_the_fields_check():
    for pattern, field in ((DATETIME_PATTERN, AwareDateTime()), (DATE_PATTERN, Date())):
        assert field.metadata["pattern"] == pattern


def _schema_classes():
    for info in pkgutil.iter_modules(schemas_pkg.__path__):
        module = importlib.import_module(f"{schemas_pkg.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Schema) and cls.__module__ == module.__name__:
                yield cls
    yield EnvelopeSchema


def _leaves(field):
    yield field
    for inner in (getattr(field, "inner", None), getattr(field, "value_field", None),
                  getattr(field, "key_field", None)):
        if inner is not None:
            yield from _leaves(inner)


def test_every_number_and_date_of_every_schema_is_bounded():
    """The kind, not the single field: a new schema with a bare marshmallow Integer, Float, DateTime, Boolean or Url
    fails (decision 70: each says what the OpenAPI document says, no more)."""
    unbounded = []
    classes = list(_schema_classes())
    assert len(classes) > 40
    for cls in classes:
        for name, declared in cls._declared_fields.items():
            for field in _leaves(declared):
                if isinstance(field, (fields.Number, fields.DateTime, fields.Date, fields.TimeDelta, fields.Boolean,
                                      fields.Url)) and not isinstance(field, (Integer, Float, AwareDateTime, Date,
                                                                              Boolean)):
                    unbounded.append(f"{cls.__module__}.{cls.__name__}.{name}: {type(field).__name__}")
    assert not unbounded, unbounded


def test_check_json_names_lone_surrogates_by_path_and_keys_escaped():
    problems = check_json({"a": {"b": ["ok", "x\ud800y"]}, "k\udfff": 1, "fine": "😀"})
    assert problems == {"a.b.1": ["not valid Unicode text: a lone surrogate (U+D800)"],
                        "k\\udfff": ["not valid Unicode text: a lone surrogate (U+DFFF)"]}
    assert all(key.encode("utf-8") for key in problems)


def test_check_json_limits_depth_without_recursion():
    deep = "x"
    for _ in range(100_000):
        deep = [deep]
    assert check_json(deep) == {"_body": [f"nested deeper than {MAX_DEPTH} levels"]}
    assert check_json({"title": deep}) == {"title": [f"nested deeper than {MAX_DEPTH} levels"]}
    shallow = "x"
    for _ in range(MAX_DEPTH):
        shallow = [shallow]
    assert check_json(shallow) == {}


def test_load_refuses_what_no_schema_can_report():
    with pytest.raises(ValidationFailed) as err:
        load(Sample(), {"n": 1, "at": "\udc00"})
    assert err.value.body["fields"] == {"at": ["not valid Unicode text: a lone surrogate (U+DC00)"]}


def test_load_event_refuses_unencodable_bodies_as_validation():
    with pytest.raises(ValidationFailed) as err:
        load_event({"id": "e\ud800", "payload": {}})
    assert "id" in err.value.body["fields"]


def test_echo_bounds_and_escapes():
    assert echo("x" * 5000).startswith("x" * 200) and len(echo("x" * 5000)) < 230
    assert echo("a\ud800").encode("utf-8") == b"a\\ud800"


@pytest.mark.parametrize("exc, outage", [
    (pymongo.errors.ServerSelectionTimeoutError("no server"), True),
    (pymongo.errors.AutoReconnect("reset"), True),
    (pymongo.errors.NetworkTimeout("slow"), True),
    (pymongo.errors.ExecutionTimeout("maxTimeMS", 50), True),
    (pymongo.errors.NotPrimaryError("stepped down"), True),
    (pymongo.errors.OperationFailure("shutting down", 91), True),
    (pymongo.errors.OperationFailure("cursor lost", 43), True),
    (pymongo.errors.OperationFailure("labelled", 1, {"errorLabels": ["TransientTransactionError"]}), True),
    (pymongo.errors.WriteError("refused", 2), False),
    (pymongo.errors.OperationFailure("bad update", 9), False),
    (pymongo.errors.DuplicateKeyError("dup", 11000), False),
    (pymongo.errors.DocumentTooLarge("too large"), False),
    (InvalidDocument("bad key"), False),
    (OverflowError("MongoDB can only handle up to 8-byte ints"), False),
    (KeyError("bug"), False),
])
def test_only_outages_count_as_outages(exc, outage):
    assert is_outage(exc) is outage


def _record(msg, args, exc_info=None, name="nameko.containers"):
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, exc_info)


def test_expected_error_record_becomes_one_short_info_line():
    class Entrypoint:
        method_name = "get_case"

    class WorkerCtx:
        service_name = "dispatch"
        entrypoint = Entrypoint()

    exc = NotFound(f"no case {'x' * 5000!r}", id="x" * 5000)
    try:
        raise exc
    except NotFound:
        import sys
        record = _record("(expected) error handling worker %s: %s", (WorkerCtx(), exc), sys.exc_info())
    assert ExpectedErrorLogFilter().filter(record)
    line = logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line.startswith("INFO nameko.containers: (expected) dispatch.get_case refused: NotFound: ")
    assert "\n" not in line and len(line) < 300


def test_other_records_pass_unchanged():
    record = _record("error handling worker %s: %s", ("ctx", "boom"), None)
    assert ExpectedErrorLogFilter().filter(record) and record.getMessage() == "error handling worker ctx: boom"
    record = _record("short", (), None, "nameko.web.server")
    assert LongLineLogFilter(400).filter(record) and record.getMessage() == "short"


def test_long_access_log_lines_keep_head_and_tail():
    record = _record('127.0.0.1 - - "GET /api/v1/cases/%s HTTP/1.1" 404 10199 0.02', ("x" * 5000,), None,
                     "nameko.web.server")
    LongLineLogFilter(400).filter(record)
    message = record.getMessage()
    assert message.startswith("127.0.0.1 - - \"GET /api/v1/cases/xxx") and message.endswith("404 10199 0.02")
    assert len(message) < 450
