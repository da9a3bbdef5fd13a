"""Spam: signals from text and traffic, the online model, and learning from moderators' labels."""

from __future__ import annotations

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from service.comments.models import Comment, Report
from service.comments.operations import submit_comment
from service.comments.schemas import CommentIn
from service.moderation.policy import PolicyRules, apply_policy
from service.spam.models import GLOBAL_SCOPE, SpamModelState, site_scope
from tests.conftest import REDIS_URL
from workers.scoring.base import ScoringInput
from workers.scoring.spam import model
from workers.scoring.spam.learning import learn_from_label
from workers.scoring.spam.scorer import LearnedSpamScorer
from workers.scoring.spam.signals import SIGNAL_NAMES, TrafficContext, TrafficSignals, text_signals
from workers.scoring.spam.store import CachedSpamModels

SPAM = "Check out my channel for FREE followers http://bit.ly/abc123 subscribe now!!!!"


class Models:
    def __init__(self):
        self.states = {GLOBAL_SCOPE: model.OnlineLogit.with_priors()}

    def for_scopes(self, scopes):
        return {s: (0, self.states.setdefault(s, model.OnlineLogit.empty())) for s in scopes}


def spam_score(scorer, models, body, **fields):
    return scorer.score_batch([ScoringInput(body, site_id=1, **fields)], models)[0]


def test_text_signals_read_links_shorteners_promotion_and_contacts():
    signals = text_signals(SPAM + " mail me: deals@spam.example", honeypot_filled=False)
    assert signals["links"] > 0 and signals["shortener"] == 1.0
    assert signals["promotion"] > 0 and signals["contact_details"] == 1.0
    assert signals["repetition"] > 0
    quiet = text_signals("I think the minister is wrong about the budget.", honeypot_filled=False)
    assert all(value == 0.0 for value in quiet.values())


def test_shouting_needs_enough_letters():
    assert text_signals("WOW", False)["shouting"] == 0.0
    assert text_signals("THIS IS THE BEST ARTICLE I HAVE EVER READ", False)["shouting"] == 1.0


def test_denied_domain_matches_the_domain_and_its_subdomains():
    signals = text_signals("see https://shop.casino.example/x", False, frozenset({"casino.example"}))
    assert signals["denied_domain"] == 1.0


@given(st.text(max_size=300), st.booleans())
def test_every_signal_stays_in_zero_to_one(body, honeypot):
    assert all(0.0 <= v <= 1.0 for v in text_signals(body, honeypot).values())


@pytest.fixture
def traffic():
    client = redis.Redis.from_url(REDIS_URL)
    signals = TrafficSignals(client, prefix="test:spam")
    yield signals
    for key in client.scan_iter("test:spam:*"):
        client.delete(key)
    client.close()


def test_same_text_from_other_authors_counts_as_duplicates(traffic):
    def post(author, body, at):
        return traffic.observe_batch([TrafficContext(1, f"{author}{at}", author, None, body, at)])[0]

    assert post("a", "Buy cheap pills at pills.example", 100)["near_duplicates"] == 0.0
    assert post("a", "Buy cheap pills at pills.example", 101)["near_duplicates"] == 0.0
    # Case, digits and punctuation changes still match; the window forgets old copies.
    assert post("b", "BUY cheap pills at pills.example!!! 2", 102)["near_duplicates"] == pytest.approx(0.2)
    assert post("c", "buy cheap pills at pills.example", 103)["near_duplicates"] == pytest.approx(0.4)
    assert post("d", "buy cheap pills at pills.example", 103 + 7200)["near_duplicates"] == 0.0


def test_posting_fast_raises_author_velocity(traffic):
    contexts = [TrafficContext(1, f"c{n}", "fast", "10.0.0.9", f"comment {n}", 1000 + n) for n in range(10)]
    results = traffic.observe_batch(contexts)
    assert results[2]["author_velocity"] == 0.0
    assert results[-1]["author_velocity"] == 1.0


def test_near_duplicates_stop_at_five_other_authors(traffic):
    def post(author, at):
        return traffic.observe_batch([TrafficContext(1, f"{author}{at}", author, None, "same text", at)])[0]

    signals = [post(author, 100 + n)["near_duplicates"] for n, author in enumerate("abcdefg")]
    assert signals == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    assert post("c", 120)["near_duplicates"] == 1.0  # an author already among the copies is not counted


def test_address_velocity_counts_a_busy_window(traffic):
    # One address (a proxy, say) with many authors: counted in Redis, not fetched back member by member.
    contexts = [TrafficContext(1, f"p{n}", f"author{n}", "10.0.0.7", f"comment {n}", 1000 + n / 100)
                for n in range(3000)]
    results = [signal for start in range(0, 3000, 500) for signal in traffic.observe_batch(contexts[start:start + 500])]
    assert [r["ip_velocity"] for r in results[4:7]] == pytest.approx([0.0, 0.1, 0.2])
    assert results[-1]["ip_velocity"] == 1.0 and results[-1]["author_velocity"] == 0.0
    assert traffic.client.zcard("test:spam:1:ip:10.0.0.7") == 3000
    later = traffic.observe_batch([TrafficContext(1, "late", "x", "10.0.0.7", "later", 1000 + 30 + 600 + 1)])[0]
    assert later["ip_velocity"] == 0.0  # the window forgot the burst


