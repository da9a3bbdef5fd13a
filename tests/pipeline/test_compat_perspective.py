"""Perspective's comments:analyze and suggestscore, answered by a real worker running Detoxify."""

from __future__ import annotations

import threading

import pytest
import redis
from sqlalchemy import func, select

from service.comments.models import Comment
from service.compat.models import ExternalLabel
from service.sites.operations import find_site
from service.spam.models import SpamModelState, site_scope
from tests.pipeline.conftest import running_stack
from tests.support.compat import new_api_key
from tests.support.waiting import wait_until

pytestmark = pytest.mark.pipeline

TWO_SENTENCES = "You are a complete idiot and everyone knows it. The weather was lovely today."
TOXICITY_NAMES = ["TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT"]


@pytest.fixture(scope="module")
def perspective(module_stack, tiny_checkpoint):
    # A longer batch window than production's, so that concurrent requests surely meet in one batch.
    worker = module_stack.start_worker("detoxify", MODQUEUE_TOXICITY_MODEL="original",
                                       MODQUEUE_DETOXIFY_CHECKPOINT=str(tiny_checkpoint),
                                       MODQUEUE_ANALYSIS_BATCH_INTERVAL_SECONDS="0.3")
    worker.wait_for_log("scorers ready")
    return module_stack, new_api_key(module_stack)


def analyze(stack, key, body, path="/v1alpha1/comments:analyze"):
    return stack.client.post(f"{path}?key={key}", json=body)


def request_body(text, *names, **extra):
    return {"comment": {"text": text, "type": "PLAIN_TEXT"}, "requestedAttributes": {n: {} for n in names}, **extra}


def test_several_attributes_with_span_annotations(perspective):
    stack, key = perspective
    response = analyze(stack, key, request_body(TWO_SENTENCES, *TOXICITY_NAMES, "SPAM", spanAnnotations=True,
                                                 languages=["en"], clientToken="req-1", doNotStore=True))

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["clientToken"] == "req-1"
    assert body["languages"] == ["en"]
    assert set(body["attributeScores"]) == {*TOXICITY_NAMES, "SPAM"}
    first_end = TWO_SENTENCES.index(".") + 1
    for name in TOXICITY_NAMES:
        attribute = body["attributeScores"][name]
        assert attribute["summaryScore"]["type"] == "PROBABILITY"
        assert 0.0 <= attribute["summaryScore"]["value"] <= 1.0
        spans = attribute["spanScores"]
        assert [(s["begin"], s["end"]) for s in spans] == [(0, first_end), (first_end + 1, len(TWO_SENTENCES))]
    # Each span's score is the model's score of that sentence alone.
    for span in body["attributeScores"]["INSULT"]["spanScores"]:
        alone = analyze(stack, key, request_body(TWO_SENTENCES[span["begin"]:span["end"]], "INSULT")).get_json()
        assert alone["attributeScores"]["INSULT"]["summaryScore"]["value"] == pytest.approx(
            span["score"]["value"], abs=0.02)
    spam = body["attributeScores"]["SPAM"]
    assert spam["spanScores"] == [{"begin": 0, "end": len(TWO_SENTENCES), "score": spam["summaryScore"]}]


def test_without_span_annotations_one_span_covers_the_text(perspective):
    stack, key = perspective
    response = analyze(stack, key, request_body("Thanks for the clear explanation.", "TOXICITY"),
                       path="/compat/perspective/v1alpha1/comments:analyze")

    attribute = response.get_json()["attributeScores"]["TOXICITY"]
    assert attribute["spanScores"] == [{"begin": 0, "end": 33, "score": attribute["summaryScore"]}]
    assert "clientToken" not in response.get_json()


def test_score_threshold_leaves_out_lower_scores(perspective):
    stack, key = perspective
    body = request_body("An ordinary remark.", "TOXICITY", "INSULT")
    body["requestedAttributes"]["INSULT"] = {"scoreThreshold": 1.0, "scoreType": "PROBABILITY"}

    scores = analyze(stack, key, body).get_json()["attributeScores"]

    assert "TOXICITY" in scores and "INSULT" not in scores


@pytest.mark.parametrize("names, needle", [
    (["SEXUALLY_EXPLICIT"], "Attribute SEXUALLY_EXPLICIT is not supported by this server's model"),
    (["FLIRTATION"], "unsupported attribute: FLIRTATION"),
    (["TOXICITY", "NO_SUCH_THING"], "unsupported attribute: NO_SUCH_THING"),
])
def test_attributes_the_model_cannot_produce_are_invalid_arguments(perspective, names, needle):
    stack, key = perspective
    response = analyze(stack, key, request_body("Some text.", *names))

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert needle in error["message"]


