"""Classification of a demand that arrives without a category: weighted catalogue terms, negation, confidence.

The words are the catalogue's data (each category's ``keywords`` and ``terms``), so a township tunes
classification by editing its catalogue, and every decision is explained by the words that made it. Decision 60
says why a weighted lexicon (and, per township, what the office taught: :mod:`dispatch.learning`) rather than
word segmentation.

Matching rules:

* Text and terms are NFKC-normalised and case-folded, so full-width letters (ＲＯＡＤ) match half-width ones.
* A term made only of ASCII characters is a word: it matches on word boundaries (anything but an ASCII letter or
  digit, so Chinese characters next to it are boundaries), with a simple plural (``+s``, ``+es`` after s/x/z/ch/sh,
  ``y`` -> ``ies`` after a consonant); spaces inside a term match any run of whitespace. "road" matches "Road,"
  and "roads" but not "railroads".
* Any other term (Chinese, or mixed) matches as a substring: Chinese has no spaces. A ``…`` inside a term
  stands for up to three characters of the same clause, so 停…电 finds 停电, 停了电 and 停了好几天电.
* An occurrence lying inside a longer occurrence of another term (or of the same span, in the same category)
  does not count: 路灯不亮 (roads) is one piece of evidence, not also 灯 (a hint of power).
* An occurrence in the scope of a negation does not count: 不是停电，是停水 is about water. A scope runs from a
  cue (不是, 并非, 倒不是, "it's not", "not a"...; not 是不是 or 要不是) to the end of the clause (punctuation) or
  to the 是/而是/but that corrects it.

Scoring: a category's score is the sum of the weights of its distinct terms found (a word repeated counts once,
so a long text repeating one word does not outweigh a text naming several aspects of another category). Weights:
``terms.strong`` 3 (a problem only this category solves: 停水), ``keywords`` and ``terms.medium`` 2 (its subject:
自来水), ``terms.weak`` 1 (a hint that needs company: 老人): weak terms add to a category only when a stronger term
of it was found, so everyday words (门口, 晚上) never make a category up on their own.

Confidence is a softmax over the categories, with a pseudo-category "nothing" of score
``Tuning.evidence_floor`` standing for the chance that the words found are incidental::

    confidence(c) = (exp(score(c)) - 1) / (exp(floor) + sum of (exp(score(k)) - 1) over every category k)

(the ``- 1`` makes a category with no evidence weigh nothing, and one with a trace of evidence almost nothing),
so one strong term alone (3 against a floor of 1.5) gives 0.81, one medium term 0.59, two categories with equal
scores less than 0.5 each. The top category is chosen only when its confidence reaches
``Tuning.threshold`` and its score leads the runner-up's by at least ``Tuning.margin`` points (both
configuration); otherwise the case goes to the office's triage queue with the candidates and their confidences,
because a wrong automatic route costs a resident more than a short wait. The margin is what catches a demand
naming two problems, or a problem and a context word of another category, whose top confidence a large total
score can still push over the threshold (decision 85).
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Mapping, Sequence

TIER_WEIGHTS = {"strong": 3.0, "medium": 2.0, "weak": 1.0}
KEYWORD_WEIGHT = 2.0
TOP_CANDIDATES = 3

_ASCII = re.compile(r"[\x00-\x7f]+")
_ASCII_WORD_CHAR = re.compile(r"[a-z0-9]", re.IGNORECASE)
_BOUNDARY = "A-Za-z0-9"
_VOWELS = "aeiou"
_CLAUSE_END = re.compile(r"[，,。;；!！?？\n、：:（）()]|\.(?:\s|$)")
_NEGATION = re.compile(
    r"(?<![是要])(?:并不是|倒不是|也不是|不是|并非|不算是|不算|不属于|不关)"
    r"|(?<![a-z])(?:it'?s not|it is not|isn'?t|is not|not an?|not the|not about)(?![a-z])")
_GAP = "..."  # "…" after NFKC
_CORRECTION = re.compile(r"而是|就是|是|但是|\bbut\b|\bit'?s\b|\bit is\b")


@dataclass(frozen=True)
class Tuning:
    """How sure the classifier must be (configuration: ``ROUTING_CONFIDENCE_THRESHOLD``,
    ``ROUTING_EVIDENCE_FLOOR``, ``ROUTING_MIN_MARGIN``) and how much the township's learned examples may add to a
    category (``ROUTING_LEARNED_CAP``, :mod:`dispatch.learning`).

    ``margin`` is in score points: the best category must lead the runner-up by at least that much. Keep
    ``learned_cap < TIER_WEIGHTS["strong"] + margin``: then no number of examples can route a demand away from a
    strong catalogue term it names (the most they add to another category leaves it short of the margin), which
    is the floor of decision 61."""

    threshold: float = 0.55
    evidence_floor: float = 1.5
    learned_cap: float = 4.0
    margin: float = 1.5


@dataclass(frozen=True)
class Term:
    text: str
    category: str
    weight: float
    ascii: bool


@dataclass(frozen=True)
class Evidence:
    """One term found: its category, weight and whether a negation cancelled it."""

    category: str
    term: str
    weight: float
    negated: bool = False


@dataclass(frozen=True)
class Candidate:
    category: str
    score: float
    confidence: float


@dataclass(frozen=True)
class Classification:
    """``category`` is set only when the top candidate's confidence reaches the threshold and its score leads
    the runner-up's by the margin (``short_margin`` is that margin when it was the margin that failed, for the
    reason). ``candidates`` are the
    best categories that scored (at most three, best first) with their scores and confidences, which the triage
    queue shows the office; ``evidence`` is every term found (negated ones included, marked) and ``learned`` what
    the township's examples added (:mod:`dispatch.learning`), so the case history can say why."""

    category: str | None
    confidence: float
    candidates: tuple[Candidate, ...]
    evidence: tuple[Evidence, ...]
    scores: Mapping[str, float] = field(hash=False)
    learned: tuple[Any, ...] = ()
    short_margin: float | None = None

    @property
    def reason(self) -> str:
        """Why the case went to triage (empty when it was classified)."""
        if self.category:
            return ""
        if not self.candidates:
            return "unclassified: no catalogue term found"
        best = self.candidates[0]
        if self.short_margin is not None and len(self.candidates) > 1:
            runner = self.candidates[1]
            return (f"unclassified: too close to call ({best.category} {best.score:g} against "
                    f"{runner.category} {runner.score:g}, margin under {self.short_margin:g})")
        return f"unclassified: not sure enough ({best.category} {best.confidence:.2f})"

    def explain(self) -> str:
        """One line for the case history: the decision, its confidence, the words (and learned examples) that
        made it, the runners-up and the negated words."""
        head = (f"{self.category} (confidence {self.confidence:.2f})" if self.category
                else self.reason)
        parts = [head]
        top = self.category or (self.candidates[0].category if self.candidates else None)
        words = [f"{e.term}+{e.weight:g}" for e in self.evidence if e.category == top and not e.negated]
        if words:
            parts.append("words: " + " ".join(words))
        learned = [str(item) for item in self.learned]
        if learned:
            parts.append("learned: " + "; ".join(learned))
        others = [f"{c.category} {c.confidence:.2f}" for c in self.candidates if c.category != self.category]
        if others:
            parts.append("other candidates: " + ", ".join(others))
        negated = sorted({e.term for e in self.evidence if e.negated})
        if negated:
            parts.append("negated: " + " ".join(negated))
        return "; ".join(parts)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").casefold()


