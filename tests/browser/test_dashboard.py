"""The moderators' dashboard in headless Chromium, against a real web process, worker, Postgres and Redis."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from service.accounts.operations import assign_site, create_user
from service.audit.models import StatusChange
from service.comments.models import Comment
from service.sites.operations import create_site, find_site
from tests.support.waiting import wait_until

PASSWORD = "long enough password"
ABUSE = "You are a fucking idiot"


def moderator(live, email: str, site_key: str) -> str:
    with live.sessions.begin() as session:
        user = create_user(session, email, PASSWORD, "moderator")
        assign_site(user, find_site(session, site_key))
    return email


def sign_in(browser, live, email: str, live_updates: bool = True):
    context = browser.new_context()
    if not live_updates:  # a page whose event stream has not delivered the news yet
        context.route("**/dashboard/events*", lambda route: route.abort())
    page = context.new_page()
    page.goto(f"{live.base}/dashboard/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Flagged")).to_have_attribute("aria-current", "page")
    return page


def post(live, body: str, author: str = "Troll", article: str = "dash", site_key: str | None = None) -> str:
    response = httpx.post(f"{live.base}/api/v1/comments", json={
        "site": site_key or live.site_key, "article": {"id": article}, "author": {"name": author}, "body": body})
    assert response.status_code == 202
    return response.json()["id"]


def card(page, comment_id: str):
    return page.locator(f'.card[data-id="{comment_id}"]')


def status_of(live, comment_id: str) -> str:
    with live.sessions() as session:
        return session.get(Comment, comment_id).status


def moderator_changes(live, comment_id: str) -> list[StatusChange]:
    with live.sessions() as session:
        return list(session.scalars(select(StatusChange).where(StatusChange.comment_id == comment_id,
                                                               StatusChange.actor != "auto")))


@pytest.fixture
def signed_in(browser, live):
    live.ensure_worker()
    page = sign_in(browser, live, moderator(live, f"mod-{uuid.uuid4().hex[:8]}@news.example", live.site_key))
    yield page
    page.context.close()


def test_flagged_comment_appears_without_reload_and_a_approves_it(signed_in, live):
    page = signed_in
    comment_id = post(live, ABUSE + " (live)", author="Live Troll")

    expect(card(page, comment_id)).to_be_visible(timeout=30_000)
    expect(card(page, comment_id).locator(".reasons")).to_contain_text("toxicity")
    card(page, comment_id).click()
    page.keyboard.press("a")

    expect(card(page, comment_id)).to_have_count(0)
    assert status_of(live, comment_id) == "published"
    thread = httpx.get(f"{live.base}/api/v1/sites/{live.site_key}/articles/dash/comments").json()
    assert comment_id in [c["id"] for c in thread["comments"]]


def test_bulk_reject_of_three_with_the_keyboard(signed_in, live):
    page = signed_in
    ids = [post(live, f"{ABUSE} number {n}", author=f"Bulk {n}", article="bulk") for n in range(3)]
    for comment_id in ids:
        expect(card(page, comment_id)).to_be_visible(timeout=30_000)
    for comment_id in ids:
        card(page, comment_id).click()
        page.keyboard.press("x")
    page.keyboard.press("r")

    for comment_id in ids:
        expect(card(page, comment_id)).to_have_count(0)
    assert [status_of(live, i) for i in ids] == ["rejected"] * 3
    assert all(len(moderator_changes(live, i)) == 1 for i in ids)


def test_a_comment_flagged_while_the_stream_was_down_arrives_when_it_reconnects(browser, live):
    live.ensure_worker()
    page = sign_in(browser, live, moderator(live, "reconnect@news.example", live.site_key), live_updates=False)
    comment_id = post(live, ABUSE + " (while away)", author="Away Troll", article="away")
    wait_until(lambda: status_of(live, comment_id) == "flagged", 30, 0.2, message="flagged")
    page.wait_for_timeout(500)
    assert card(page, comment_id).count() == 0  # its message went by while no stream listened
    flagged = page.locator('.count[data-queue="flagged"]')
    before = int(flagged.text_content())

    page.context.unroute("**/dashboard/events*")  # the browser's EventSource retries by itself

    expect(card(page, comment_id)).to_be_visible(timeout=30_000)
    expect(flagged).to_have_text(str(before + 1))
    page.context.close()


def test_script_payloads_render_as_text_in_the_dashboard(signed_in, live):
    page = signed_in
    name = '<img src=x onerror="window.__xss=1">'
    body = ABUSE + ' <script>window.__xss=2</script>'
    comment_id = post(live, body, author=name, article="xss-dash")
    page.reload()
    item = card(page, comment_id)
    expect(item).to_be_visible(timeout=30_000)
    expect(item.locator(".body")).to_have_text(body)
    expect(item.locator(".author")).to_have_text(name)
    assert item.locator(".body script, .author img").count() == 0
    page.goto(f"{live.base}/dashboard/audit?comment={comment_id}")
    expect(page.locator("table.audit")).to_contain_text("pending → flagged")
    assert page.evaluate("window.__xss") is None


def test_state_changing_requests_without_a_csrf_token_are_refused(signed_in, live):
    page = signed_in
    comment_id = post(live, ABUSE + " (csrf)", author="Csrf Troll", article="csrf")
    expect(card(page, comment_id)).to_be_visible(timeout=30_000)

    forged = page.context.request.post(f"{live.base}/api/v1/moderation/comments/{comment_id}/decision",
                                       data={"action": "approve"})
    logout = page.context.request.post(f"{live.base}/dashboard/logout", form={})

    assert forged.status == 400 and forged.json()["error"]["code"] == "csrf_failed"
    assert logout.status == 400
    assert status_of(live, comment_id) == "flagged"


def test_a_moderator_of_another_site_can_neither_see_nor_decide(browser, live):
    live.ensure_worker()
    with live.sessions.begin() as session:
        other_key = create_site(session, f"Other {id(live)}", [live.host_origin]).public_key
    ours = post(live, ABUSE + " (scoped)", author="Scoped Troll", article="scope")
    page = sign_in(browser, live, moderator(live, "other-site-mod@news.example", other_key))
    theirs = post(live, ABUSE + " (theirs)", author="Their Troll", site_key=other_key)
    expect(card(page, theirs)).to_be_visible(timeout=30_000)

    assert card(page, ours).count() == 0
    assert page.context.request.get(f"{live.base}/dashboard/cards/{ours}").status == 404
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    decided = page.context.request.post(f"{live.base}/api/v1/moderation/comments/{ours}/decision",
                                        data={"action": "approve"}, headers={"X-CSRFToken": token})
    assert decided.status == 404
    assert httpx.get(f"{live.base}/api/v1/moderation/comments").status_code == 401
    page.context.close()


def test_two_moderators_deciding_at_once_one_wins_the_other_is_told(browser, live):
    live.ensure_worker()
    comment_id = post(live, ABUSE + " (race)", author="Race Troll", article="race")
    first = sign_in(browser, live, moderator(live, "first@news.example", live.site_key))
    second = sign_in(browser, live, moderator(live, "second@news.example", live.site_key), live_updates=False)
    for page in (first, second):
        page.reload()
        expect(card(page, comment_id)).to_be_visible(timeout=30_000)

    card(first, comment_id).get_by_role("button", name="Approve").click()
    expect(card(first, comment_id)).to_have_count(0)
    card(second, comment_id).get_by_role("button", name="Reject").click()

    expect(card(second, comment_id).locator(".outcome")).to_have_text("already approved by first@news.example")
    changes = moderator_changes(live, comment_id)
    assert [(c.actor, c.to_status) for c in changes] == [("first@news.example", "published")]
    first.context.close()
    second.context.close()
