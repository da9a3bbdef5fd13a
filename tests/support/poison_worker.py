"""A worker entry whose toxicity scorer fails on any text containing POISON (a stand-in for a comment
that crashes a model); everything else is the real worker."""

from workers import scoring

_score = scoring.ScorerSet.score


def _score_unless_poisoned(self, items, *args):
    if any("POISON" in item.body for item in items):
        raise RuntimeError("the model failed on this text")
    return _score(self, items, *args)


scoring.ScorerSet.score = _score_unless_poisoned

from workers.main import celery_app  # noqa: E402,F401
