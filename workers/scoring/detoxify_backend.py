"""Toxicity with Detoxify: the seven Jigsaw attributes (fewer where a model lacks some)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Sequence

from workers.scoring.base import ScoringInput

log = logging.getLogger(__name__)


def _checkpoint_version(model_type: str, checkpoint: str | None) -> str:
    if checkpoint is None:
        from detoxify.detoxify import MODEL_URLS

        return Path(MODEL_URLS[model_type]).stem
    digest = hashlib.sha256()
    with open(checkpoint, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"{Path(checkpoint).stem}-{digest.hexdigest()[:12]}"


class DetoxifyScorer:
    backend = "detoxify"
    fallback_reason = None

    def __init__(self, model_type: str, checkpoint: str | None = None, torch_threads: int = 0):
        import torch
        from detoxify import Detoxify

        if torch_threads > 0:
            torch.set_num_threads(torch_threads)
        self.model_type = model_type
        self._detoxify = Detoxify(model_type=model_type, checkpoint=checkpoint)
        self._detoxify.model.eval()
        self.model_version = f"{model_type}@{_checkpoint_version(model_type, checkpoint)}"

    @property
    def source(self) -> str:
        return f"{self.backend}/{self.model_version}"

    @property
    def attributes(self) -> list[str]:
        return list(self._detoxify.class_names)

    def score_batch(self, items: Sequence[ScoringInput]) -> list[dict[str, float]]:
        import torch

        if not items:
            return []
        texts = [item.body for item in items]
        with torch.inference_mode():
            raw = self._detoxify.predict(texts)
        if len(texts) == 1:  # Detoxify squeezes a batch of one down to scalars
            raw = {name: [value] for name, value in raw.items()}
        return [{name: float(values[i]) for name, values in raw.items()} for i in range(len(texts))]
