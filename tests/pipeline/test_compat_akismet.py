"""The real `akismet` client from PyPI, its requests sent to modqueue, against a real worker."""

from __future__ import annotations

import akismet
import httpx
import pytest
from sqlalchemy import select

from service.moderation.policy import PolicyRules, Threshold
from service.sites.models import Policy
from service.sites.operations import current_policy, find_site
from service.spam.models import SpamModelState, site_scope
from tests.support.compat import new_api_key
from tests.support.waiting import wait_until

pytestmark = pytest.mark.pipeline

BLOG = "https://news.example"
LINK_SPAM = ("BUY CHEAP PILLS NOW!!! Visit http://bit.ly/xyz and http://cheap-pills.example/buy best prices, "
             "call +1 555 123 4567, email sales@pills.example")
ORDINARY = "I enjoyed the article, thanks for writing it. The part about the council vote was new to me."


@pytest.fixture(scope="module")
def akismet_stack(module_stack):
    module_stack.start_worker("akismet").wait_for_log("scorers ready")
    return module_stack, new_api_key(module_stack, "wordpress")


def client_for(stack, key: str, blog: str = BLOG) -> akismet.SyncClient:
    """Akismet's own client; its HTTP client hands every request to modqueue instead of rest.akismet.com."""
    transport = httpx.WSGITransport(app=stack.app)
    return akismet.SyncClient(config=akismet.Config(key=key, url=blog),
                              http_client=httpx.Client(transport=transport))


def raw_check(stack, key: str, content: str, **fields) -> httpx.Response:
    return stack.client.post("/compat/akismet/1.1/comment-check", data={
        "api_key": key, "blog": BLOG, "user_ip": "203.0.113.9", "comment_type": "comment",
        "comment_content": content, **fields})


def test_the_client_verifies_its_key_and_only_for_its_site(akismet_stack):
    stack, key = akismet_stack
    assert client_for(stack, key).verify_key() is True
    assert client_for(stack, key, blog="https://elsewhere.example").verify_key() is False
    assert client_for(stack, "mqk_not-a-key").verify_key() is False
    with pytest.raises(akismet.APIKeyError):
        client_for(stack, "mqk_not-a-key").comment_check(user_ip="203.0.113.9", comment_content=ORDINARY)


def test_blatant_link_spam_is_spam_and_an_ordinary_comment_is_not(akismet_stack):
    stack, key = akismet_stack
    client = client_for(stack, key)

    spam = client.comment_check(user_ip="198.51.100.7", comment_type="comment", comment_author="Pill Shop",
                                comment_author_url="http://cheap-pills.example", comment_content=LINK_SPAM)
    ham = client.comment_check(user_ip="198.51.100.8", comment_type="comment", comment_author="Ana",
                               comment_author_email="ana@example.org", comment_content=ORDINARY)

    assert spam in (akismet.CheckResponse.SPAM, akismet.CheckResponse.DISCARD) and bool(spam) is True
    assert ham == akismet.CheckResponse.HAM and bool(ham) is False


def test_discard_at_the_sites_spam_reject_threshold(akismet_stack):
    stack, key = akismet_stack
    with stack.sessions.begin() as session:
        site = find_site(session, stack.site_key)
        policy = current_policy(session, site.id)
        rules = PolicyRules.from_stored(policy.thresholds, policy.premoderation, policy.word_lists)
        thresholds = {**rules.thresholds, "spam": Threshold(review_at=0.5, reject_at=0.6)}
        session.add(Policy(site_id=site.id, version=policy.version + 1, premoderation=policy.premoderation,
                           thresholds=PolicyRules(thresholds=thresholds).thresholds_json(),
                           word_lists=policy.word_lists, created_by="test"))
    try:
        verdict = client_for(stack, key).comment_check(user_ip="198.51.100.7", comment_author_url=
                                                       "http://cheap-pills.example", comment_content=LINK_SPAM)
        assert verdict == akismet.CheckResponse.DISCARD
    finally:
        with stack.sessions.begin() as session:
            site = find_site(session, stack.site_key)
            session.add(Policy(site_id=site.id, version=current_policy(session, site.id).version + 1,
                               premoderation=policy.premoderation, thresholds=policy.thresholds,
                               word_lists=policy.word_lists, created_by="test"))


def _site_version(stack) -> int:
    with stack.sessions() as session:
        site = find_site(session, stack.site_key)
        return session.scalar(select(SpamModelState.version).where(SpamModelState.scope == site_scope(site.id))) or 0


def test_submit_spam_raises_the_score_of_a_similar_comment(akismet_stack):
    stack, key = akismet_stack
    client = client_for(stack, key)
    submitted = "Crypto signals group, 10x returns guaranteed, join our channel for the daily pump"
    similar = "Crypto signals channel, 10x gains guaranteed, join our group for the weekly pump"
    before = float(raw_check(stack, key, similar, is_test="1").headers["X-Modqueue-Spam-Score"])
    version = _site_version(stack)

    assert client.submit_spam(user_ip="192.0.2.44", comment_content=submitted, comment_author="signals") is True
    wait_until(lambda: _site_version(stack) > version, 30, 0.2, message="site spam model updated")

    after = float(raw_check(stack, key, similar, is_test="1").headers["X-Modqueue-Spam-Score"])
    assert after > before + 0.01, (before, after)


def test_submit_ham_is_acknowledged_and_learned(akismet_stack):
    stack, key = akismet_stack
    version = _site_version(stack)

    assert client_for(stack, key).submit_ham(user_ip="192.0.2.45", comment_content=ORDINARY + " Truly.") is True
    wait_until(lambda: _site_version(stack) > version, 30, 0.2, message="site spam model updated")


def test_protocol_errors(akismet_stack):
    stack, key = akismet_stack
    missing_ip = stack.client.post("/1.1/comment-check", data={"api_key": key, "blog": BLOG, "comment_content": "x"})
    missing_blog = stack.client.post("/1.1/comment-check", data={"api_key": key, "user_ip": "192.0.2.1"})
    admin = raw_check(stack, key, LINK_SPAM, user_role="administrator")

    assert missing_ip.status_code == 400 and missing_ip.get_data(as_text=True) == "Missing required field: user_ip."
    assert missing_blog.status_code == 400 and missing_blog.headers["X-akismet-debug-help"]
    assert admin.get_data(as_text=True) == "false" and "X-Modqueue-Spam-Score" not in admin.headers
