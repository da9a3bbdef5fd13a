"""Toxicity with Detoxify: the seven Jigsaw attributes (fewer where a model lacks some).

Detoxify loads the checkpoint (and its tokenizer); scoring then calls the model directly so a batch can
be sorted by length and cut into forward passes that each pad to their own longest text (`sub_batches`),
run under `inference_mode`, and in bf16 where the hardware does that natively. The precision is part of the
model version recorded with each score.

In bf16 the weights are converted once at load time (half the memory) rather than cast by autocast on
every forward pass, which re-reads all 110 M fp32 weights per call: 16% more comments per second on
BERT-base, with scores within 0.003 of fp32 (`bench/scoring.py` prints the difference). On a CPU, the
Linear layers' bf16 weights are also laid out once in oneDNN's blocked format (`pack_linear_layers`), which
its matrix kernels otherwise rebuild from the plain weights on every call: the same scores, 10-30% less time
per forward pass on an AMX Xeon (the most on short sub-batches).

Where the CPU has no native bf16 but has int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI or AMX),
`int8` quantizes the Linear layers' weights once at load and their activations per call (PyTorch's dynamic
quantization, x86/fbgemm kernels): 1.8-2.5x the fp32 rate on BERT-base on an Ice Lake Xeon, scores within
0.01 of fp32. So `auto` is bf16 where the CPU has native bf16, int8 where it has VNNI and no bf16.

On a CPU with AVX2 and neither (AMD Zen 2 and 3, Intel before Ice Lake), int8's kernels multiply in 16-bit
steps and gain less, by chip: 1.4-1.9x fp32 on one AVX2-only EPYC, 1.56x on another (batched BERT-base,
two threads: 24.9 against 15.9 comments/s, scores within 0.008). There `auto` times fp32 against int8 as
the model loads (about 7 s on that EPYC: fp32's probe pass takes 1.4 s on one thread, int8's 0.8 s) and
keeps int8 only if it is clearly faster.

Where the CPU has both, which is faster depends on the chip: on an AVX-512 BF16 Xeon bf16 and int8 ran about
level, while on an AMD EPYC with AVX-512 BF16 and VNNI, one thread scored 23/s in bf16 and 37/s in int8. So
there `auto` converts the model both ways and times each on the probe texts as it loads (about two seconds),
keeping bf16, the closer to fp32, unless int8 is clearly faster (PREFER_MARGIN).

A reduced precision is checked against fp32 as the model loads: a fixed set of probe texts is scored in
fp32 first, then in the reduced precision, and the largest difference is logged and announced with the
worker's scorer state (which /readyz lists). If a precision that `auto` picked strays more than
AUTO_TOLERANCE, the scorer reloads in fp32, saying so; one asked for by name is kept, with a warning.
"""

from __future__ import annotations

import copy
import ctypes
import functools
import gc
import hashlib
import logging
import math
import time
import warnings
from pathlib import Path
from typing import Sequence

from workers.scoring.base import ScoringInput

