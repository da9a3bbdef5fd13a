"""Saving policy versions, and describing what changed between two."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.accounts.models import User
from service.moderation.policy import SCORE_ATTRIBUTES, PolicyRules
from service.sites.models import Policy
from service.sites.operations import current_policy


def rules_of(policy: Policy) -> PolicyRules:
    return PolicyRules.from_stored(policy.thresholds, policy.premoderation, policy.word_lists)


def _level(value: float | None) -> str:
    return "off" if value is None else f"{value:.2f}"


def policy_diff(old: PolicyRules, new: PolicyRules) -> list[str]:
    """Readable lines such as 'toxicity review_at 0.80 → 0.70' or 'banned words + idiot'."""
    lines = []
    for name in SCORE_ATTRIBUTES:
        before, after = old.thresholds.get(name), new.thresholds.get(name)
        for level in ("review_at", "reject_at"):
            a, b = getattr(before, level, None), getattr(after, level, None)
            if a != b:
                lines.append(f"{name} {level} {_level(a)} → {_level(b)}")
    if old.premoderation != new.premoderation:
        lines.append(f"pre-moderation {old.premoderation} → {new.premoderation}")
    for label, a, b in (("hold first comments of new authors", old.hold_first, new.hold_first),
                        ("max links", old.max_links, new.max_links)):
        if a != b:
            lines.append(f"{label} {a if a is not None else 'off'} → {b if b is not None else 'off'}")
    for label, a, b in (("banned words", old.banned_words, new.banned_words),
                        ("suspect words", old.suspect_words, new.suspect_words),
                        ("allowed domains", old.allow_domains, new.allow_domains),
                        ("denied domains", old.deny_domains, new.deny_domains)):
        added, removed = sorted(set(b) - set(a)), sorted(set(a) - set(b))
        if added:
            lines.append(f"{label} + {', '.join(added)}")
        if removed:
            lines.append(f"{label} − {', '.join(removed)}")
    return lines


def save_policy(session: Session, site_id: int, rules: PolicyRules, author: User) -> tuple[Policy, list[str]]:
    """Write the rules as the site's next version; return it and the diff against the previous one."""
    previous = current_policy(session, site_id)
    diff = policy_diff(rules_of(previous), rules)
    policy = Policy(site_id=site_id, version=previous.version + 1, thresholds=rules.thresholds_json(),
                    premoderation=rules.premoderation, word_lists=rules.word_lists_json(), created_by=author.email)
    session.add(policy)
    session.flush()
    return policy, diff
