"""An admin tunes a site's policy in the browser: preview, apply, and the next comment follows it."""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import expect
from sqlalchemy import select

from service.accounts.operations import assign_site, create_user
from service.audit.models import StatusChange
from service.comments.models import Comment
from service.sites.operations import find_site

PASSWORD = "long enough password"


def sign_in(browser, live, email, role):
    with live.sessions.begin() as session:
        user = create_user(session, email, PASSWORD, role)
        assign_site(user, find_site(session, live.site_key))
    page = browser.new_context().new_page()
    page.goto(f"{live.base}/dashboard/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Flagged")).to_be_visible()
    return page


def post(live, body: str) -> str:
    response = httpx.post(f"{live.base}/api/v1/comments", json={
        "site": live.site_key, "article": {"id": "admin"}, "author": {"name": f"Reader {body[:12]}"}, "body": body})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def decided(live, comment_id: str) -> Comment | None:
    with live.sessions() as session:
        comment = session.get(Comment, comment_id)
        return comment if comment.status != "pending" else None


def wait_decided(live, comment_id: str) -> Comment:
    for _ in range(300):
        comment = decided(live, comment_id)
        if comment is not None:
            return comment
        time.sleep(0.1)
    raise AssertionError(f"{comment_id} still pending")


def test_admin_previews_applies_a_lower_threshold_and_the_next_comment_follows_it(browser, live):
    live.ensure_worker()
    for body in ("Nice piece.", "Thanks for the clear explanation.", "I think you are a fucking idiot"):
        comment_id = post(live, body)
        wait_decided(live, comment_id)
    page = sign_in(browser, live, "admin@tune.example", "admin")
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Policy").first.click()
    summary = page.locator("#preview-summary")

    page.get_by_label("toxicity review at", exact=True).fill("0.99")
    expect(summary).to_contain_text("Of 3 comments: 2 published, 1 held")
    page.get_by_label("toxicity review at", exact=True).fill("0")
    expect(summary).to_contain_text("Of 3 comments: 0 published, 3 held, 0 rejected; 2 would change outcome.")
    expect(page.locator("#preview-diff")).to_contain_text("toxicity review_at 0.80 → 0.00")
    expect(page.locator("#preview-chart .chart-row")).to_have_count(7)
    expect(page.locator("#preview-chart .chart-row", has_text="held")).to_contain_text("3")
    page.get_by_role("button", name="Apply as a new version").click()
    expect(page.get_by_role("status").filter(has_text="Saved as version")).to_contain_text("Saved as version 2")

    comment_id = post(live, "A perfectly polite remark after the change.")
    assert wait_decided(live, comment_id).status == "flagged"
    with live.sessions() as session:
        change = session.scalars(select(StatusChange).where(StatusChange.comment_id == comment_id)).one()
    assert change.policy_version == 2

    page.goto(f"{live.base}/dashboard/audit")
    expect(page.locator("table.policy-changes")).to_contain_text("toxicity review_at 0.80 → 0.00")
    expect(page.locator("table.policy-changes")).to_contain_text("admin@tune.example")


def test_a_moderator_cannot_open_the_admin_pages_or_call_the_admin_api(browser, live):
    page = sign_in(browser, live, "plain-mod@tune.example", "moderator")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert page.get_by_role("link", name="Admin").count() == 0
    assert page.goto(f"{live.base}/admin/").status == 403
    assert page.goto(f"{live.base}/admin/sites/{live.site_key}/policy").status == 403
    response = page.context.request.post(f"{live.base}/api/v1/admin/sites/{live.site_key}/policy",
                                         data={"thresholds": {}, "premoderation": "all"},
                                         headers={"X-CSRFToken": token})
    assert response.status == 403


def test_admin_creates_a_site_and_closes_an_article_from_the_pages(browser, live):
    page = sign_in(browser, live, "sites-admin@tune.example", "admin")
    page.goto(f"{live.base}/admin/")
    new_site = page.get_by_role("form", name="New site")
    new_site.get_by_label("Name").fill("Evening Post")
    new_site.get_by_label("Origins (one per line)").fill("https://evening.example")
    new_site.get_by_role("button", name="Create site").click()
    row = page.locator("tr", has_text="Evening Post")
    expect(row).to_contain_text("https://evening.example")
    key = row.locator("code").inner_text()

    row.get_by_role("link", name="Settings").click()
    close = page.get_by_role("form", name="Close an article")
    close.get_by_label("Article id").fill("yesterday")
    close.get_by_role("button", name="Save article").click()
    expect(close.get_by_role("status")).to_have_text("Saved.")

    thread = httpx.get(f"{live.base}/api/v1/sites/{key}/articles/yesterday/comments").json()
    assert thread["closed"] is True


def test_admin_creates_an_akismet_key_sees_it_once_and_revokes_it(browser, live):
    page = sign_in(browser, live, "keys-admin@tune.example", "admin")
    page.goto(f"{live.base}/admin/sites/{live.site_key}")
    form = page.get_by_role("form", name="New key or secret")
    form.get_by_label("Name").fill("WordPress Akismet plugin")
    form.get_by_role("button", name="Create").click()
    secret = form.locator("code.secret")
    expect(secret).to_contain_text("mqk_")
    key = secret.inner_text()
    check = {"api_key": key, "blog": live.host_origin}
    assert httpx.post(f"{live.base}/1.1/verify-key", data=check).text == "valid"

    page.reload()
    row = page.locator("tr", has_text="WordPress Akismet plugin")
    expect(row).to_contain_text(key[:8])
    assert key not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("tr", has_text="WordPress Akismet plugin")).to_contain_text("revoked")
    assert httpx.post(f"{live.base}/1.1/verify-key", data=check).text == "invalid"
    perspective = httpx.post(f"{live.base}/v1alpha1/comments:analyze?key={key}",
                             json={"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}})
    assert perspective.status_code == 400
    assert "/v1alpha1/comments:analyze" in live.processes[0].log and key not in live.processes[0].log
