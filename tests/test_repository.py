"""The domain operations against both databases: Postgres (production) and SQLite (the embedded default)."""

from __future__ import annotations

from functools import partial

import pytest
from sqlalchemy import select

from service.audit.models import StatusChange
from service.comments.models import FLAGGED, PENDING, PUBLISHED, Comment
from service.comments.operations import (
    SubmissionError,
    comment_row,
    insert_comments,
    parent_article_id,
    published_comments,
    submit_comment,
)
from service.comments.schemas import CommentIn
from service.db import make_engine, make_session_factory
from service.migrations import upgrade
from service.moderation.operations import ScoredComment, record_automatic_decision, record_automatic_decisions
from service.moderation.policy import PolicyRules, apply_policy
from service.sites.operations import create_site, current_policy
from workers.tasks.sweeper import claim_stale_pending


@pytest.fixture(params=["postgres", "sqlite"])
def session(request, tmp_path):
    if request.param == "postgres":
        yield request.getfixturevalue("db_session")
        return
    url = f"sqlite:///{tmp_path / 'repo.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as sqlite_session:
        yield sqlite_session
    engine.dispose()


def new_comment(session, site, body="hello", key=None, parent_id=None):
    data = CommentIn.model_validate(
        {"site": site.public_key, "article": {"id": "a1"}, "author": {"name": "Ada"}, "body": body,
         "parent_id": parent_id}
    )
    comment, created = submit_comment(session, site, data, idempotency_key=key, remote_addr="127.0.0.1")
    session.flush()
    return comment, created


def decide(session, comment, scores):
    policy = current_policy(session, comment.site_id)
    verdict = apply_policy(PolicyRules.from_stored(policy.thresholds, policy.premoderation), scores)
    return record_automatic_decision(session, ScoredComment(comment.id, scores, {"toxicity": "t/1"}), verdict, policy)


def test_site_starts_with_default_policy_version_one(session):
    site = create_site(session, "S", ["https://s.example/"])
    policy = current_policy(session, site.id)
    assert policy.version == 1
    assert policy.premoderation == "flagged"
    assert site.origin_urls == ["https://s.example"]


def test_automatic_decision_is_written_once_with_its_audit_record(session):
    site = create_site(session, "S", ["https://s.example"])
    comment, _ = new_comment(session, site)

    assert decide(session, comment, {"toxicity": 0.95}) is True
    assert decide(session, comment, {"toxicity": 0.01}) is False

    session.refresh(comment)
    assert comment.status == FLAGGED
    assert comment.reasons[0]["text"] == "toxicity 0.95 ≥ review_at 0.80"
    changes = session.scalars(select(StatusChange).where(StatusChange.comment_id == comment.id)).all()
    assert [(c.actor, c.from_status, c.to_status, c.policy_version) for c in changes] == [
        ("auto", PENDING, FLAGGED, 1)
    ]


def test_a_batch_of_decisions_is_written_in_one_statement_and_never_twice(session):
    site = create_site(session, "S", ["https://s.example"])
    comments = [new_comment(session, site, body=f"c{n}")[0] for n in range(3)]
    policy = current_policy(session, site.id)
    rules = PolicyRules.from_stored(policy.thresholds, policy.premoderation)

    def batch(*scores):
        return [(ScoredComment(c.id, {"toxicity": s}, {"toxicity": "t/1"}), apply_policy(rules, {"toxicity": s}),
                 policy) for c, s in zip(comments, scores, strict=True)]

    assert decide(session, comments[1], {"toxicity": 0.1}) is True  # decided before the batch arrives
    decided = record_automatic_decisions(session, batch(0.95, 0.95, 0.1))
    session.flush()

    assert decided == [comments[0].id, comments[2].id]
    for comment in comments:
        session.refresh(comment)
    assert [c.status for c in comments] == [FLAGGED, PUBLISHED, PUBLISHED]
    assert comments[0].max_score == 0.95 and comments[0].reasons[0]["attribute"] == "toxicity"
    changes = session.scalars(select(StatusChange).where(StatusChange.comment_id.in_([c.id for c in comments]))).all()
    assert sorted((c.comment_id, c.to_status) for c in changes) == sorted(
        [(comments[0].id, FLAGGED), (comments[1].id, PUBLISHED), (comments[2].id, PUBLISHED)])
    assert record_automatic_decisions(session, batch(0.1, 0.1, 0.1)) == []


def test_idempotency_key_replays_the_stored_comment(session):
    site = create_site(session, "S", ["https://s.example"])
    first, created_first = new_comment(session, site, key="k")
    second, created_second = new_comment(session, site, key="k")
    assert (created_first, created_second) == (True, False)
    assert first.id == second.id


def insert_comment(connection, site, data, article_id, *, remote_addr):
    """The request path's single INSERT: the row checked and built, then inserted; its id."""
    row = comment_row(site, data, article_id, parent_article=partial(parent_article_id, connection),
                      remote_addr=remote_addr)
    insert_comments(connection, [row])
    return row["id"]


