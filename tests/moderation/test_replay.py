"""What-if replay gives exact figures on a constructed history."""

from __future__ import annotations

from service.moderation.policy import DEFAULT_THRESHOLDS, PolicyRules, Threshold
from service.moderation.replay import build_history, replay

# (id, scores, moderator's last word)
HISTORY = [
    ("c1", {"toxicity": 0.95}, "rejected"),   # held now; a moderator rejected it
    ("c2", {"toxicity": 0.85}, "published"),  # held now; a moderator approved it
    ("c3", {"toxicity": 0.75}, "rejected"),   # published now; a moderator took it down
    ("c4", {"toxicity": 0.10}, None),
    ("c5", {"toxicity": 0.72, "spam": 0.2}, None),
    ("c6", {"spam": 0.97}, None),             # rejected as spam
    ("c7", None, None),                       # never scored (no scores at all)
]


def with_toxicity(review_at, reject_at=None):
    return PolicyRules(thresholds={**DEFAULT_THRESHOLDS, "toxicity": Threshold(review_at, reject_at)})


def test_the_current_policy_replayed_on_itself_changes_nothing():
    result = replay(PolicyRules(), PolicyRules(), build_history(HISTORY))
    assert result.outcomes == {"published": 4, "flagged": 2, "rejected": 1}
    assert result.changed == 0
    # Held or rejected vs moderators' rejections: c1 (tp), c2 (fp), c3 (fn).
    assert (result.moderated, result.precision, result.recall, result.f1) == (3, 0.5, 0.5, 0.5)


def test_lowering_the_review_threshold_holds_more_and_finds_the_missed_rejection():
    result = replay(with_toxicity(0.7), PolicyRules(), build_history(HISTORY))
    assert result.outcomes == {"published": 2, "flagged": 4, "rejected": 1}
    assert result.changed == 2
    assert {(c["id"], c["from"], c["to"]) for c in result.changed_sample} == {
        ("c3", "published", "flagged"), ("c5", "published", "flagged")}
    # c1 tp, c2 fp, c3 tp: precision 2/3, recall 1.
    assert (result.precision, result.recall, result.f1) == (0.6667, 1.0, 0.8)


def test_automatic_rejection_and_premoderation_modes():
    assert replay(with_toxicity(0.8, 0.9), PolicyRules(), build_history(HISTORY)).outcomes == {
        "published": 4, "flagged": 1, "rejected": 2}
    assert replay(PolicyRules(premoderation="all"), PolicyRules(), build_history(HISTORY)).outcomes == {
        "published": 0, "flagged": 6, "rejected": 1}
    assert replay(PolicyRules(premoderation="none"), PolicyRules(), build_history(HISTORY)).outcomes == {
        "published": 6, "flagged": 0, "rejected": 1}


def test_no_moderator_decisions_means_no_agreement_figures():
    result = replay(PolicyRules(), PolicyRules(), build_history([("x", {"toxicity": 0.9}, None)]))
    assert (result.moderated, result.precision, result.recall, result.f1) == (0, None, None, None)


def test_history_from_the_database_takes_each_moderators_last_word(client, db_session, site):
    from service.accounts.operations import create_user
    from service.comments.models import Comment
    from service.moderation.operations import moderate
    from service.moderation.replay import load_history

    moderator = create_user(db_session, "replay@news.example", "long enough password", "admin")
    ids = []
    for body, toxicity in (("one", 0.9), ("two", 0.85), ("three", 0.1), ("four", 0.5)):
        response = client.post("/api/v1/comments", json={
            "site": site.public_key, "article": {"id": "r"}, "author": {"name": "R"}, "body": body})
        comment = db_session.get(Comment, response.get_json()["id"])
        comment.status, comment.scores = ("flagged" if toxicity >= 0.8 else "published"), {"toxicity": toxicity}
        ids.append(comment.id)
    db_session.get(Comment, ids[3]).status = "pending"
    db_session.flush()
    moderate(db_session, db_session.get(Comment, ids[0]), "reject", moderator, reason="hate")
    moderate(db_session, db_session.get(Comment, ids[1]), "approve", moderator)
    moderate(db_session, db_session.get(Comment, ids[1]), "reject", moderator, expected_status="published")
    db_session.flush()

    history = load_history(db_session, site.id)

    verdicts = dict(zip(history.ids, zip(history.moderated.tolist(), history.moderator_rejected.tolist())))
    assert verdicts == {ids[0]: (True, True), ids[1]: (True, True), ids[2]: (False, False)}