def _last_word(word: str) -> str:
    """The pattern of a phrase's last word, allowing its simple plural."""
    if len(word) > 1 and word.endswith("y") and word[-2] not in _VOWELS:
        return re.escape(word[:-1]) + "(?:ys?|ies)"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return re.escape(word) + "(?:es)?"
    if word[-1].isalpha():
        return re.escape(word) + "s?"
    return re.escape(word)


@lru_cache(maxsize=8192)
def _word_pattern(term: str) -> re.Pattern:
    *words, last = term.split()
    body = r"\s+".join([*map(re.escape, words), _last_word(last)])
    return re.compile(rf"(?<![{_BOUNDARY}]){body}(?![{_BOUNDARY}])", re.ASCII | re.IGNORECASE)


def _gap_pattern(term: str) -> re.Pattern:
    """停...电: the parts in order, each gap up to three characters of the clause that do not repeat the character
    before the gap (so 停电是停水 does not read as one 停...水 across 停电)."""
    parts = term.split(_GAP)
    body = re.escape(parts[0])
    for before, part in zip(parts, parts[1:]):
        body += rf"[^{re.escape(before[-1:])}，,。;；!！?？\n]{{0,3}}?" + re.escape(part)
    return re.compile(body)


class Lexicon:
    """The compiled terms of a catalogue. Build it with :func:`lexicon` (cached per catalogue content)."""

    def __init__(self, terms: Sequence[Term], categories: Sequence[str]):
        self.terms = tuple(terms)
        self.categories = tuple(categories)
        self._ascii = [(t, _word_pattern(t.text)) for t in self.terms if t.ascii]
        self._gapped = [(t, _gap_pattern(t.text)) for t in self.terms if not t.ascii and _GAP in t.text]
        self._other = [t for t in self.terms if not t.ascii and _GAP not in t.text]

    def occurrences(self, text: str) -> list[tuple[int, int, Term]]:
        """Every occurrence ``(start, end, term)`` of every term in the normalised ``text``."""
        found = []
        for term in self._other:
            start = text.find(term.text)
            while start >= 0:
                found.append((start, start + len(term.text), term))
                start = text.find(term.text, start + 1)
        for term, pattern in (self._ascii + self._gapped) if _ASCII_WORD_CHAR.search(text) else self._gapped:
            found.extend((m.start(), m.end(), term) for m in pattern.finditer(text))
        return found