def test_the_single_insert_path_stores_what_the_full_path_stores(session):
    site = create_site(session, "S", ["https://s.example"])
    first, _ = new_comment(session, site, body="the article's first comment")
    data = CommentIn.model_validate({"site": site.public_key, "article": {"id": "a1"},
                                     "author": {"name": "Ada", "email": "Ada@Example.org"},
                                     "body": "a reply", "parent_id": first.id})

    comment_id = insert_comment(session.connection(), site, data, first.article_id, remote_addr="10.0.0.1")

    stored = session.get(Comment, comment_id)
    assert (stored.status, stored.parent_id, stored.article_id, stored.author_key, stored.remote_addr) == (
        PENDING, first.id, first.article_id, "email:ada@example.org", "10.0.0.1")
    assert stored.reasons == [] and stored.queued_at is not None
    # Either path keeps the request's hash only under an Idempotency-Key, where it tells a retry apart.
    assert stored.request_hash is None and first.request_hash is None
    other = submit_comment(session, site, CommentIn.model_validate(
        {"site": site.public_key, "article": {"id": "a2"}, "author": {"name": "Bo"}, "body": "elsewhere"}),
        idempotency_key=None, remote_addr=None)[0]
    session.flush()
    with pytest.raises(SubmissionError) as refused:  # a reply must be on its parent's article
        insert_comment(session.connection(), site, data, other.article_id, remote_addr=None)
    assert refused.value.fields == {"parent_id": "no such comment on this article"}
    site.closed = True
    with pytest.raises(SubmissionError) as closed:
        insert_comment(session.connection(), site, data, first.article_id, remote_addr=None)
    assert closed.value.status == 403


def test_rows_inserted_together_are_stored_column_for_column(session):
    site = create_site(session, "S", ["https://s.example"])
    first, _ = new_comment(session, site, body="the article's first comment")
    posts = [{"author": {"name": "Ada", "email": "ada@example.org"}, "body": "50% sure: it's \"quoted\" %s"},
             {"author": {"name": "Bo"}, "body": "a reply", "parent_id": first.id},
             {"author": {"name": "Cy"}, "body": "x" * 5000, "honeypot": "filled"}] * 3
    rows = [comment_row(site, CommentIn.model_validate({"site": site.public_key, "article": {"id": "a1"}, **post}),
                        first.article_id, parent_article=partial(parent_article_id, session.connection()),
                        remote_addr=f"10.0.0.{n}") for n, post in enumerate(posts)]

    # On Postgres: one statement of three rows, each row its own statement in one pipeline (more rows than
    # that one statement may have parameters for psycopg to parse it once), and a lone row.
    insert_comments(session.connection(), rows[:3])
    insert_comments(session.connection(), rows[3:8])
    insert_comments(session.connection(), rows[8:])

    for row in rows:
        stored = session.get(Comment, row["id"])
        assert {key: getattr(stored, key) for key in row} == row
    assert [session.get(Comment, row["id"]).honeypot_filled for row in rows] == [False, False, True] * 3


def test_published_comments_exclude_the_undecided(session):
    site = create_site(session, "S", ["https://s.example"])
    clean, _ = new_comment(session, site, "fine")
    new_comment(session, site, "still pending")
    decide(session, clean, {"toxicity": 0.01})
    session.expire_all()

    assert [c.body for c in published_comments(session, site, "a1")] == ["fine"]
    assert session.get(Comment, clean.id).status == PUBLISHED


def test_sweeper_claims_only_stale_pending_comments(session):
    from datetime import timedelta

    from service.db import utcnow

    site = create_site(session, "S", ["https://s.example"])
    stale, _ = new_comment(session, site, "stale")
    fresh, _ = new_comment(session, site, "fresh")
    decided, _ = new_comment(session, site, "decided")
    decide(session, decided, {"toxicity": 0.0})
    for comment in (stale, decided):
        comment.queued_at = utcnow() - timedelta(minutes=5)
    session.flush()

    assert claim_stale_pending(session, timedelta(seconds=60)) == [stale.id]
    assert claim_stale_pending(session, timedelta(seconds=60)) == []


def test_site_cache_serves_from_memory_until_its_ttl_runs_out(db_session):
    from service.sites.models import SiteOrigin
    from service.sites.operations import SiteCache

    site = create_site(db_session, "Cached", ["https://a.example"])
    cache = SiteCache(ttl=60)
    assert cache.get(db_session, site.public_key).origin_urls == ("https://a.example",)
    db_session.add(SiteOrigin(site_id=site.id, origin="https://b.example"))
    db_session.flush()
    db_session.expire_all()

    assert cache.get(db_session, site.public_key).origin_urls == ("https://a.example",)
    assert SiteCache(ttl=0).get(db_session, site.public_key).origin_urls == ("https://a.example", "https://b.example")
    assert cache.get(db_session, "site_unknown") is None


def test_a_small_batch_fills_up_with_other_pending_comments(session):
    from workers.pipeline import claim_pending

    site = create_site(session, "S", ["https://s.example"])
    comments = [new_comment(session, site, body=f"c{n}")[0] for n in range(4)]
    assert decide(session, comments[3], {"toxicity": 0.1}) is True  # decided: never claimed again
    mine = comments[2].id

    assert [c.id for c in claim_pending(session, [mine])] == [mine]
    filled = claim_pending(session, [mine], fill_to=3)
    assert [c.id for c in filled][0] == mine
    assert {c.id for c in filled} == {comments[0].id, comments[1].id, mine}
    assert len(claim_pending(session, [mine], fill_to=2)) == 2
