"""The dashboard's event stream catches up on what changed while no stream was listening (a page loading,
a stream reconnecting): Redis pub/sub reaches only those listening at the moment."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import pytest

from service.accounts.operations import assign_site, create_user
from service.audit.models import StatusChange
from service.comments.models import Comment
from service.dashboard.views import _moment
from service.sites.operations import create_site
from tests.test_dashboard_pages import PASSWORD


@pytest.fixture
def moderator(client, db_session, site):
    """A moderator of `site`, signed in as the sign-in form does it (the form itself is tested in
    test_dashboard_pages; going through it here too would run into its limit per address)."""
    user = create_user(db_session, "events@news.example", PASSWORD, "moderator")
    assign_site(user, site)
    db_session.commit()
    with client.session_transaction() as session:
        session["user_id"] = user.id
    return client


def posted(client, site_key: str, body: str = "a comment") -> str:
    response = client.application.test_client().post("/api/v1/comments", json={
        "site": site_key, "article": {"id": "events"}, "author": {"name": "E"}, "body": body})
    assert response.status_code == 202
    return response.get_json()["id"]


def flag(db_session, comment_id: str) -> None:
    """What the worker writes for a comment its policy holds."""
    db_session.get(Comment, comment_id).status = "flagged"
    db_session.add(StatusChange(comment_id=comment_id, actor="auto", from_status="pending", to_status="flagged"))
    db_session.commit()


def opening(client, url: str, **headers) -> list[str]:
    """The stream's messages up to its first keep-alive (sent after a second without news): the catch-up,
    if any, comes before it."""
    response = client.get(url, headers=headers, buffered=False)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    messages, text = [], ""
    try:
        for chunk in response.response:
            text += chunk.decode() if isinstance(chunk, bytes) else chunk
            while "\n\n" in text:
                message, text = text.split("\n\n", 1)
                messages.append(message)
                if "keep-alive" in message:
                    return messages
    finally:
        response.close()
    raise AssertionError(f"the stream ended before a keep-alive: {messages}")


def events_in(messages: list[str]) -> list[dict]:
    """Each event message's data, with its event name."""
    events = []
    for message in messages:
        fields = dict(line.split(": ", 1) for line in message.split("\n") if ": " in line and not line.startswith(":"))
        if "data" in fields:
            events.append(json.loads(fields["data"]) | {"event": fields["event"]})
    return events


def test_a_page_gets_what_changed_since_it_was_made(moderator, db_session, site):
    other = create_site(db_session, "Elsewhere", ["https://elsewhere.example"])
    db_session.commit()
    made = time.time()
    held, reported = posted(moderator, site.public_key), posted(moderator, site.public_key, "reported one")
    not_mine = posted(moderator, other.public_key)
    flag(db_session, held)
    flag(db_session, not_mine)
    db_session.get(Comment, reported).status = "published"  # only a published comment can be reported
    db_session.commit()
    report = moderator.application.test_client().post(f"/api/v1/comments/{reported}/reports",
                                                      json={"reason": "spam"})
    assert report.status_code == 202

    events = events_in(opening(moderator, f"/dashboard/events?since={made:.3f}"))

    assert [(e["event"], e["id"], e["status"]) for e in events] == [
        ("comment.flagged", held, "flagged"), ("comment.reported", reported, "published")]
    assert all(e["site"] == site.public_key and "actor" not in e for e in events)


def test_a_moderators_decision_is_caught_up_with_its_actor(moderator, db_session, site):
    made = time.time()
    comment_id = posted(moderator, site.public_key)
    flag(db_session, comment_id)
    page = moderator.get("/dashboard/queue/flagged").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    decided = moderator.post(f"/api/v1/moderation/comments/{comment_id}/decision", json={"action": "reject"},
                             headers={"X-CSRFToken": token})
    assert decided.status_code == 200, decided.get_data(as_text=True)

    events = events_in(opening(moderator, f"/dashboard/events?since={made:.3f}"))

    assert [(e["event"], e["status"], e.get("actor")) for e in events] == [
        ("comment.flagged", "flagged", None), ("comment.decided", "rejected", "events@news.example")]


def test_a_reconnecting_stream_catches_up_from_its_last_message_less_the_margin(moderator, db_session, site):
    comment_id = posted(moderator, site.public_key)
    flag(db_session, comment_id)
    changed = db_session.query(StatusChange).filter_by(comment_id=comment_id).one().created_at.timestamp()

    # The browser sends the id of the last message it had; a change up to two seconds before it is sent again.
    shortly_after = opening(moderator, "/dashboard/events", **{"Last-Event-ID": f"{changed + 1:.3f}"})
    assert [e["id"] for e in events_in(shortly_after)] == [comment_id]
    # Last-Event-ID wins over the page's own moment.
    later = opening(moderator, f"/dashboard/events?since={changed - 60:.3f}", **{"Last-Event-ID": f"{changed + 3:.3f}"})
    assert events_in(later) == []


def test_without_a_moment_only_live_events_come_and_keep_alives_carry_the_moment(moderator, db_session, site):
    flag(db_session, posted(moderator, site.public_key))
    before = time.time()

    messages = opening(moderator, "/dashboard/events")

    assert events_in(messages) == []
    moment = float(messages[-1].split("\n")[0][len("id: "):])
    assert before - 0.001 <= moment <= time.time()  # to the millisecond
    for nonsense in ("soon", "nan", "1e400", ""):
        assert events_in(opening(moderator, f"/dashboard/events?since={nonsense}")) == []


def test_the_queue_page_tells_its_stream_when_it_was_made(moderator):
    before = time.time()
    page = moderator.get("/dashboard/queue/flagged").get_data(as_text=True)
    since = float(re.search(r'data-events-since="([0-9.]+)"', page).group(1))
    assert before - 0.001 <= since <= time.time()  # to the millisecond


def test_a_user_who_is_not_signed_in_gets_no_stream(client):
    assert client.get("/dashboard/events?since=0").status_code == 401


def test_a_moment_is_cut_to_the_millisecond_never_rounded_up_into_the_future():
    assert _moment(datetime.fromtimestamp(1796161383.1226993, UTC)) == "1796161383.122"
    assert _moment(datetime.fromtimestamp(1796161383.0009, UTC)) == "1796161383.000"
