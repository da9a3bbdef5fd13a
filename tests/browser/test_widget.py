"""The embeddable widget, in headless Chromium, on a host page of another origin."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect
from sqlalchemy import func, select

from service.accounts.operations import create_api_token, create_user
from service.comments.models import Comment
from service.sites.operations import find_site
from tests.support.waiting import wait_until


def thread(page):
    return page.locator("#modqueue-thread")


def post_comment(page, name: str, body: str, email: str = "") -> None:
    widget = thread(page)
    widget.get_by_label("Name").first.fill(name)
    if email:
        widget.get_by_label("Email (optional, never shown)").first.fill(email)
    widget.get_by_label("Your comment").fill(body)
    widget.get_by_role("button", name="Post comment").click()


def count_comments(live, author: str) -> int:
    with live.sessions() as session:
        site = find_site(session, live.site_key)
        return session.scalar(select(func.count()).select_from(Comment)
                              .where(Comment.site_id == site.id, Comment.author_name == author))


def test_reader_posts_sees_awaiting_moderation_then_everyone_sees_it_published_and_replies_nest(live, browser, context):
    live.stop_worker()  # no scoring yet: the new comment stays pending while the checks below look at it
    page = context.new_page()
    page.goto(f"{live.host_origin}/{live.host_page('article.html', '<h1>Story</h1>')}")
    expect(thread(page).get_by_role("heading", name="Comments (0)")).to_be_visible()

    post_comment(page, "Grace", "A thoughtful article about the river.")

    pending = thread(page).locator("li.pending")
    expect(pending).to_contain_text("awaiting moderation")
    expect(pending).to_contain_text("A thoughtful article about the river.")
    expect(thread(page).get_by_role("status")).to_contain_text("awaiting moderation")
    expect(pending).to_be_focused()

    live.ensure_worker()  # the worker starts now: the comment is published and the widget notices
    expect(thread(page).locator("li.comment:not(.pending)")).to_contain_text("A thoughtful article", timeout=30_000)
    expect(thread(page).get_by_role("heading", name="Comments (1)")).to_be_visible()

    other = browser.new_context()
    reader = other.new_page()
    reader.goto(f"{live.host_origin}/article.html")
    parent = thread(reader).locator("li.comment", has_text="A thoughtful article")
    expect(parent).to_be_visible()
    # A reply is decided in tens of milliseconds; with no worker it stays pending for as long as the check takes.
    live.stop_worker()
    parent.get_by_role("button", name="Reply to Grace").click()
    parent.get_by_label("Name").fill("Alan")
    parent.get_by_label("Your reply").fill("Agreed, well put.")
    parent.get_by_role("button", name="Post reply").click()
    expect(parent.locator("li.pending")).to_contain_text("Agreed, well put.")
    live.ensure_worker()
    # The replier's widget follows its pending reply; a page loaded before the decision would not show it.
    expect(parent.locator("ul li.comment:not(.pending)")).to_contain_text("Agreed, well put.", timeout=30_000)

    third = browser.new_context().new_page()
    third.goto(f"{live.host_origin}/article.html")
    nested = thread(third).locator("li.comment", has_text="A thoughtful article").locator("ul li.comment")
    expect(nested).to_contain_text("Agreed, well put.", timeout=30_000)
    expect(thread(third).locator("li.pending")).to_have_count(0)
    other.close()


def test_reported_comment_reaches_the_reported_queue(live, context):
    live.ensure_worker()
    page = context.new_page()
    page.goto(f"{live.host_origin}/{live.host_page('report.html', '', article='story-report')}")
    post_comment(page, "Reporter Target", "Buy my mixtape, it is great")
    published = thread(page).locator("li.comment:not(.pending)", has_text="mixtape")
    expect(published).to_be_visible(timeout=30_000)

    fresh = context.browser.new_context().new_page()
    fresh.goto(f"{live.host_origin}/report.html")
    item = thread(fresh).locator("li.comment", has_text="mixtape")
    item.get_by_role("button", name="Report comment by Reporter Target").click()
    item.get_by_label("Why should a moderator look at this comment?").select_option("spam")
    item.get_by_role("button", name="Send report").click()
    expect(thread(fresh).get_by_role("status")).to_contain_text("a moderator will review")

    with live.sessions.begin() as session:
        user = create_user(session, f"mod-{live.site_key[-5:]}@example.org", "long enough password", "admin")
        _, secret = create_api_token(session, user, "browser test")
    queue = httpx.get(f"{live.base}/api/v1/moderation/comments", params={"status": "reported", "site": live.site_key},
                      headers={"Authorization": f"Bearer {secret}"}).json()
    assert [(i["body"], i["reports"]) for i in queue["items"]] == [("Buy my mixtape, it is great", 1)]


def test_script_and_html_in_name_and_body_render_as_inert_text(live, context):
    live.ensure_worker()
    name = '<img src=x onerror="window.__xss=1">'
    body = '<script>window.__xss=2</script><b onmouseover="window.__xss=3">bold?</b>'
    response = httpx.post(f"{live.base}/api/v1/comments", json={
        "site": live.site_key, "article": {"id": "story-xss"}, "author": {"name": name}, "body": body})
    assert response.status_code == 202
    # Posted past the widget, so the page fetches the thread once and does not wait for this comment: load
    # it only once the worker has published it.
    wait_until(lambda: httpx.get(f"{live.base}{response.headers['Location']}").json()["status"] == "published",
               30, 0.2, "the comment published")
    page = context.new_page()
    page.goto(f"{live.host_origin}/{live.host_page('xss.html', '', article='story-xss')}")

    item = thread(page).locator("li.comment", has_text="bold?")
    expect(item).to_be_visible(timeout=30_000)
    expect(item.locator(".body")).to_have_text(body)
    expect(item.locator(".meta strong")).to_have_text(name)
    item.locator(".body").hover()
    assert item.locator("img, script, b").count() == 0
    assert page.evaluate("window.__xss") is None


def test_origin_not_configured_for_the_site_is_refused(live, context):
    page = context.new_page()
    page.goto(f"{live.other_origin}/{live.host_page('elsewhere.html', '', article='story-elsewhere')}")
    expect(thread(page).get_by_role("status")).to_contain_text("could not be loaded")

    post_comment(page, "Mallory", "Posting from a page the site never allowed.")

    expect(thread(page).get_by_role("alert")).to_contain_text(re.compile("could not be reached|not enabled"))
    assert count_comments(live, "Mallory") == 0


def test_posting_faster_than_the_limit_shows_a_friendly_message_and_stores_nothing_more(live, context):
    page = context.new_page()
    page.goto(f"{live.host_origin}/{live.host_page('fast.html', '', article='story-fast')}")
    for n in range(3):
        post_comment(page, "Speedy", f"Comment number {n} from a fast typist")
        # Pending or already published by the running worker: either way the author sees it.
        expect(thread(page).locator("li.comment", has_text=f"number {n}")).to_be_visible(timeout=15_000)

    post_comment(page, "Speedy", "One comment too many")

    expect(thread(page).get_by_role("alert")).to_contain_text("You are posting too fast. Please wait")
    assert count_comments(live, "Speedy") == 3


def test_validation_errors_are_shown_next_to_the_field(live, context):
    page = context.new_page()
    page.goto(f"{live.host_origin}/{live.host_page('invalid.html', '', article='story-invalid')}")
    post_comment(page, "", "A comment without a name")
    name = thread(page).get_by_label("Name").first
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(thread(page).locator("#mq-name-error")).to_be_visible()
    expect(name).to_be_focused()


def test_host_styles_do_not_reach_the_widget_and_widget_styles_do_not_leak(live, context):
    hostile = "<style>* { color: rgb(255, 0, 0) !important; font-family: serif !important }</style>"
    page = context.new_page()
    page.goto(f"{live.host_origin}/" + live.host_page(
        "hostile.html", "<p id='host-text'>Host paragraph</p><button id='host-button'>Host button</button>",
        article="story-hostile", head=hostile))
    heading = thread(page).get_by_role("heading", name=re.compile("Comments"))
    expect(heading).to_be_visible()

    widget_color = heading.evaluate("e => getComputedStyle(e).color")
    widget_font = heading.evaluate("e => getComputedStyle(e).fontFamily")
    host_color = page.locator("#host-text").evaluate("e => getComputedStyle(e).color")
    host_button_bg = page.locator("#host-button").evaluate("e => getComputedStyle(e).backgroundColor")
    plain = context.new_page()
    plain.set_content("<button>plain</button>")
    default_button_bg = plain.locator("button").evaluate("e => getComputedStyle(e).backgroundColor")

    assert widget_color != "rgb(255, 0, 0)"
    assert "serif" != widget_font.strip().lower()
    assert host_color == "rgb(255, 0, 0)"
    assert host_button_bg == default_button_bg


def test_a_comment_published_between_two_requests_stays_on_the_page(live, context):
    """The author's comment is published after the widget fetched the thread but before it asked for the
    comment's status: it must stay visible (as published), not vanish until the next page load."""
    page = context.new_page()
    page.goto(f"{live.host_origin}/{live.host_page('race.html', '', article='story-race')}")
    # The worker of this module's earlier tests may decide the comment at any moment: what the widget
    # learns is set here instead. The thread it fetches never has the comment yet (fetched just before),
    # and the comment's own status is pending until the test says it is published.
    published = False

    def thread_before_it(route):
        response = route.fetch()
        data = response.json()
        data["comments"] = [c for c in data["comments"] if "blink of an eye" not in c["body"]]
        data["count"] = len(data["comments"])
        route.fulfill(response=response, json=data)

    def status_so_far(route):
        response = route.fetch()
        data = response.json()
        data["status"] = "published" if published else "pending"
        route.fulfill(response=response, json=data)

    page.route(re.compile(r".*/articles/story-race/comments$"), thread_before_it)
    page.route(re.compile(r".*/api/v1/comments/[0-9a-z]+$"), status_so_far)
    post_comment(page, "Quick", "Published in the blink of an eye")
    expect(thread(page).locator("li.comment.pending", has_text="blink of an eye")).to_be_visible()
    published = True

    shown = thread(page).locator("li.comment:not(.pending)", has_text="blink of an eye")
    expect(shown).to_be_visible(timeout=10_000)
