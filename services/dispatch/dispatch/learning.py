"""What a township's office teaches the classifier: an incremental naive Bayes over character bigrams of the
demands the office routed by hand, bounded so that a few examples cannot override the catalogue (decision 61).

Every time the office routes a case from triage or re-routes one, the case's text and the category it chose are
a labelled example (one per case: the office's latest decision). :class:`Model` counts, per category, its
examples and how many of them contain each feature; adding and removing an example is O(its features), so the
model is kept up to date example by example, and an example the office undoes is removed the same way.

Features are the distinct character bigrams of the Chinese (non-ASCII) runs of the normalised text (a lone
character counts as itself) and its ASCII words of two letters or more but English function words
(:data:`ENGLISH_STOPWORDS`), from the first :data:`MAX_CHARS` characters, leaving out what a negation covers.

The model is multinomial naive Bayes over those features (each counted once per example), with add-``alpha``
smoothing (:data:`SMOOTHING`) and the categories' shares of the examples as priors; features never seen in the
township's examples are ignored. Its posterior ``P(c | text)`` is turned into points on the catalogue's scale::

    learned(c) = cap * N / (N + HALF_TRUST) * P(c | text)

``cap`` (configuration ``ROUTING_LEARNED_CAP``, default 4: decision 85) bounds what the examples
can add to a category, and ``N / (N + HALF_TRUST)`` grows with the number ``N`` of the township's examples (half
of the cap at :data:`HALF_TRUST` examples). That is the floor of the catalogue: with the cap below a strong
term plus the classifier's margin (:class:`dispatch.classify.Tuning`), whatever the office taught, a demand that
names a strong term of another category is at best too close to call, which goes to triage, never an override;
and a handful of examples moves nothing.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .classify import negated_spans, normalise

SEED_FILES = ("dev.txt", "dev2.txt", "dev3.txt", "dev4.txt")

MAX_CHARS = 300
SMOOTHING = 0.5
HALF_TRUST = 50
DEFAULT_CAP = 4.0
EXPLAINED_FEATURES = 3

_ASCII_WORD = re.compile(r"[a-z][a-z']+")
# English function words: in a few hundred examples they are found in every category by chance and would vote for
# whichever one the seeds happened to put them in (decision 85)
ENGLISH_STOPWORDS = frozenset("""
    a an the is are was were be been being have has had do does did i me my we our us you your he his she her it its
    they them their this that these those there here and or but of to in on at by for from with since about into
    over after before again very so too can could will would should may might must some any every each all both
    no not nor only own same than then just also up down out off
    """.split())
_CJK_RUN = re.compile(r"[^\x00-\x7f\s，,。.;；!！?？、:：()（）\"'“”‘’…-]+")


def features(text: str) -> frozenset[str]:
    """The distinct features of a text (see the module's docstring); what lies in the scope of a negation
    (:func:`dispatch.classify.negated_spans`: 不是停电，是停水) is left out, because it names what the demand is
    not about (decision 85)."""
    norm = normalise(text)[:MAX_CHARS]
    spans = negated_spans(norm)
    if spans:
        chars = list(norm)
        for start, end in spans:
            chars[start:end] = "，" * (end - start)
        norm = "".join(chars)
    found = set(_ASCII_WORD.findall(norm)) - ENGLISH_STOPWORDS
    for run in _CJK_RUN.findall(norm):
        if len(run) == 1:
            found.add(run)
        found.update(run[i:i + 2] for i in range(len(run) - 1))
    return frozenset(found)


@dataclass(frozen=True)
class Learned:
    """One feature's contribution to a category, for the case history and the API."""

    category: str
    feature: str
    examples: int
    weight: float

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "feature": self.feature, "examples": self.examples,
                "weight": self.weight}

    def __str__(self) -> str:
        return f"{self.feature} ({self.examples} example{'s' if self.examples != 1 else ''} of {self.category})"


