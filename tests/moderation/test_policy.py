"""apply_policy: which scores hold, reject or publish a comment, and the reasons it gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.comments.models import FLAGGED, PUBLISHED, REJECTED
from service.moderation.policy import (
    DEFAULT_THRESHOLDS,
    SCORE_ATTRIBUTES,
    PolicyRules,
    Threshold,
    apply_policy,
)

SEVERITY = {PUBLISHED: 0, FLAGGED: 1, REJECTED: 2}
scores_strategy = st.dictionaries(st.sampled_from(SCORE_ATTRIBUTES), st.floats(0, 1), min_size=1)
modes = st.sampled_from(["none", "flagged", "all"])


def test_clean_scores_publish_with_no_reasons():
    verdict = apply_policy(PolicyRules(), {"toxicity": 0.02, "insult": 0.01, "spam": 0.0})
    assert (verdict.status, verdict.reasons) == (PUBLISHED, ())


def test_toxicity_over_review_threshold_is_flagged_with_readable_reason():
    verdict = apply_policy(PolicyRules(), {"toxicity": 0.93, "insult": 0.85, "spam": 0.0})

    assert verdict.status == FLAGGED
    assert [r.text for r in verdict.reasons] == ["toxicity 0.93 ≥ review_at 0.80", "insult 0.85 ≥ review_at 0.80"]


def test_toxicity_never_rejects_by_default_but_blatant_spam_does():
    assert apply_policy(PolicyRules(), {"toxicity": 1.0, "severe_toxicity": 1.0}).status == FLAGGED
    verdict = apply_policy(PolicyRules(), {"spam": 0.99})
    assert verdict.status == REJECTED
    assert verdict.reasons[0].text == "spam 0.99 ≥ reject_at 0.95"


def test_site_opting_into_rejection_rejects_above_reject_at():
    rules = PolicyRules(thresholds={**DEFAULT_THRESHOLDS, "threat": Threshold(review_at=0.3, reject_at=0.9)})
    assert apply_policy(rules, {"threat": 0.95}).status == REJECTED
    assert apply_policy(rules, {"threat": 0.5}).status == FLAGGED


def test_premoderation_all_holds_even_clean_comments():
    verdict = apply_policy(PolicyRules(premoderation="all"), {"toxicity": 0.0})
    assert verdict.status == FLAGGED
    assert verdict.reasons[0].text == "pre-moderation holds every comment"


def test_premoderation_none_publishes_but_keeps_the_reasons():
    verdict = apply_policy(PolicyRules(premoderation="none"), {"toxicity": 0.9})
    assert verdict.status == PUBLISHED
    assert [r.attribute for r in verdict.reasons] == ["toxicity"]


def test_score_exactly_at_threshold_counts_as_crossing():
    assert apply_policy(PolicyRules(), {"toxicity": 0.8}).status == FLAGGED


def test_unknown_attribute_is_ignored():
    assert apply_policy(PolicyRules(), {"sarcasm": 1.0}).status == PUBLISHED


def test_rules_survive_the_stored_json_round_trip():
    rules = PolicyRules(premoderation="all")
    assert PolicyRules.from_stored(rules.thresholds_json(), "all") == rules


@given(scores_strategy, modes, st.sampled_from(SCORE_ATTRIBUTES), st.floats(0, 1))
def test_raising_a_score_never_makes_the_decision_milder(scores, mode, attribute, bump):
    rules = PolicyRules(premoderation=mode)
    before = apply_policy(rules, scores).status
    raised = {**scores, attribute: max(scores.get(attribute, 0.0), bump)}
    assert SEVERITY[apply_policy(rules, raised).status] >= SEVERITY[before]


@given(scores_strategy, modes)
def test_every_score_reason_names_a_crossed_threshold(scores, mode):
    rules = PolicyRules(premoderation=mode)
    for reason in apply_policy(rules, scores).reasons:
        if reason.code == "score":
            assert scores[reason.attribute] >= getattr(rules.thresholds[reason.attribute], reason.level)


@given(scores_strategy, modes)
def test_held_or_rejected_comments_always_say_why(scores, mode):
    verdict = apply_policy(PolicyRules(premoderation=mode), scores)
    if verdict.status != PUBLISHED:
        assert verdict.reasons


def test_a_banned_authors_comment_is_rejected_and_a_suspended_ones_held():
    from service.moderation.policy import restrict

    clean = apply_policy(PolicyRules(), {"toxicity": 0.01})
    assert restrict(clean, None) == clean
    banned = restrict(clean, "ban")
    assert (banned.status, banned.reasons[0].text) == (REJECTED, "author banned on this site")
    suspended = restrict(clean, "suspend")
    assert (suspended.status, suspended.reasons[0].text) == (FLAGGED, "author suspended on this site")
    assert restrict(apply_policy(PolicyRules(), {"spam": 0.99}), "suspend").status == REJECTED


def test_banned_words_reject_and_suspect_words_hold_with_where_they_are():
    rules = PolicyRules(banned_words=("idiot",), suspect_words=("stupid",))
    text = "You 1d10t, that is stup1d"

    rejected = apply_policy(rules, {"toxicity": 0.1}, text=text)
    held = apply_policy(rules, {"toxicity": 0.1}, text="that is stup1d")

    [banned] = rejected.reasons
    assert rejected.status == REJECTED
    assert (banned.text, text[banned.start:banned.end]) == ("banned word: idiot", "1d10t")
    [suspect] = held.reasons
    assert held.status == FLAGGED
    assert (suspect.text, "that is stup1d"[suspect.start:suspect.end]) == ("suspect word: stupid", "stup1d")
    assert apply_policy(rules, {"toxicity": 0.1}, text="A Scunthorpe idiotic plan").status == PUBLISHED


def test_word_lists_survive_the_stored_json_round_trip():
    rules = PolicyRules(banned_words=("a",), suspect_words=("b", "c"))
    assert PolicyRules.from_stored(rules.thresholds_json(), "flagged", rules.word_lists_json()) == rules


def test_link_rules_reject_denied_domains_and_hold_too_many_or_unlisted_links():
    rules = PolicyRules(max_links=1, allow_domains=("news.example",), deny_domains=("casino.example",))

    denied = apply_policy(rules, {}, text="win at https://www.play.casino.example/x")
    many = apply_policy(rules, {}, text="https://news.example/a and https://news.example/b")
    unlisted = apply_policy(rules, {}, text="see https://other.example")
    fine = apply_policy(rules, {}, text="see https://sub.news.example/story")

    assert (denied.status, denied.reasons[0].text) == (REJECTED, "denied domain: play.casino.example")
    assert (many.status, many.reasons[0].text) == (FLAGGED, "2 links > max 1")
    assert (unlisted.status, unlisted.reasons[0].text) == (FLAGGED, "unlisted domain: other.example")
    assert fine.status == PUBLISHED


def test_a_new_authors_first_comments_are_held():
    rules = PolicyRules(hold_first=2)
    assert apply_policy(rules, {}, text="hello", prior_comments=1).status == FLAGGED
    assert apply_policy(rules, {}, text="hello", prior_comments=2).status == PUBLISHED
    assert apply_policy(PolicyRules(), {}, text="hello", prior_comments=0).status == PUBLISHED


def test_all_rules_survive_the_stored_json_round_trip():
    rules = PolicyRules(banned_words=("a",), hold_first=3, max_links=2, allow_domains=("x.example",),
                        deny_domains=("y.example",))
    assert PolicyRules.from_stored(rules.thresholds_json(), "flagged", rules.word_lists_json()) == rules
