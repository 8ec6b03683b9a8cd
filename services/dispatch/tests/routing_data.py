"""The labelled demands: the development sets shipped as seed examples (``dispatch/data/examples/``, see the
header of ``dev.txt``) and the held-out set (``tests/data/routing/holdout.txt``); used by bench/routing and by
the accuracy tests."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "routing"
SEEDS = Path(__file__).resolve().parents[1] / "dispatch" / "data" / "examples"
SETS = {"dev": SEEDS / "dev.txt", "dev2": SEEDS / "dev2.txt", "dev3": SEEDS / "dev3.txt", "dev4": SEEDS / "dev4.txt",
        "holdout": DATA / "holdout.txt", "holdout2": DATA / "holdout2.txt",
        "holdout3": DATA / "holdout3.txt"}
DIFFICULTIES = ("everyday", "medium", "hard")


@dataclass(frozen=True)
class Demand:
    category: str
    difficulty: str
    text: str
    line: int

    @property
    def english(self) -> bool:
        return all(ord(ch) < 128 for ch in self.text)


def load(path: Path) -> list[Demand]:
    demands = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        category, difficulty, text = (part.strip() for part in line.split("|", 2))
        if difficulty not in DIFFICULTIES or not category or not text:
            raise ValueError(f"{path.name}:{number}: expected 'category | difficulty | text', got {raw!r}")
        demands.append(Demand(category, difficulty, text, number))
    return demands


def load_set(name: str) -> list[Demand]:
    return load(SETS[name])