class Model:
    """Counts of one township's examples. Not thread-safe: one owner (the dispatch worker's cache) updates it."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = defaultdict(dict)  # feature -> category -> examples with it
        self.per_category: dict[str, int] = defaultdict(int)  # examples
        self.tokens: dict[str, int] = defaultdict(int)  # features summed over the category's examples
        self.total = 0

    def add(self, text: str, category: str) -> None:
        self._change(features(text), category, 1)

    def remove(self, text: str, category: str) -> None:
        """Undo one :meth:`add` of the same text and category (nothing happens if the category has none)."""
        self._change(features(text), category, -1)

    def _change(self, feats: frozenset[str], category: str, delta: int) -> None:
        if delta < 0 and self.per_category.get(category, 0) <= 0:
            return
        self.per_category[category] += delta
        self.tokens[category] += delta * len(feats)
        self.total += delta
        for feature in feats:
            row = self.counts[feature]
            count = row.get(category, 0) + delta
            if count > 0:
                row[category] = count
            else:
                row.pop(category, None)
                if not row:
                    del self.counts[feature]
        if self.per_category[category] <= 0:
            del self.per_category[category]
            del self.tokens[category]

    def posterior(self, text: str) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """``P(c | text)`` over the categories with examples, and per category the log-likelihood of each known
        feature (for the explanation); empty when no feature of the text was ever seen."""
        known = [f for f in features(text) if f in self.counts]
        if not known or self.total <= 0:
            return {}, {}
        vocabulary = len(self.counts)
        logs: dict[str, float] = {}
        parts: dict[str, dict[str, float]] = {}
        for category, examples in self.per_category.items():
            denominator = self.tokens[category] + SMOOTHING * vocabulary
            each = {f: math.log((self.counts[f].get(category, 0) + SMOOTHING) / denominator) for f in known}
            logs[category] = math.log(examples / self.total) + sum(each.values())
            parts[category] = each
        top = max(logs.values())
        weights = {c: math.exp(v - top) for c, v in logs.items()}
        z = sum(weights.values())
        return {c: w / z for c, w in weights.items()}, parts

    def assess(self, text: str, cap: float = DEFAULT_CAP) -> "Assessment":
        """Learned points per category (see the module's docstring), with what is needed to explain any of them."""
        if cap <= 0:
            return Assessment(self, {}, {}, {})
        post, parts = self.posterior(text)
        if not post:
            return Assessment(self, {}, {}, {})
        trust = cap * self.total / (self.total + HALF_TRUST)
        scores = {c: trust * p for c, p in post.items() if trust * p >= 0.01}
        return Assessment(self, scores, post, parts)

    def evidence(self, text: str, cap: float = DEFAULT_CAP) -> tuple[dict[str, float], list[Learned]]:
        """Learned points per category and, for the category the examples favour most, the features that favour
        it most over the others (at most :data:`EXPLAINED_FEATURES`)."""
        assessment = self.assess(text, cap)
        if not assessment.posterior:
            return {}, []
        best = max(assessment.posterior, key=lambda c: (assessment.posterior[c], c))
        return assessment.scores, assessment.favouring(best)

    def summary(self, top: int = 10) -> list[dict[str, Any]]:
        """Per category: its examples and the features most tied to it (seen in at least two of its examples
        and mostly in it), for the office to see what was learned."""
        tied: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for feature, row in self.counts.items():
            total = sum(row.values())
            for category, n in row.items():
                if n >= 2 and n * 2 > total:
                    tied[category].append((n, feature))
        return [{"category": category, "examples": n,
                 "features": [{"feature": f, "examples": c}
                              for c, f in sorted(tied[category], key=lambda t: (-t[0], t[1]))[:top]]}
                for category, n in sorted(self.per_category.items(), key=lambda kv: (-kv[1], kv[0]))]


@dataclass(frozen=True)
class Assessment:
    """What the examples say about one text: ``scores`` (learned points per category), ``posterior`` and the
    per-feature log-likelihoods behind them, so the features favouring whichever category was decided can be
    named (decision 85: the history explains the decision, not the model's own favourite)."""

    model: Model
    scores: Mapping[str, float]
    posterior: Mapping[str, float]
    parts: Mapping[str, Mapping[str, float]]

    def favouring(self, category: str) -> list[Learned]:
        """The features that favour ``category`` most over every other category with examples (at most
        :data:`EXPLAINED_FEATURES`, those seen in two examples or more first); empty if it has no examples."""
        own_parts = self.parts.get(category)
        if not own_parts:
            return []
        favour = []
        for feature, own in own_parts.items():
            others = max((self.parts[c][feature] for c in self.parts if c != category), default=own - 1.0)
            if own > others:
                favour.append(Learned(category, feature, self.model.counts[feature].get(category, 0),
                                      round(own - others, 3)))
        favour.sort(key=lambda item: (item.examples < 2, -item.weight, item.feature))
        return favour[:EXPLAINED_FEATURES]


def seed_examples() -> list[tuple[str, str]]:
    """The labelled demands shipped with dispatch (``data/examples/``: ``category | difficulty | text`` per line),
    every township's first examples before its office teaches it anything (decision 61). Read when a township's
    model is first built, never at import."""
    from importlib import resources

    examples = []
    for name in SEED_FILES:
        text = resources.files("dispatch").joinpath("data", "examples", name).read_text(encoding="utf-8")
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                category, _, demand = (part.strip() for part in line.split("|", 2))
                examples.append((demand, category))
    return examples


def seeded_model(examples: Iterable[tuple[str, str]]) -> Model:
    model = Model()
    for text, category in examples:
        model.add(text, category)
    return model


def combine(lexicon_scores: Mapping[str, float], learned: Mapping[str, float]) -> dict[str, float]:
    """Catalogue scores plus learned ones, over the catalogue's categories only (an example labelled with a
    category the township has since removed teaches nothing)."""
    return {c: s + learned.get(c, 0.0) for c, s in lexicon_scores.items()}
