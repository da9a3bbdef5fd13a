"""A worker entry whose scoring sleeps first, so a test can kill it mid-batch.

Only the timing changes: the real scorers, pipeline and Celery app run underneath.
"""

import os
import time

from workers import scoring

_score = scoring.ScorerSet.score


def _slow_score(self, *args):
    time.sleep(float(os.environ.get("MODQUEUE_TEST_SCORING_DELAY", "1")))
    return _score(self, *args)


scoring.ScorerSet.score = _slow_score

from workers.main import celery_app  # noqa: E402,F401