def _catalogue_terms(categories: Mapping[str, Mapping[str, Any]]) -> tuple[tuple[str, str, float], ...]:
    """``(category, normalised term, weight)`` of a catalogue; a term listed twice in one category keeps its
    highest weight."""
    best: dict[tuple[str, str], float] = {}
    for code, entry in categories.items():
        listed = [(w, KEYWORD_WEIGHT) for w in entry.get("keywords") or ()]
        for tier, words in (entry.get("terms") or {}).items():
            listed.extend((w, TIER_WEIGHTS[tier]) for w in words or ())
        for word, weight in listed:
            key = normalise(str(word)).strip()
            if key:
                best[(code, key)] = max(weight, best.get((code, key), 0.0))
    return tuple((code, key, weight) for (code, key), weight in best.items())


_BY_IDENTITY: dict[int, tuple[Mapping[str, Any], Lexicon]] = {}
_BY_IDENTITY_SIZE = 16


def lexicon(categories: Mapping[str, Mapping[str, Any]]) -> Lexicon:
    """The lexicon of a catalogue (category code -> ``{keywords, terms: {strong, medium, weak}}``), compiled once
    per distinct content: settings are re-read every 30 s and compiling takes milliseconds. The same catalogue
    object is recognised without reading its terms again (normalising two thousand terms cost more than
    classifying), so a catalogue must not be changed in place once classified with: settings are re-read as new
    objects."""
    hit = _BY_IDENTITY.get(id(categories))
    if hit is not None and hit[0] is categories:
        return hit[1]
    lex = _compiled(_catalogue_terms(categories), tuple(categories))
    if len(_BY_IDENTITY) >= _BY_IDENTITY_SIZE:
        _BY_IDENTITY.pop(next(iter(_BY_IDENTITY)))
    _BY_IDENTITY[id(categories)] = (categories, lex)
    return lex


@lru_cache(maxsize=32)
def _compiled(terms: tuple[tuple[str, str, float], ...], categories: tuple[str, ...]) -> Lexicon:
    return Lexicon([Term(key, code, weight, bool(_ASCII.fullmatch(key))) for code, key, weight in terms],
                   categories)


def negated_spans(text: str) -> list[tuple[int, int]]:
    """The scopes of negations in a normalised text (see the module's rules)."""
    spans = []
    for cue in _NEGATION.finditer(text):
        end_match = _CLAUSE_END.search(text, cue.end())
        end = end_match.start() if end_match else len(text)
        correction = _CORRECTION.search(text, cue.end(), end)
        if correction:
            end = correction.start()
        spans.append((cue.end(), end))
    return spans