log = logging.getLogger(__name__)
PRECISIONS = ("auto", "fp32", "bf16", "int8")
#: Texts padded together: sorted by length, so each sub-batch pads to about its own length. Probe texts
#: timed at load go in one pass of this many; on a GPU a batch is cut into passes of at most this many.
SUB_BATCH = 8
#: On the CPU a batch, sorted by length, is cut where it costs least (`sub_batches`): a forward pass costs
#: a fixed part, about this many padded tokens' worth per torch thread, plus its padded tokens. Measured on
#: machine J (BERT-base, batches of 32 comments of 8-60 words in arrival order, int8, one thread): passes
#: of 8 comments 84/s; cut at a fixed part of 10 tokens 89/s, 20 tokens 91/s, 35 tokens 89/s, 0 (no
#: padding at all, 148 passes) 72/s; with two threads the best fixed part was 20-35 tokens, in bf16 10-20.
PASS_TOKENS_PER_THREAD = 20
#: The most texts in one CPU pass.
MAX_PASS = 16
#: The largest score difference from fp32, on the probe texts, that a precision `auto` picked may show.
#: Measured: bf16 0.003 and int8 0.006-0.010 on BERT-base (random weights). 0.03 allows three times int8's
#: worst seen; a model straying further is no longer the one the policy's thresholds were set for.
AUTO_TOLERANCE = 0.03
#: Where `auto` has two candidates, the less accurate one (int8) is kept only if a probe pass takes at most
#: this fraction of the more accurate one's (bf16, or fp32 on an AVX2-only CPU) time: a clear gain, not
#: timing noise.
PREFER_MARGIN = 0.85
#: Timed passes over the probe texts per candidate (the fastest counts), alternating between candidates.
TIMED_PASSES = 3
#: Tokens per probe text in the timed passes (comments of 8-60 words are about 10-80 tokens).
TIMING_TOKENS = 64
#: Scored at load in fp32 and in the reduced precision: short and long, friendly and hostile.
PROBE_TEXTS = (
    "Thanks for writing this up, it answered my question.",
    "This is the dumbest thing I have read all week, and you should be embarrassed.",
    "ok",
    "I disagree with the second point: the figures in the table do not add up, and the council's own "
    "report from last spring says the opposite about the bus routes.",
    "Shut up, you worthless idiot. Nobody wants you here.",
    "Great photos! Which lens did you use for the harbour shots?",
    "People like you are what is wrong with this town; get out and stay out.",
    "Could the author add a link to the original study? I would like to read the methodology, especially "
    "how the sample was chosen and whether the survey was weighted by age and region, because the result "
    "seems surprising given what the national figures showed over the same period.",
)


def _checkpoint_version(model_type: str, checkpoint: str | None) -> str:
    if checkpoint is None:
        from detoxify.detoxify import MODEL_URLS

        return Path(MODEL_URLS[model_type]).stem
    digest = hashlib.sha256()
    with open(checkpoint, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"{Path(checkpoint).stem}-{digest.hexdigest()[:12]}"


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX: bf16 matrix maths runs in hardware rather than emulated."""
    return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})


def cpu_has_int8_dot_product() -> bool:
    """VNNI (AVX-512 or AVX) or AMX: int8 multiply-accumulate in one instruction, what int8 kernels need
    to beat fp32 by much; PyTorch's x86 quantized engine must be there to use it."""
    return bool(_cpu_flags() & {"avx512_vnni", "avx_vnni", "amx_int8"}) and _has_x86_quantized_engine()


def cpu_has_int8_kernels() -> bool:
    """AVX2 or AVX-512 and PyTorch's x86 quantized engine: int8 kernels that may beat fp32 without VNNI."""
    return bool(_cpu_flags() & {"avx2", "avx512f"}) and _has_x86_quantized_engine()


def _has_x86_quantized_engine() -> bool:
    import torch

    return bool(set(torch.backends.quantized.supported_engines) & {"x86", "fbgemm"})


def auto_candidates(device: str) -> list[str]:
    """The precisions `auto` may use here, the closest to fp32 first: bf16 where the hardware has it
    natively, int8 on a CPU with VNNI; fp32 against int8, timed, on one with AVX2 and neither. None: fp32."""
    import torch

    if device.startswith("cuda"):
        return ["bf16"] if torch.cuda.is_bf16_supported() else []
    candidates = [name for name, present in (("bf16", cpu_has_native_bf16()), ("int8", cpu_has_int8_dot_product()))
                  if present]
    if not candidates and cpu_has_int8_kernels():
        return ["fp32", "int8"]
    return candidates


def precision_candidates(requested: str, device: str) -> list[str]:
    """The precisions a scorer converts to: the named one, or `auto`'s candidates (fp32 among them only
    where it is timed against int8). None: fp32."""
    if requested == "auto":
        return auto_candidates(device)
    return [] if requested == "fp32" else [requested]


def resolve_precision(requested: str, device: str) -> str:
    """The precision a scorer starts converting to: the named one, or `auto`'s first candidate (where it
    has two, the faster is then chosen by timing both as the model loads)."""
    return next(iter(precision_candidates(requested, device)), "fp32")


def _converted(model, precision: str, in_place: bool):
    """The fp32 model in bf16, int8 or fp32 (itself); a converted copy unless `in_place`."""
    import torch

    if precision == "fp32":
        return model if in_place else copy.deepcopy(model)
    if precision == "bf16":
        model = (model if in_place else copy.deepcopy(model)).to(torch.bfloat16)
        return pack_linear_layers(model) if next(model.parameters()).device.type == "cpu" else model
    if not in_place:
        model = copy.deepcopy(model)
    return quantize_linear_layers(model)


def quantize_linear_layers(model):
    """int8 weights for every Linear layer, activations quantized per call (CPU only)."""
    import torch

    with warnings.catch_warnings():
        # Deprecated in favour of torchao, yet present and working in the torch this project pins.
        warnings.filterwarnings("ignore", message=r".*(torch\.ao\.quantization|quantize_per_tensor).*deprecated")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


@functools.cache
def _packed_linear_type():
    """The module class of `pack_linear_layers` (made on first use: torch is imported only by a process that
    scores with Detoxify)."""
    import torch

    class PackedLinear(torch.nn.Module):
        """A bf16 Linear layer whose weight oneDNN laid out once for its kernels. `torch.nn.Linear` hands
        oneDNN the plain weight, which it then reorders on every call."""

        def __init__(self, linear: torch.nn.Linear):
            super().__init__()
            self.in_features, self.out_features = linear.in_features, linear.out_features
            self.register_buffer("weight", torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach()),
                                 persistent=False)
            self.register_buffer("bias", None if linear.bias is None else linear.bias.detach(), persistent=False)

        def forward(self, x):
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")

    return PackedLinear


