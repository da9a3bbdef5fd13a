"""The baseline for bench/ingest.py: a Flask app whose POST handler only parses JSON and answers 202."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/api/v1/comments")
def accept():
    request.get_json()
    return {"id": "0", "status": "pending"}, 202
