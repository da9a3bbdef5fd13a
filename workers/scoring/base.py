"""The scorer interface: many texts in, one dict of scores per text out, in one call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


@dataclass(frozen=True)
class ScoringInput:
    body: str
    honeypot_filled: bool = False


class Scorer(Protocol):
    backend: str
    model_version: str
    fallback_reason: str | None

    def score_batch(self, items: Sequence[ScoringInput]) -> list[dict[str, float]]:
        """Score every item in one model call; results in input order."""
        ...

    @property
    def source(self) -> str:
        ...