def pack_linear_layers(model):
    """Replace a bf16 CPU model's Linear layers, in place, with ones whose weights oneDNN laid out once, where
    PyTorch has oneDNN bf16 kernels for this CPU; elsewhere (or if packing fails) the model stays as it was."""
    import torch

    if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        return model
    linears = [(parent, name, child) for parent in model.modules() for name, child in parent.named_children()
               if type(child) is torch.nn.Linear and child.weight.dtype == torch.bfloat16]
    try:
        packed = [_packed_linear_type()(child) for _, _, child in linears]
    except (RuntimeError, AttributeError) as exc:  # a torch without these oneDNN operators
        log.warning("bf16 Linear layers left unpacked: %s", exc)
        return model
    for (parent, name, _), layer in zip(linears, packed):
        setattr(parent, name, layer)
    return model


def fast_tokenizer(tokenizer):
    """Detoxify loads its model's Python ("slow") tokenizer; transformers' Rust twin of it, built from the
    same vocabulary and settings, makes the same ids in a seventh of the time (32 comments: 1.5 against
    10.6 ms on machine I, 2% of a batch's time). Where there is none, or it does not tokenize the probe
    texts the same, the slow one is kept."""
    import transformers
    from transformers.convert_slow_tokenizer import convert_slow_tokenizer

    fast_class = getattr(transformers, type(tokenizer).__name__ + "Fast", None)
    if tokenizer.is_fast or fast_class is None:
        return tokenizer
    try:
        fast = fast_class(tokenizer_object=convert_slow_tokenizer(tokenizer), **tokenizer.init_kwargs)
    except (ValueError, ImportError, KeyError, RuntimeError) as exc:  # no converter, or its library missing
        log.warning("keeping the slow tokenizer %s: %s", type(tokenizer).__name__, exc)
        return tokenizer
    probes = list(PROBE_TEXTS)
    if fast(probes, truncation=True)["input_ids"] != tokenizer(probes, truncation=True)["input_ids"]:
        log.warning("keeping the slow tokenizer %s: its fast twin tokenizes the probe texts differently",
                    type(tokenizer).__name__)
        return tokenizer
    # Texts are tokenised once for the whole batch (their lengths order it); `pad` then only pads each
    # sub-batch's ids, which is what the advice to call the tokenizer itself instead would redo.
    fast.deprecation_warnings["Asking-to-pad-a-fast-tokenizer"] = True
    return fast