def test_cold_start_scores_from_signals_alone():
    scorer, models = LearnedSpamScorer(None), Models()
    clean = spam_score(scorer, models, "Good reporting, thank you.", prior_published=2)
    honeypot = spam_score(scorer, models, "Good reporting, thank you.", honeypot_filled=True)
    promo = spam_score(scorer, models, SPAM)

    assert clean.score < 0.1
    assert honeypot.score > 0.99
    assert promo.score > 0.5 > clean.score
    verdict = apply_policy(PolicyRules(), {"spam": honeypot.score}, honeypot.contributions)
    assert verdict.status == "rejected"
    assert "spam signal: hidden honeypot field filled in" in [r.text for r in verdict.reasons]


def test_labels_teach_the_site_model():
    scorer, models = LearnedSpamScorer(None), Models()
    probe = "Cheap replica watches, best prices on the web"
    before = spam_score(scorer, models, probe).score
    for text in ["Cheap replica handbags, best prices", "Replica watches cheap, best offers online",
                 "best prices on replica watches and bags"]:
        result = spam_score(scorer, models, text)
        row = scorer.featurizer.transform([text], [result.signals])
        state = models.for_scopes([GLOBAL_SCOPE, site_scope(1)])
        model.learn(row, True, state[GLOBAL_SCOPE][1], state[site_scope(1)][1])
    after = spam_score(scorer, models, probe)

    assert after.score > before + 0.2
    assert after.contributions["wording"] > 0.5


def test_model_state_round_trips_through_bytes():
    state = model.OnlineLogit.with_priors()
    state.weights[5] = 1.25
    restored = model.OnlineLogit.from_bytes(state.to_bytes())
    assert (restored.weights == state.weights).all()
    assert (restored.squared_gradients == state.squared_gradients).all()
    assert len(SIGNAL_NAMES) == model.N_SIGNALS


def _scored_comment(db_session, site, body):
    data = CommentIn.model_validate({"site": site.public_key, "article": {"id": "a"},
                                     "author": {"name": "S"}, "body": body})
    comment, _ = submit_comment(db_session, site, data, idempotency_key=None, remote_addr=None)
    comment.signals = text_signals(body, False)
    db_session.flush()
    return comment


def _versions(db_session) -> dict[str, int]:
    return {r.scope: r.version for r in db_session.scalars(select(SpamModelState))}


def test_a_label_is_learned_once_and_bumps_both_model_versions(db_session, site):
    comment = _scored_comment(db_session, site, SPAM)
    featurizer = model.Featurizer()
    global_before = _versions(db_session).get(GLOBAL_SCOPE, 0)

    assert learn_from_label(db_session, comment.id, True, featurizer) is True
    assert learn_from_label(db_session, comment.id, True, featurizer) is False

    versions = _versions(db_session)
    assert (versions[GLOBAL_SCOPE], versions[site_scope(site.id)]) == (global_before + 1, 1)
    assert db_session.get(Comment, comment.id).learned_label == "spam"
    # A moderator changing their mind is a new label, learned once more.
    assert learn_from_label(db_session, comment.id, False, featurizer) is True


def test_workers_reload_a_model_only_when_its_version_changes(db_session, site):
    cache = CachedSpamModels()
    scopes = [GLOBAL_SCOPE, site_scope(site.id)]
    first = cache.load(db_session, scopes)
    assert cache.load(db_session, scopes)[GLOBAL_SCOPE][1] is first[GLOBAL_SCOPE][1]
    global_before = first[GLOBAL_SCOPE][0]

    learn_from_label(db_session, _scored_comment(db_session, site, SPAM).id, True, model.Featurizer())
    reloaded = cache.load(db_session, scopes)

    assert reloaded[GLOBAL_SCOPE][0] == global_before + 1
    assert reloaded[GLOBAL_SCOPE][1] is not first[GLOBAL_SCOPE][1]
    assert not (reloaded[site_scope(site.id)][1].weights == 0).all()


def test_a_spam_label_is_paired_with_a_published_unreported_comment_as_ham(db_session, site):
    ham = _scored_comment(db_session, site, "A measured take on the council budget.")
    ham.status = "published"
    reported = _scored_comment(db_session, site, "Published but reported by readers.")
    reported.status = "published"
    db_session.add(Report(comment_id=reported.id, reason="abuse"))
    spam = _scored_comment(db_session, site, SPAM)
    db_session.flush()

    learn_from_label(db_session, spam.id, True, model.Featurizer())

    assert (spam.learned_label, ham.learned_label, reported.learned_label) == ("spam", "ham", None)


def test_spam_labels_alone_do_not_push_ordinary_comments_into_review():
    scorer, models = LearnedSpamScorer(None), Models()
    ordinary = ["Interesting analysis, thanks for writing it.", "I disagree with the mayor on this one."]
    for text in ["Make money fast with crypto signals on telegram", "Crypto signals earn money daily, telegram",
                 "Earn from home trading crypto, telegram group", "Telegram crypto group: money every day"]:
        result = spam_score(scorer, models, text)
        state = models.for_scopes([GLOBAL_SCOPE, site_scope(1)])
        model.learn(scorer.featurizer.transform([text], [result.signals]), True,
                    state[GLOBAL_SCOPE][1], state[site_scope(1)][1])
    assert all(spam_score(scorer, models, text, prior_published=1).score < 0.25 for text in ordinary)
