"""Comments per second one worker core scores with Detoxify at BERT-base size, for sizing deployments.

    python bench/worker_capacity.py [--comments 256] [--batch 32]

Builds a checkpoint in Detoxify's format with BERT-base dimensions and random weights (the compute of
Detoxify's `original`), loads it through the worker's DetoxifyScorer with one torch thread, and scores
generated comments of 8-60 words in the worker's batch size. Prints per-core throughput and the process's
peak resident memory; the last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from _common import bert_base_checkpoint, comments

from workers.scoring.base import ScoringInput
from workers.scoring.detoxify_backend import DetoxifyScorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--precision", choices=["fp32", "bf16", "int8", "auto"], default="fp32")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = bert_base_checkpoint(Path(folder))
        scorer = DetoxifyScorer("original", str(checkpoint), torch_threads=1, precision=args.precision)
    texts = comments(args.comments)
    scorer.score_batch([ScoringInput(t) for t in texts[: args.batch]])  # warm-up
    started = time.perf_counter()
    for i in range(0, len(texts), args.batch):
        scorer.score_batch([ScoringInput(t) for t in texts[i:i + args.batch]])
    elapsed = time.perf_counter() - started
    rate = len(texts) / elapsed
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{len(texts)} comments in batches of {args.batch} on one thread, {scorer.precision}: "
          f"{rate:.1f} comments/s per core, "
          f"{1000 / rate:.1f} ms each; peak RSS {peak_mib:.0f} MiB")
    print(json.dumps({"comments_per_second_per_core": round(rate, 2), "ms_per_comment": round(1000 / rate, 2),
                      "batch": args.batch, "precision": scorer.precision, "peak_rss_mib": round(peak_mib)}))


if __name__ == "__main__":
    main()
