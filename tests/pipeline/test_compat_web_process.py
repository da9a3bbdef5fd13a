"""The web process answers Perspective, Akismet and Coral calls without ever importing a model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.compat import new_api_key, new_coral_secret
from tests.support.processes import ROOT, modqueue_env

pytestmark = pytest.mark.pipeline

SCRIPT = r"""
import hashlib, hmac, json, sys
from service import create_app

key, secret, site_key = sys.argv[1:4]
client = create_app().test_client()
answers = {}
answers["perspective"] = client.post(f"/v1alpha1/comments:analyze?key={key}", json={
    "comment": {"text": "You absolute idiot."}, "requestedAttributes": {"TOXICITY": {}, "SPAM": {}},
    "spanAnnotations": True}).status_code
answers["akismet"] = client.post("/1.1/comment-check", data={
    "api_key": key, "blog": "https://news.example", "user_ip": "192.0.2.1", "comment_content": "hello",
}).get_data(as_text=True)
body = json.dumps({"action": "NEW", "comment": {"body": "Shut up you fucking moron", "parentID": None},
                   "author": {"id": "u1", "role": "COMMENTER"}}).encode()
signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
answers["coral"] = client.post(f"/compat/coral/phase/{site_key}", data=body,
                               headers={"X-Coral-Signature": signature, "Content-Type": "application/json"}).status_code
heavy = ("torch", "transformers", "detoxify", "profanity_check", "sklearn", "workers.scoring")
answers["loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in heavy or m.startswith("workers.scoring"))
print(json.dumps(answers))
"""


def test_compatibility_calls_load_no_model_in_the_web_process(stack):
    stack.start_worker().wait_for_log("scorers ready")
    key, secret = new_api_key(stack), new_coral_secret(stack)

    done = subprocess.run([sys.executable, "-c", SCRIPT, key, secret, stack.site_key], cwd=ROOT,
                          env=modqueue_env(stack.settings), capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers == {"perspective": 200, "akismet": "false", "coral": 200, "loaded": []}
