"""Turn a comment's scores into a decision under a site's policy. Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping

from service.moderation.links import link_domains, matches_domain
from service.moderation.wordlists import WordList

from service.comments.models import FLAGGED, PUBLISHED, REJECTED

TOXICITY_ATTRIBUTES = (
    "toxicity",
    "severe_toxicity",
    "obscene",
    "threat",
    "insult",
    "identity_attack",
    "sexual_explicit",
)
SCORE_ATTRIBUTES = TOXICITY_ATTRIBUTES + ("spam",)
PREMODERATION_MODES = ("none", "flagged", "all")
SPAM_SIGNAL_LABELS = {
    "honeypot": "hidden honeypot field filled in",
    "links": "links",
    "shortener": "link through a URL shortener",
    "denied_domain": "link to a denied domain",
    "contact_details": "email address or phone number",
    "promotion": "self-promotion",
    "shouting": "shouting (capital letters)",
    "repetition": "repeated characters",
    "near_duplicates": "same text posted by other authors",
    "author_velocity": "author posting fast",
    "ip_velocity": "many comments from one address",
    "prior_rejections": "author's earlier comments were rejected",
    "new_author": "new author",
    "wording": "wording like spam moderators rejected",
}
# A signal adding at least this much to the spam log-odds is named among the reasons.
SIGNAL_REASON_MIN = 0.5


@dataclass(frozen=True)
class Threshold:
    review_at: float | None = None
    reject_at: float | None = None


# Scores choose what people review; rejection without a person is opt-in, except for blatant spam.
DEFAULT_THRESHOLDS: dict[str, Threshold] = {
    "toxicity": Threshold(review_at=0.8),
    "severe_toxicity": Threshold(review_at=0.5),
    "obscene": Threshold(review_at=0.8),
    "threat": Threshold(review_at=0.5),
    "insult": Threshold(review_at=0.8),
    "identity_attack": Threshold(review_at=0.5),
    "sexual_explicit": Threshold(review_at=0.8),
    "spam": Threshold(review_at=0.5, reject_at=0.95),
}


@lru_cache(maxsize=256)
def compiled_words(words: tuple[str, ...]) -> WordList:
    return WordList(words)


@dataclass(frozen=True)
class PolicyRules:
    thresholds: Mapping[str, Threshold] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    premoderation: str = "flagged"
    banned_words: tuple[str, ...] = ()
    suspect_words: tuple[str, ...] = ()
    #: Hold a new author's first N comments on the site for review (0: off).
    hold_first: int = 0
    #: More links than this are held (None: no limit); denied domains reject; with an allow list, other
    #: domains are held.
    max_links: int | None = None
    allow_domains: tuple[str, ...] = ()
    deny_domains: tuple[str, ...] = ()

    @classmethod
    def from_stored(cls, thresholds: Mapping[str, Mapping], premoderation: str,
                    word_lists: Mapping | None = None) -> "PolicyRules":
        """Build rules from a Policy row's JSON (word lists and the other rules live in `word_lists`)."""
        stored = word_lists or {}
        return cls(
            thresholds={name: Threshold(t.get("review_at"), t.get("reject_at")) for name, t in thresholds.items()},
            premoderation=premoderation,
            banned_words=tuple(stored.get("banned", ())),
            suspect_words=tuple(stored.get("suspect", ())),
            hold_first=int(stored.get("hold_first", 0)),
            max_links=stored.get("max_links"),
            allow_domains=tuple(stored.get("allow_domains", ())),
            deny_domains=tuple(stored.get("deny_domains", ())),
        )

    def word_lists_json(self) -> dict:
        """Word lists and the author and link rules, as stored beside the thresholds."""
        return {"banned": list(self.banned_words), "suspect": list(self.suspect_words), "hold_first": self.hold_first,
                "max_links": self.max_links, "allow_domains": list(self.allow_domains),
                "deny_domains": list(self.deny_domains)}

    def thresholds_json(self) -> dict[str, dict]:
        return {name: {"review_at": t.review_at, "reject_at": t.reject_at} for name, t in self.thresholds.items()}


@dataclass(frozen=True)
class Reason:
    """Why a comment was held or rejected: a score crossing a threshold, or a site rule."""

    code: str
    attribute: str | None = None
    value: float | None = None
    threshold: float | None = None
    level: str | None = None
    start: int | None = None
    end: int | None = None

    @property
    def text(self) -> str:
        if self.code == "score":
            return f"{self.attribute} {self.value:.2f} ≥ {self.level} {self.threshold:.2f}"
        if self.code in ("banned_word", "suspect_word"):
            return f"{self.code.replace('_', ' ')}: {self.attribute}"
        if self.code == "spam_signal":
            return f"spam signal: {SPAM_SIGNAL_LABELS.get(self.attribute, self.attribute)}"
        if self.code == "too_many_links":
            return f"{int(self.value)} links > max {int(self.threshold)}"
        if self.code in ("denied_domain", "unlisted_domain"):
            return f"{self.code.replace('_', ' ')}: {self.attribute}"
        return {
            "premoderation": "pre-moderation holds every comment",
            "new_author": "a new author's first comments are held",
            "author_banned": "author banned on this site",
            "author_suspended": "author suspended on this site",
            "scoring_failed": "the scorers failed on this comment; held for a person to decide",
        }.get(self.code, self.code)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "attribute": self.attribute,
            "value": self.value,
            "threshold": self.threshold,
            "level": self.level,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }


@dataclass(frozen=True)
class Verdict:
    status: str
    reasons: tuple[Reason, ...]


def crossed_thresholds(rules: PolicyRules, scores: Mapping[str, float], level: str) -> list[Reason]:
    """List the scores at or above their `review_at` or `reject_at` threshold, highest first."""
    reasons = []
    for attribute, value in scores.items():
        threshold = getattr(rules.thresholds.get(attribute, Threshold()), level)
        if threshold is not None and value >= threshold:
            reasons.append(Reason("score", attribute, round(value, 4), threshold, level))
    return sorted(reasons, key=lambda r: r.value, reverse=True)


def spam_signal_reasons(contributions: Mapping[str, float], limit: int = 4) -> list[Reason]:
    """The signals that raised the spam score most, for a comment held or rejected as spam."""
    raised = sorted(((v, k) for k, v in contributions.items() if v >= SIGNAL_REASON_MIN), reverse=True)
    return [Reason("spam_signal", name, round(value, 2)) for value, name in raised[:limit]]


def _explained(reasons: list[Reason], spam_contributions: Mapping[str, float]) -> list[Reason]:
    if any(r.attribute == "spam" for r in reasons):
        return reasons + spam_signal_reasons(spam_contributions)
    return reasons


def word_reasons(rules: PolicyRules, text: str | None) -> tuple[list[Reason], list[Reason]]:
    """Banned and suspect words found in the text, with where they are (for highlighting)."""
    if not text:
        return [], []
    found = []
    for code, words in (("banned_word", rules.banned_words), ("suspect_word", rules.suspect_words)):
        found.append([Reason(code, m.word, start=m.start, end=m.end) for m in compiled_words(words).find(text)]
                     if words else [])
    return found[0], found[1]


def link_reasons(rules: PolicyRules, text: str | None) -> tuple[list[Reason], list[Reason]]:
    """Links to denied domains (reject); too many links, or domains off the allow list (review)."""
    domains = link_domains(text) if text else []
    if not domains:
        return [], []
    denied = [Reason("denied_domain", d) for d in dict.fromkeys(domains) if matches_domain(d, rules.deny_domains)]
    review = []
    if rules.max_links is not None and len(domains) > rules.max_links:
        review.append(Reason("too_many_links", value=len(domains), threshold=rules.max_links))
    if rules.allow_domains:
        review += [Reason("unlisted_domain", d) for d in dict.fromkeys(domains)
                   if not matches_domain(d, rules.allow_domains) and not matches_domain(d, rules.deny_domains)]
    return denied, review


def apply_policy(
    rules: PolicyRules, scores: Mapping[str, float], spam_contributions: Mapping[str, float] | None = None,
    text: str | None = None, prior_comments: int | None = None,
) -> Verdict:
    """Decide published, flagged or rejected for one comment's scores; given its text, its words and links;
    given how many comments its author had published before, the new-author rule."""
    contributions = spam_contributions or {}
    banned, suspect = word_reasons(rules, text)
    denied_links, held_links = link_reasons(rules, text)
    if rules.hold_first and prior_comments is not None and prior_comments < rules.hold_first:
        suspect = suspect + [Reason("new_author")]
    suspect = suspect + held_links
    rejecting = banned + denied_links + crossed_thresholds(rules, scores, "reject_at")
    if rejecting:
        return Verdict(REJECTED, tuple(_explained(rejecting, contributions)))
    reviewing = suspect + _explained(crossed_thresholds(rules, scores, "review_at"), contributions)
    if rules.premoderation == "all":
        return Verdict(FLAGGED, (Reason("premoderation"), *reviewing))
    if reviewing and rules.premoderation == "flagged":
        return Verdict(FLAGGED, tuple(reviewing))
    # With pre-moderation off, crossed review thresholds are kept as reasons for post-moderation.
    return Verdict(PUBLISHED, tuple(reviewing))


def restrict(verdict: Verdict, restriction: str | None) -> Verdict:
    """A banned author's comments are rejected; a suspended author's are held instead of published."""
    if restriction == "ban" and verdict.status != REJECTED:
        return Verdict(REJECTED, (Reason("author_banned"), *verdict.reasons))
    if restriction == "suspend" and verdict.status == PUBLISHED:
        return Verdict(FLAGGED, (Reason("author_suspended"), *verdict.reasons))
    return verdict