def sub_batches(lengths: Sequence[int], pass_tokens: float, max_items: int) -> list[range]:
    """Cut texts sorted by length (`lengths`, shortest first) into consecutive passes, each padded to its
    longest text, for the least total cost: per pass `pass_tokens` (its fixed part, in tokens) plus its
    padded tokens, at most `max_items` texts a pass."""
    n = len(lengths)
    cost = [0.0] + [math.inf] * n  # cost[j]: the least for the first j texts
    start = [0] * (n + 1)  # where the last pass of that best cut starts
    for end in range(1, n + 1):
        for first in range(max(0, end - max_items), end):
            candidate = cost[first] + pass_tokens + (end - first) * lengths[end - 1]
            if candidate < cost[end]:
                cost[end], start[end] = candidate, first
    passes: list[range] = []
    while n:
        passes.append(range(start[n], n))
        n = start[n]
    return passes[::-1]


def release_freed_memory() -> None:
    """Give the heap pages freed while loading back to the OS. Loading holds the checkpoint's state dict
    beside the model, and a reduced precision frees the fp32 weights; glibc keeps such freed pages
    (its mmap threshold rises once large blocks are freed), so without this the process stays as large
    as at its peak."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class DetoxifyScorer:
    backend = "detoxify"
    fallback_reason = None

    def __init__(self, model_type: str, checkpoint: str | None = None, torch_threads: int = 0,
                 precision: str = "fp32", device: str = "cpu"):
        import torch

        if precision == "int8" and not device.startswith("cpu"):
            raise ValueError("int8 precision runs on the CPU only; use bf16 or fp32 on a GPU")
        candidates = precision_candidates(precision, device)
        self.precision = next(iter(candidates), "fp32")
        if torch_threads > 0:
            torch.set_num_threads(torch_threads)
        self.device = device
        self.fp32_difference: float | None = None
        #: Where `auto` timed two candidates: each one's fastest probe pass, in milliseconds.
        self.precision_timings: dict[str, float] | None = None
        self._load(model_type, checkpoint)
        if candidates:
            self._reduce_precision(model_type, checkpoint, candidates, chosen_by_auto=precision == "auto")
        release_freed_memory()
        self.model_version = f"{model_type}@{_checkpoint_version(model_type, checkpoint)}/{self.precision}"

    def _load(self, model_type: str, checkpoint: str | None) -> None:
        from detoxify import Detoxify

        detoxify = Detoxify(model_type=model_type, checkpoint=checkpoint, device=self.device)
        self.tokenizer = fast_tokenizer(detoxify.tokenizer)
        self.class_names = list(detoxify.class_names)
        self.model = detoxify.model.eval()
        self.max_length = min(getattr(self.tokenizer, "model_max_length", 512) or 512, 512)

    def _reduce_precision(self, model_type: str, checkpoint: str | None, candidates: list[str],
                          chosen_by_auto: bool) -> None:
        """Convert the fp32 model (in place, or a copy per candidate where there are two), measure how far
        the probe texts' scores moved, and where there are two candidates keep the faster."""
        probes = [ScoringInput(text) for text in PROBE_TEXTS]
        reference = self.score_batch(probes)
        models, differences = {}, {}
        for n, precision in enumerate(candidates):
            models[precision] = _converted(self.model, precision, in_place=n == len(candidates) - 1)
        for precision, model in models.items():
            if precision == "fp32":
                differences[precision] = 0.0
                continue
            self.model = model
            reduced = self.score_batch(probes)
            differences[precision] = round(max(abs(a[k] - b[k]) for a, b in zip(reference, reduced) for k in a), 5)
        if len(models) > 1:
            self.precision = self._faster(models, differences, probes)
        self.model = models[self.precision]
        models.clear()
        if self.precision == "fp32":  # timed against int8, and kept
            return
        self.fp32_difference = differences[self.precision]
        if self.fp32_difference <= AUTO_TOLERANCE:
            log.info("%s scores within %.4f of fp32 on the probe texts", self.precision, self.fp32_difference)
        elif chosen_by_auto:
            log.warning("%s strays %.4f from fp32 on the probe texts (more than %.2f): reloading in fp32",
                        self.precision, self.fp32_difference, AUTO_TOLERANCE)
            self.precision, self.fp32_difference, self.model = "fp32", None, None
            gc.collect()
            self._load(model_type, checkpoint)
        else:
            log.warning("%s strays %.4f from fp32 on the probe texts (more than %.2f); kept, as "
                        "MODQUEUE_TORCH_PRECISION asks for it", self.precision, self.fp32_difference, AUTO_TOLERANCE)

    def _time_probes(self, precision: str, features: list[dict]) -> float:
        """Seconds for one forward pass of the timing batch with the current model (the `precision` one)."""
        import torch

        started = time.perf_counter()
        with torch.inference_mode():
            self._forward(features)
        return time.perf_counter() - started

    def _faster(self, models: dict, differences: dict[str, float], probes: list[ScoringInput]) -> str:
        """Time each candidate on the probe texts (alternating, fastest pass counts) and pick: the first
        (the closest to fp32) unless a later one within AUTO_TOLERANCE takes at most PREFER_MARGIN of its
        time."""
        # One sub-batch of the probe texts cut to TIMING_TOKENS: a typical comment's length, and the same
        # bounded cost whatever the tokenizer makes of them.
        encoded = self.tokenizer([p.body for p in probes][:SUB_BATCH], truncation=True, max_length=TIMING_TOKENS)
        features = [{key: encoded[key][i] for key in encoded} for i in range(len(encoded["input_ids"]))]
        passes: dict[str, list[float]] = {precision: [] for precision in models}
        for _ in range(TIMED_PASSES):
            for precision, model in models.items():
                self.model = model
                passes[precision].append(self._time_probes(precision, features))
        best = {precision: min(seconds) for precision, seconds in passes.items()}
        self.precision_timings = {precision: round(seconds * 1000, 1) for precision, seconds in best.items()}
        chosen = next(iter(models))
        for precision in models:
            if differences[precision] <= AUTO_TOLERANCE and (differences[chosen] > AUTO_TOLERANCE
                                                              or best[precision] <= PREFER_MARGIN * best[chosen]):
                chosen = precision
        log.info("auto precision: probe pass %s; keeping %s",
                 ", ".join(f"{p} {ms:.0f} ms" for p, ms in self.precision_timings.items()), chosen)
        return chosen

    @property
    def source(self) -> str:
        return f"{self.backend}/{self.model_version}"

    @property
    def attributes(self) -> list[str]:
        return list(self.class_names)

    def passes(self, lengths: Sequence[int]) -> list[range]:
        """The forward passes for texts of these lengths in tokens (sorted, shortest first): on the CPU cut
        where they cost least; on a GPU passes of SUB_BATCH, as before (the cut by cost was measured on CPUs)."""
        import torch

        if self.device.startswith("cpu"):
            return sub_batches(lengths, PASS_TOKENS_PER_THREAD * torch.get_num_threads(), MAX_PASS)
        return [range(start, min(start + SUB_BATCH, len(lengths))) for start in range(0, len(lengths), SUB_BATCH)]

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
            for run in self.passes([len(features[i]["input_ids"]) for i in order]):
                chunk = [order[position] for position in run]
                probabilities = self._forward([features[i] for i in chunk]).tolist()
                for i, row in zip(chunk, probabilities):
                    results[i] = dict(zip(self.class_names, row))
        return results
