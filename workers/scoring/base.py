"""The scorer interface: many comments in, one dict of scores per comment out, in one call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence


@dataclass(frozen=True)
class ScoringInput:
    """What the scorers may look at for one comment."""

    body: str
    honeypot_filled: bool = False
    site_id: int = 0
    comment_id: str = ""
    author_key: str = ""
    remote_addr: str | None = None
    at: float = 0.0
    prior_rejected: int = 0
    prior_published: int = 0
    deny_domains: frozenset[str] = field(default_factory=frozenset)
    #: Count the text in the site's traffic windows (velocity, copies): comments yes, bare text checks no.
    observe_traffic: bool = True


class ToxicityScorer(Protocol):
    backend: str
    model_version: str
    fallback_reason: str | None

    def score_batch(self, items: Sequence[ScoringInput]) -> list[dict[str, float]]:
        """Score every item in one model call; results in input order."""
        ...

    @property
    def source(self) -> str:
        ...
