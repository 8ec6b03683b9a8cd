"""Hypothesis strategies for the values that once made a 500 (issue 10, decision 27), shared by both fuzzers:
integers beyond 53 and 64 bits, dates at year 1 and 9999 with offsets (and just outside 1970..2100), text with
lone surrogates, astral characters, NUL and 5,000 characters, and values nested deeper than the limit."""
import pytest
from hypothesis import strategies as st

from township_shared.schemas.bounds import MAX_DEPTH, MAX_SAFE_INTEGER

BIG_INTEGERS = st.one_of(
    st.sampled_from([MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 2**63 - 1, 2**63, 2**64,
                     -(2**64) - 1, 10**40]),
    st.integers(min_value=2**53), st.integers(max_value=-(2**53)))
FLOATS = st.sampled_from([1e308, -1e308, 2.0**53 + 2, 5e-324, -0.0])
DATES = st.builds("{}-{}T{}{}".format,
                  st.sampled_from(["0001", "1969", "1970", "2099", "2100", "2101", "9999"]),
                  st.sampled_from(["01-01", "12-31", "02-29", "13-01"]),
                  st.sampled_from(["00:00:00", "23:59:59", "23:59:59.999999", "24:00:00"]),
                  st.sampled_from(["", "Z", "+00:00", "-01:00", "+14:00", "-23:59", "+08:00"]))
URL_TEXT = st.one_of(  # text a URL can carry (a lone surrogate cannot even be sent in one)
    st.text(st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF), min_size=1, max_size=6),
    st.sampled_from(["x" * 5000, "\x00", "a\x00b", "😀" * 300, "%ED%A0%80", "..", "$where", "a.b"]))
TEXT = st.one_of(
    URL_TEXT,
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.builds("{}{}{}".format, st.text(max_size=5), st.sampled_from(["\ud800", "\udfff", "\udbff\udbff"]),
              st.text(max_size=5)))


def nested(depth: int, leaf=1):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


DEEP = st.sampled_from([MAX_DEPTH + 1, 50, 200]).map(nested) | st.sampled_from([MAX_DEPTH + 1, 60]).map(
    lambda depth: {"a": nested(depth)})
EXTREMES = st.one_of(BIG_INTEGERS, FLOATS, DATES, TEXT, DEEP)
URL_EXTREMES = st.one_of(BIG_INTEGERS.map(str), FLOATS.map(repr), DATES, URL_TEXT)


@pytest.fixture
def extremes():
    """The strategies above: ``extremes.EXTREMES`` (any JSON value) and ``extremes.URL_EXTREMES`` (strings a query
    or path can carry)."""
    import types

    return types.SimpleNamespace(EXTREMES=EXTREMES, URL_EXTREMES=URL_EXTREMES, BIG_INTEGERS=BIG_INTEGERS,
                                 DATES=DATES, TEXT=TEXT, DEEP=DEEP, nested=nested)