def find_evidence(text: str, lex: Lexicon) -> list[Evidence]:
    """The terms of ``lex`` found in ``text``: occurrences inside a longer one dropped, negated ones marked; a
    term counts (not negated) if any of its occurrences is outside every negation."""
    norm = normalise(text)
    found = lex.occurrences(norm)
    found.sort(key=lambda o: (o[0], -(o[1] - o[0]), -o[2].weight))
    kept: list[tuple[int, int, Term]] = []
    for start, end, term in found:
        if not any(s <= start and end <= e and (e - s > end - start or other.category == term.category)
                   for s, e, other in kept):
            kept.append((start, end, term))
    negations = negated_spans(norm)
    status: dict[tuple[str, str], bool] = {}
    for start, end, term in kept:
        negated = any(s <= start and end <= e for s, e in negations)
        key = (term.category, term.text)
        status[key] = status.get(key, True) and negated
    weights = {(t.category, t.text): t.weight for _, _, t in kept}
    return [Evidence(cat, word, weights[(cat, word)], negated) for (cat, word), negated in status.items()]


def confidences(scores: Mapping[str, float], floor: float) -> dict[str, float]:
    """Softmax of the positive scores against the pseudo-category "nothing" at ``floor``, each category's weight
    being ``exp(score) - 1`` so that a score near 0 weighs near nothing, as a score of 0 does."""
    positive = {c: s for c, s in scores.items() if s > 0}
    if not positive:
        return {}
    top = max(max(positive.values()), floor)
    weights = {c: math.exp(s - top) - math.exp(-top) for c, s in positive.items()}
    denominator = math.exp(floor - top) + sum(weights.values())
    return {c: w / denominator for c, w in weights.items()}


def decide(scores: Mapping[str, float], tuning: Tuning, evidence: Sequence[Evidence] = (),
           learned: Sequence[Any] = ()) -> Classification:
    """The decision for ``scores``: the top category if its confidence reaches the threshold and its score leads
    the runner-up's by the margin, and the best candidates. Ties are broken by category code so a decision never
    depends on dict order."""
    conf = confidences(scores, tuning.evidence_floor)
    ranked = sorted(conf, key=lambda c: (-scores[c], c))
    candidates = tuple(Candidate(c, round(scores[c], 3), round(conf[c], 3)) for c in ranked[:TOP_CANDIDATES])
    best = candidates[0] if candidates else None
    sure = best is not None and conf[best.category] >= tuning.threshold
    lead = scores[ranked[0]] - (scores[ranked[1]] if len(ranked) > 1 else 0.0) if ranked else 0.0
    clear = lead >= tuning.margin - 1e-9
    chosen = best.category if sure and clear else None
    return Classification(chosen, round(conf[best.category], 3) if best else 0.0, candidates, tuple(evidence),
                          MappingProxyType(dict(scores)), tuple(learned),
                          tuning.margin if sure and not clear else None)


def lexicon_scores(evidence: Sequence[Evidence], categories: Sequence[str]) -> dict[str, float]:
    """Sum of the weights of each category's counted terms; weak terms only where a stronger one counted."""
    scores = {code: 0.0 for code in categories}
    for item in evidence:
        if not item.negated and item.weight > TIER_WEIGHTS["weak"]:
            scores[item.category] += item.weight
    for item in evidence:
        if not item.negated and item.weight <= TIER_WEIGHTS["weak"] and scores[item.category] > 0:
            scores[item.category] += item.weight
    return scores


def classify(text: str, categories: Mapping[str, Mapping[str, Any]], tuning: Tuning = Tuning(),
             model: Any = None) -> Classification:
    """Classify ``text`` against a catalogue (category code -> ``{keywords, terms}``) and, if given, the
    township's learned ``model`` (:class:`dispatch.learning.Model`), whose evidence adds to the catalogue's
    scores, at most ``tuning.learned_cap`` per category. The learned features the result names are those that
    favour the category decided (or the top candidate, for triage), whatever the model itself favours most."""
    lex = lexicon(categories)
    evidence = find_evidence(text, lex)
    scores = lexicon_scores(evidence, lex.categories)
    if model is None:
        return decide(scores, tuning, evidence)
    assessment = model.assess(text, tuning.learned_cap)
    for code, score in assessment.scores.items():
        if code in scores:
            scores[code] += score
    result = decide(scores, tuning, evidence)
    top = result.category or (result.candidates[0].category if result.candidates else None)
    if top is None or not assessment.scores:
        return result
    return replace(result, learned=tuple(assessment.favouring(top)))
