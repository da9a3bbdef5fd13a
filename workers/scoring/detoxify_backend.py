"""Toxicity with Detoxify: the seven Jigsaw attributes (fewer where a model lacks some).

Detoxify loads the checkpoint (and its tokenizer); scoring then calls the model directly so a batch can
be sorted by length and padded per sub-batch, run under `inference_mode`, and in bf16 where the hardware
does that natively. The precision is part of the model version recorded with each score.

In bf16 the weights are converted once at load time (half the memory) rather than cast by autocast on
every forward pass, which re-reads all 110 M fp32 weights per call: 16% more comments per second on
BERT-base, with scores within 0.003 of fp32 (`bench/scoring.py` prints the difference).

Where the CPU has no native bf16 (AVX2 machines), `int8` quantizes the Linear layers' weights once at load
and their activations per call (PyTorch's dynamic quantization, fbgemm/x86 kernels): 1.4-1.9x the fp32
rate on BERT-base on an AVX2-only EPYC, scores within 0.01 of fp32. It is opt-in: `auto` never picks it,
since its scores stray further than bf16's.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from pathlib import Path
from typing import Sequence

from workers.scoring.base import ScoringInput

log = logging.getLogger(__name__)
PRECISIONS = ("auto", "fp32", "bf16", "int8")
#: Texts padded together: sorted by length, so each sub-batch pads to about its own length. With batches
#: of 32 comments of 8-60 words, 8 wastes least on padding (measured: 8 → 94/s, 16 → 85/s, 32 → 67/s).
SUB_BATCH = 8


def _checkpoint_version(model_type: str, checkpoint: str | None) -> str:
    if checkpoint is None:
        from detoxify.detoxify import MODEL_URLS

        return Path(MODEL_URLS[model_type]).stem
    digest = hashlib.sha256()
    with open(checkpoint, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"{Path(checkpoint).stem}-{digest.hexdigest()[:12]}"


def cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX: bf16 matrix maths runs in hardware rather than emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(requested: str, device: str) -> str:
    """`auto` is bf16 where the hardware supports it natively, fp32 elsewhere."""
    import torch

    if requested != "auto":
        return requested
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def quantize_linear_layers(model):
    """int8 weights for every Linear layer, activations quantized per call (CPU only)."""
    import torch

    with warnings.catch_warnings():
        # Deprecated in favour of torchao, yet present and working in the torch this project pins.
        warnings.filterwarnings("ignore", message=r".*(torch\.ao\.quantization|quantize_per_tensor).*deprecated")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


class DetoxifyScorer:
    backend = "detoxify"
    fallback_reason = None

    def __init__(self, model_type: str, checkpoint: str | None = None, torch_threads: int = 0,
                 precision: str = "fp32", device: str = "cpu"):
        import torch
        from detoxify import Detoxify

        self.precision = resolve_precision(precision, device)
        if self.precision == "int8" and not device.startswith("cpu"):
            raise ValueError("int8 precision runs on the CPU only; use bf16 or fp32 on a GPU")
        if torch_threads > 0:
            torch.set_num_threads(torch_threads)
        detoxify = Detoxify(model_type=model_type, checkpoint=checkpoint, device=device)
        self.device = device
        self.tokenizer = detoxify.tokenizer
        self.class_names = list(detoxify.class_names)
        self.model = detoxify.model.eval()
        if self.precision == "bf16":
            self.model = self.model.to(torch.bfloat16)
        elif self.precision == "int8":
            self.model = quantize_linear_layers(self.model)
        self.max_length = min(getattr(self.tokenizer, "model_max_length", 512) or 512, 512)
        self.model_version = f"{model_type}@{_checkpoint_version(model_type, checkpoint)}/{self.precision}"

    @property
    def source(self) -> str:
        return f"{self.backend}/{self.model_version}"

    @property
    def attributes(self) -> list[str]:
        return list(self.class_names)

    def _forward(self, features: list[dict]):
        import torch

        batch = self.tokenizer.pad(features, return_tensors="pt").to(self.device)
        logits = self.model(**batch)[0]
        return torch.sigmoid(logits.float()).cpu()

    def score_batch(self, items: Sequence[ScoringInput]) -> list[dict[str, float]]:
        import torch

        if not items:
            return []
        encoded = self.tokenizer([item.body for item in items], truncation=True, max_length=self.max_length)
        features = [{key: encoded[key][i] for key in encoded} for i in range(len(items))]
        order = sorted(range(len(items)), key=lambda i: len(features[i]["input_ids"]))
        results: list[dict[str, float]] = [{} for _ in items]
        with torch.inference_mode():
            for start in range(0, len(order), SUB_BATCH):
                chunk = order[start:start + SUB_BATCH]
                probabilities = self._forward([features[i] for i in chunk]).tolist()
                for i, row in zip(chunk, probabilities):
                    results[i] = dict(zip(self.class_names, row))
        return results
