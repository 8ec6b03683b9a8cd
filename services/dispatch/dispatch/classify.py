"""Keyword classification of a demand that arrives without a category.

The keywords are the catalogue's data (``keywords`` of each category), so a township tunes classification by
editing its catalogue, and every decision can be explained by the words that matched. The classifier only
decides when one category clearly wins; a tie or no match leaves the case to the office's triage queue, where a
person decides, because a wrong automatic route costs more than a short wait.

Matching rules:

* Text and keywords are NFKC-normalised first, so full-width letters (ＲＯＡＤ) and half-width ones match alike.
* Keywords made only of ASCII characters are words: they match case-insensitively on word boundaries, where a
  boundary is anything but an ASCII letter or digit (so Chinese characters next to an English word are
  boundaries). A simple plural also matches: ``+s``, ``+es`` after s/x/z/ch/sh, and ``y`` -> ``ies`` after a
  consonant. "road" matches "Road," and "roads" but not "railroads"; "tap" does not match "tapes".
  Spaces inside a keyword match any run of whitespace.
* Any other keyword (Chinese, or mixed) matches as a case-insensitive substring: Chinese has no spaces.

The score of a category is the number of its distinct keywords found; how often one occurs does not count, so
a long text repeating one word does not outweigh a text naming several aspects of another category.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping, Sequence

_ASCII = re.compile(r"[\x00-\x7f]+")
_BOUNDARY = "A-Za-z0-9"
_VOWELS = "aeiou"


@dataclass(frozen=True)
class Classification:
    """``category`` is set only when exactly one category has the top score and that score is above 0.
    ``candidates`` are the categories sharing the top score (sorted; empty when nothing matched), which the
    triage queue shows the office. ``scores`` holds every category given, zeros included."""

    category: str | None
    candidates: tuple[str, ...]
    scores: Mapping[str, int] = field(hash=False)


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _last_word(word: str) -> str:
    """The pattern of a phrase's last word, allowing its simple plural."""
    if len(word) > 1 and word.endswith("y") and word[-2] not in _VOWELS:
        return re.escape(word[:-1]) + "(?:ys?|ies)"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return re.escape(word) + "(?:es)?"
    if word[-1].isalpha():
        return re.escape(word) + "s?"
    return re.escape(word)


@lru_cache(maxsize=4096)
def _matcher(keyword: str):
    """A predicate telling whether ``keyword`` occurs in a normalised text; None for a blank keyword."""
    key = _normalise(keyword).strip()
    if not key:
        return None
    if not _ASCII.fullmatch(key):
        return lambda text: key in text
    *words, last = key.split()
    body = r"\s+".join([*map(re.escape, words), _last_word(last)])
    pattern = re.compile(rf"(?<![{_BOUNDARY}]){body}(?![{_BOUNDARY}])", re.ASCII | re.IGNORECASE)
    return lambda text: pattern.search(text) is not None


def matched_keywords(text: str, keywords: Sequence[str]) -> tuple[str, ...]:
    """The distinct keywords of one category found in ``text``, in catalogue order; spelling variants that
    normalise to the same keyword count once."""
    normalised = _normalise(text)
    seen: set[str] = set()
    found = []
    for keyword in keywords:
        key = _normalise(keyword).strip()
        if key in seen:
            continue
        seen.add(key)
        matcher = _matcher(keyword)
        if matcher is not None and matcher(normalised):
            found.append(keyword)
    return tuple(found)


def classify(text: str, keywords: Mapping[str, Sequence[str]]) -> Classification:
    """Score every category of ``keywords`` (category code -> its keywords) against ``text``."""
    scores = {code: len(matched_keywords(text or "", words or ())) for code, words in keywords.items()}
    top = max(scores.values(), default=0)
    candidates = tuple(sorted(code for code, score in scores.items() if score == top)) if top > 0 else ()
    category = candidates[0] if len(candidates) == 1 else None
    return Classification(category, candidates, MappingProxyType(scores))