def test_a_language_the_model_lacks_is_refused_for_toxicity_but_not_spam(perspective):
    stack, key = perspective
    refused = analyze(stack, key, request_body("Das ist gut.", "TOXICITY", languages=["de"]))
    spam_only = analyze(stack, key, request_body("Das ist gut.", "SPAM", languages=["de"]))

    assert refused.status_code == 400
    assert refused.get_json()["error"]["message"] == "Attribute TOXICITY does not support request languages: de"
    assert refused.get_json()["error"]["details"][0]["reason"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    assert spam_only.status_code == 200
    assert spam_only.get_json()["languages"] == ["de"]


def _values(client: redis.Redis, name: bytes) -> list:
    kind = client.type(name).decode()
    if kind == "string":
        return [client.get(name)]
    if kind == "list":
        return client.lrange(name, 0, -1)
    if kind == "hash":
        return list(client.hgetall(name).values())
    if kind == "zset":
        return client.zrange(name, 0, -1)
    return list(client.smembers(name)) if kind == "set" else []


def test_do_not_store_leaves_the_text_nowhere(perspective):
    stack, key = perspective
    marker = "zqxmarker" + key[-6:]
    response = analyze(stack, key, request_body(f"Private words {marker} here.", "TOXICITY", "SPAM",
                                                 doNotStore=True))
    assert response.status_code == 200

    client = redis.Redis.from_url(stack.settings.redis_url)

    def queue_drained():
        return client.llen("modqueue.analysis") == 0 and not client.hlen("unacked")

    wait_until(queue_drained, 10, 0.1, message="analysis message acknowledged")
    for name in client.scan_iter(count=1000):
        assert marker.encode() not in name
        assert not any(marker.encode() in (value or b"") for value in _values(client, name)), name
    with stack.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Comment).where(Comment.body.contains(marker))) == 0
    assert marker not in stack.processes[0].log


def test_concurrent_requests_are_scored_in_one_batch(perspective):
    stack, key = perspective
    barrier, sizes, statuses = threading.Barrier(8), [], []

    def call(n: int) -> None:
        barrier.wait()
        response = analyze(stack, key, request_body(f"Comment number {n} about the match.", "TOXICITY"))
        statuses.append(response.status_code)
        sizes.append(int(response.headers["X-Modqueue-Batch-Size"]))

    threads = [threading.Thread(target=call, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert statuses == [200] * 8
    assert max(sizes) > 1, sizes
    batches = [int(line.split("analysis batch: ")[1].split()[0])
               for line in stack.processes[0].log.splitlines() if "analysis batch: " in line]
    assert max(batches) == max(sizes)


def _site_model_version(stack) -> int:
    with stack.sessions() as session:
        site = find_site(session, stack.site_key)
        return session.scalar(select(SpamModelState.version).where(SpamModelState.scope == site_scope(site.id))) or 0


def test_suggestscore_spam_teaches_the_site_model_once(perspective):
    stack, key = perspective
    spam = "Earn 5000 a week from home, message me on telegram now"
    similar = "Earn 4000 a week from home, message me on telegram today"

    def spam_score(text):
        return analyze(stack, key, request_body(text, "SPAM")).get_json()["attributeScores"]["SPAM"][
            "summaryScore"]["value"]

    before, version = spam_score(similar), _site_model_version(stack)
    suggestion = {"comment": {"text": spam}, "attributeScores": {"SPAM": {"summaryScore": {"value": 1.0}}},
                  "clientToken": "s-1"}
    response = stack.client.post(f"/v1alpha1/comments:suggestscore?key={key}", json=suggestion)
    assert response.status_code == 200 and response.get_json() == {"clientToken": "s-1"}
    wait_until(lambda: _site_model_version(stack) > version, 30, 0.2, message="spam model updated")

    assert spam_score(similar) > before
    learned_version = _site_model_version(stack)
    again = stack.client.post(f"/v1alpha1/comments:suggestscore?key={key}", json=suggestion)
    assert again.status_code == 200
    wait_until(lambda: "unchanged from spam label (perspective)" in stack.processes[0].log, 30, 0.2,
               message="repeated label seen by the worker")
    assert _site_model_version(stack) == learned_version
    with stack.sessions() as session:
        labels = session.scalars(select(ExternalLabel.label).where(ExternalLabel.source == "perspective")).all()
    assert labels.count("spam") >= 1


def test_suggestscore_validates_its_scores(perspective):
    stack, key = perspective
    bad = {"comment": {"text": "x"}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 3}}}}
    response = stack.client.post(f"/v1alpha1/comments:suggestscore?key={key}", json=bad)

    assert response.status_code == 400
    assert response.get_json()["error"]["status"] == "INVALID_ARGUMENT"


def test_no_worker_means_a_clear_504_and_the_late_request_is_dropped(settings, engine, tmp_path):
    with running_stack(settings, engine, tmp_path, analysis_timeout_seconds=0.5) as stack:
        key = new_api_key(stack)
        response = analyze(stack, key, request_body("Anyone there?", "TOXICITY"))

        assert response.status_code == 504
        assert response.get_json()["error"]["status"] == "DEADLINE_EXCEEDED"
        worker = stack.start_worker()
        worker.wait_for_log("dropped 1 analysis requests past their deadline", timeout=30)
