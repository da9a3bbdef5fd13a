"""Scorers: Detoxify through its real loading code, the offline fallback, and spam signals."""

from __future__ import annotations

import logging
import math
import random

import pytest
import torch
from sqlalchemy.exc import OperationalError

from service.settings import Settings
from workers.base import DatabaseTask
from workers.scoring import load_scorers, load_toxicity_scorer
from workers.scoring.base import ScoringInput
from workers.scoring.detoxify_backend import DetoxifyScorer, sub_batches
from workers.scoring.fallback import ProfanityCheckScorer

TEXTS = ["you are an idiot", "nice article thanks", "thanks"]


def test_detoxify_scorer_loads_local_checkpoint_and_scores_a_batch_in_one_call(tiny_checkpoint):
    from detoxify import Detoxify

    scorer = DetoxifyScorer("original", str(tiny_checkpoint))
    batch = scorer.score_batch([ScoringInput(t) for t in TEXTS])

    reference = Detoxify(checkpoint=str(tiny_checkpoint))
    assert len(batch) == 3
    for text, scores in zip(TEXTS, batch):
        assert set(scores) == {"toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"}
        single = reference.predict(text)
        for name, value in scores.items():
            assert 0.0 <= value <= 1.0
            assert value == pytest.approx(single[name], abs=1e-4)
    assert scorer.model_version.startswith("original@detoxify-test-")
    assert scorer.source.startswith("detoxify/")


def test_detoxify_scorer_handles_a_batch_of_one(tiny_checkpoint):
    scores = DetoxifyScorer("original", str(tiny_checkpoint)).score_batch([ScoringInput("thanks")])
    assert len(scores) == 1 and isinstance(scores[0]["toxicity"], float)


def test_unloadable_detoxify_falls_back_loudly(tmp_path, caplog):
    settings = Settings.from_env({"MODQUEUE_DETOXIFY_CHECKPOINT": str(tmp_path / "missing.ckpt")})

    with caplog.at_level(logging.ERROR):
        scorer = load_toxicity_scorer(settings)

    assert isinstance(scorer, ProfanityCheckScorer)
    assert "missing.ckpt" in scorer.fallback_reason
    assert any("FALLING BACK" in r.getMessage() for r in caplog.records)


def test_fallback_scorer_separates_abuse_from_clean_text():
    clean, abusive = ProfanityCheckScorer().score_batch(
        [ScoringInput("Interesting article, thanks"), ScoringInput("you are a fucking idiot")]
    )
    assert set(clean) == {"toxicity"}
    assert abusive["toxicity"] > 0.8 > 0.2 > clean["toxicity"]


class _PriorOnly:
    def for_scopes(self, scopes):
        from workers.scoring.spam.model import OnlineLogit

        return {s: (0, OnlineLogit.with_priors() if s == "global" else OnlineLogit.empty()) for s in scopes}


def test_scorer_set_records_the_source_of_every_score():
    scorers = load_scorers(Settings.from_env({"MODQUEUE_TOXICITY_MODEL": "fallback"}), redis_client=None)
    [result] = scorers.score([ScoringInput("hello", site_id=1)], _PriorOnly())
    assert set(result.scores) == set(result.sources) == {"toxicity", "spam"}
    assert result.sources["toxicity"].startswith("fallback/alt-profanity-check@")
    assert result.sources["spam"] == "spam-model/global.0+site.0"
    assert result.signals["honeypot"] == 0.0
    assert scorers.state()["backend"] == "fallback"


class _FlakyTask(DatabaseTask):
    transaction_attempts = 3

    def __init__(self, session_factory):
        self._factory = session_factory

    @property
    def session_factory(self):
        return self._factory


def test_transient_database_errors_are_retried(session_factory, monkeypatch):
    monkeypatch.setattr("workers.base.time.sleep", lambda _s: None)
    calls = []

    def work(session):
        calls.append(session)
        if len(calls) < 3:
            raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))
        return "done"

    assert _FlakyTask(session_factory).run_in_transaction(work) == "done"
    assert len(calls) == 3


def test_persistent_database_errors_propagate_after_the_last_attempt(session_factory, monkeypatch):
    monkeypatch.setattr("workers.base.time.sleep", lambda _s: None)

    def work(session):
        raise OperationalError("SELECT 1", {}, ConnectionError("down"))

    with pytest.raises(OperationalError):
        _FlakyTask(session_factory).run_in_transaction(work)


MIXED = ["thanks", "you are an idiot and stupid", "nice", "an article about nice things you are thanks",
         "stupid", "you are nice", "idiot " * 40, "article"]


@pytest.mark.parametrize("precision, tolerance", [("bf16", 0.02), ("int8", 0.05)])
def test_reduced_precision_agrees_with_fp32(tiny_checkpoint, precision, tolerance):
    items = [ScoringInput(t) for t in MIXED]
    reference = DetoxifyScorer("original", str(tiny_checkpoint), precision="fp32").score_batch(items)
    reduced = DetoxifyScorer("original", str(tiny_checkpoint), precision=precision)

    scores = reduced.score_batch(items)

    assert reduced.model_version.endswith("/" + precision)
    worst = max(abs(a[k] - b[k]) for a, b in zip(reference, scores) for k in a)
    assert worst < tolerance


def test_bf16_linear_layers_are_packed_once_where_onednn_has_bf16_kernels(tiny_checkpoint):
    import torch

    packed = DetoxifyScorer("original", str(tiny_checkpoint), precision="bf16")
    plain = DetoxifyScorer("original", str(tiny_checkpoint), precision="fp32")
    plain.model = plain.model.to(torch.bfloat16)  # bf16 with torch's own Linear layers
    items = [ScoringInput(t) for t in MIXED]

    linears = [m for m in packed.model.modules() if isinstance(m, torch.nn.Linear)]
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        assert linears == []  # every one replaced by its packed form
        assert packed.model.classifier.weight.dtype == torch.bfloat16
    else:  # no oneDNN bf16 kernels for this CPU: torch's Linear layers, unchanged
        assert len(linears) == len([m for m in plain.model.modules() if isinstance(m, torch.nn.Linear)])
    for a, b in zip(packed.score_batch(items), plain.score_batch(items)):
        assert a == pytest.approx(b, abs=2e-3)


def test_the_scorer_tokenizes_with_the_fast_twin_of_detoxifys_tokenizer_into_the_same_ids(tiny_checkpoint):
    from detoxify import Detoxify

    scorer = DetoxifyScorer("original", str(tiny_checkpoint), precision="fp32")
    slow = Detoxify(model_type="original", checkpoint=str(tiny_checkpoint)).tokenizer
    texts = [*MIXED, "Héllo WORLD!! naïve café \u2014 \u201cquotes\u201d \u65e5\u672c\u8a9e \U0001f600", "",
             "don't stop-believing... U.S.A.", "x" * 3000, "tab\there\nnewline  spaces"]

    assert scorer.tokenizer.is_fast and not slow.is_fast
    fast_ids = scorer.tokenizer(texts, truncation=True, max_length=scorer.max_length)["input_ids"]
    assert fast_ids == slow(texts, truncation=True, max_length=scorer.max_length)["input_ids"]


def test_the_slow_tokenizer_is_kept_where_no_fast_twin_can_be_built(tiny_checkpoint, monkeypatch, caplog):
    import importlib

    # The module (the package's attribute of the same name is the function).
    converters = importlib.import_module("transformers.convert_slow_tokenizer")

    def no_converter(tokenizer):
        raise ValueError(f"no converter for {type(tokenizer).__name__}")

    monkeypatch.setattr(converters, "convert_slow_tokenizer", no_converter)
    scorer = DetoxifyScorer("original", str(tiny_checkpoint), precision="fp32")

    assert not scorer.tokenizer.is_fast
    assert "keeping the slow tokenizer BertTokenizer" in caplog.text
    assert len(scorer.score_batch([ScoringInput(t) for t in MIXED])) == len(MIXED)


def test_length_sorted_sub_batches_return_scores_in_input_order(tiny_checkpoint, monkeypatch):
    scorer = DetoxifyScorer("original", str(tiny_checkpoint), precision="fp32")
    monkeypatch.setattr("workers.scoring.detoxify_backend.MAX_PASS", 3)
    assert len(scorer.passes([10] * len(MIXED))) > 1
    together = scorer.score_batch([ScoringInput(t) for t in MIXED])
    one_by_one = [scorer.score_batch([ScoringInput(t)])[0] for t in MIXED]
    for a, b in zip(together, one_by_one):
        assert a == pytest.approx(b, abs=1e-4)


def test_auto_precision_follows_the_hardware(monkeypatch):
    from workers.scoring import detoxify_backend

    monkeypatch.setattr(detoxify_backend, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(detoxify_backend, "cpu_has_int8_dot_product", lambda: True)
    assert detoxify_backend.auto_candidates("cpu") == ["bf16", "int8"]  # timed against each other on load
    assert detoxify_backend.resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(detoxify_backend, "cpu_has_native_bf16", lambda: False)
    assert detoxify_backend.auto_candidates("cpu") == ["int8"]
    assert detoxify_backend.resolve_precision("auto", "cpu") == "int8"
    monkeypatch.setattr(detoxify_backend, "cpu_has_int8_dot_product", lambda: False)
    monkeypatch.setattr(detoxify_backend, "cpu_has_int8_kernels", lambda: True)
    assert detoxify_backend.auto_candidates("cpu") == ["fp32", "int8"]  # AVX2 alone: int8 timed against fp32
    assert detoxify_backend.resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(detoxify_backend, "cpu_has_int8_kernels", lambda: False)
    assert detoxify_backend.auto_candidates("cpu") == []
    assert detoxify_backend.resolve_precision("auto", "cpu") == "fp32"
    assert detoxify_backend.resolve_precision("fp32", "cpu") == "fp32"
    assert detoxify_backend.resolve_precision("int8", "cpu") == "int8"


def test_cpu_features_are_read_from_the_flags_line(monkeypatch, tmp_path):
    from workers.scoring import detoxify_backend

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Some CPU avx512_bf16 in its name\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    real_path = detoxify_backend.Path
    monkeypatch.setattr(detoxify_backend, "Path", lambda p: cpuinfo if p == "/proc/cpuinfo" else real_path(p))
    assert not detoxify_backend.cpu_has_native_bf16()
    assert detoxify_backend.cpu_has_int8_dot_product()
    cpuinfo.write_text("flags\t\t: fpu sse2 avx2 fma\n")
    assert not detoxify_backend.cpu_has_int8_dot_product()
    assert detoxify_backend.cpu_has_int8_kernels()
    cpuinfo.write_text("flags\t\t: fpu sse2 sse4_2 avx\n")
    assert not detoxify_backend.cpu_has_int8_kernels()


def _pick_int8_for_auto(monkeypatch):
    from workers.scoring import detoxify_backend

    monkeypatch.setattr(detoxify_backend, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(detoxify_backend, "cpu_has_int8_dot_product", lambda: True)


def test_reduced_precision_is_measured_against_fp32_as_it_loads(tiny_checkpoint, monkeypatch, caplog):
    _pick_int8_for_auto(monkeypatch)
    with caplog.at_level(logging.INFO, logger="workers.scoring.detoxify_backend"):
        scorer = DetoxifyScorer("original", str(tiny_checkpoint), precision="auto")

    assert scorer.precision == "int8" and scorer.model_version.endswith("/int8")
    assert 0 <= scorer.fp32_difference <= 0.03
    assert any("within" in r.getMessage() and "of fp32" in r.getMessage() for r in caplog.records)
    settings = Settings.from_env({"MODQUEUE_DETOXIFY_CHECKPOINT": str(tiny_checkpoint),
                                  "MODQUEUE_TORCH_PRECISION": "auto"})
    assert load_scorers(settings, None).state()["fp32_difference"] == pytest.approx(scorer.fp32_difference)


def _offer_bf16_and_int8(monkeypatch):
    from workers.scoring import detoxify_backend

    monkeypatch.setattr(detoxify_backend, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(detoxify_backend, "cpu_has_int8_dot_product", lambda: True)


def test_auto_times_bf16_against_int8_where_the_cpu_has_both(tiny_checkpoint, monkeypatch, caplog):
    _offer_bf16_and_int8(monkeypatch)
    items = [ScoringInput(t) for t in MIXED]
    with caplog.at_level(logging.INFO, logger="workers.scoring.detoxify_backend"):
        scorer = DetoxifyScorer("original", str(tiny_checkpoint), precision="auto")

    assert set(scorer.precision_timings) == {"bf16", "int8"}
    assert all(ms > 0 for ms in scorer.precision_timings.values())
    assert scorer.precision in ("bf16", "int8") and scorer.model_version.endswith("/" + scorer.precision)
    assert 0 <= scorer.fp32_difference <= 0.03
    # The kept model is the chosen precision's: scores as a scorer loaded in that precision by name gives.
    named = DetoxifyScorer("original", str(tiny_checkpoint), precision=scorer.precision)
    for a, b in zip(named.score_batch(items), scorer.score_batch(items)):
        assert a == pytest.approx(b, abs=1e-6)
    assert any("auto precision: probe pass" in r.getMessage() for r in caplog.records)
    settings = Settings.from_env({"MODQUEUE_DETOXIFY_CHECKPOINT": str(tiny_checkpoint),
                                  "MODQUEUE_TORCH_PRECISION": "auto"})
    assert set(load_scorers(settings, None).state()["precision_timings_ms"]) == {"bf16", "int8"}


@pytest.mark.parametrize("int8_share, kept", [(0.5, "int8"), (0.95, "bf16")])
def test_auto_keeps_bf16_unless_int8_is_clearly_faster(tiny_checkpoint, monkeypatch, int8_share, kept):
    _offer_bf16_and_int8(monkeypatch)
    seconds = {"bf16": 0.2, "int8": 0.2 * int8_share}
    monkeypatch.setattr(DetoxifyScorer, "_time_probes", lambda self, precision, features: seconds[precision])

    scorer = DetoxifyScorer("original", str(tiny_checkpoint), precision="auto")

    assert scorer.precision == kept and scorer.model_version.endswith("/" + kept)
    assert scorer.precision_timings == {"bf16": 200.0, "int8": round(200 * int8_share, 1)}
    assert isinstance(scorer.model.classifier, torch.ao.nn.quantized.dynamic.Linear) == (kept == "int8")
    assert (next(scorer.model.parameters()).dtype == torch.bfloat16) == (kept == "bf16")


def _offer_only_avx2(monkeypatch):
    from workers.scoring import detoxify_backend

    monkeypatch.setattr(detoxify_backend, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(detoxify_backend, "cpu_has_int8_dot_product", lambda: False)
    monkeypatch.setattr(detoxify_backend, "cpu_has_int8_kernels", lambda: True)


def test_auto_times_fp32_against_int8_on_an_avx2_only_cpu(tiny_checkpoint, monkeypatch):
    _offer_only_avx2(monkeypatch)
    items = [ScoringInput(t) for t in MIXED]

    scorer = DetoxifyScorer("original", str(tiny_checkpoint), precision="auto")

    assert set(scorer.precision_timings) == {"fp32", "int8"}
    assert all(ms > 0 for ms in scorer.precision_timings.values())
    assert scorer.model_version.endswith("/" + scorer.precision)
    named = DetoxifyScorer("original", str(tiny_checkpoint), precision=scorer.precision)
    for a, b in zip(named.score_batch(items), scorer.score_batch(items)):
        assert a == pytest.approx(b, abs=1e-6)


@pytest.mark.parametrize("int8_share, kept", [(0.6, "int8"), (0.95, "fp32")])
def test_auto_keeps_fp32_unless_int8_is_clearly_faster(tiny_checkpoint, monkeypatch, int8_share, kept):
    _offer_only_avx2(monkeypatch)
    seconds = {"fp32": 0.2, "int8": 0.2 * int8_share}
    monkeypatch.setattr(DetoxifyScorer, "_time_probes", lambda self, precision, features: seconds[precision])
    items = [ScoringInput(t) for t in MIXED]
    reference = DetoxifyScorer("original", str(tiny_checkpoint), precision="fp32").score_batch(items)

    scorer = DetoxifyScorer("original", str(tiny_checkpoint), precision="auto")

    assert scorer.precision == kept and scorer.model_version.endswith("/" + kept)
    assert scorer.precision_timings == {"fp32": 200.0, "int8": round(200 * int8_share, 1)}
    assert isinstance(scorer.model.classifier, torch.nn.Linear) == (kept == "fp32")  # int8 swaps Linear layers
    assert next(scorer.model.parameters()).dtype == torch.float32
    if kept == "fp32":  # the untouched model: fp32's own scores, and no difference to report
        assert scorer.fp32_difference is None
        for a, b in zip(reference, scorer.score_batch(items)):
            assert a == pytest.approx(b, abs=1e-6)
    else:
        assert 0 <= scorer.fp32_difference <= 0.03


def test_auto_precision_that_strays_from_fp32_reloads_in_fp32(tiny_checkpoint, monkeypatch, caplog):
    _pick_int8_for_auto(monkeypatch)
    monkeypatch.setattr("workers.scoring.detoxify_backend.AUTO_TOLERANCE", -1.0)  # any difference is too much
    items = [ScoringInput(t) for t in MIXED]
    reference = DetoxifyScorer("original", str(tiny_checkpoint), precision="fp32").score_batch(items)

    with caplog.at_level(logging.WARNING):
        scorer = DetoxifyScorer("original", str(tiny_checkpoint), precision="auto")
        named = DetoxifyScorer("original", str(tiny_checkpoint), precision="int8")

    assert scorer.precision == "fp32" and scorer.model_version.endswith("/fp32") and scorer.fp32_difference is None
    for a, b in zip(reference, scorer.score_batch(items)):
        assert a == pytest.approx(b, abs=1e-6)
    assert any("reloading in fp32" in r.getMessage() for r in caplog.records)
    # Asked for by name: kept, with a warning.
    assert named.precision == "int8" and named.fp32_difference is not None
    assert any("kept, as MODQUEUE_TORCH_PRECISION asks for it" in r.getMessage() for r in caplog.records)


def test_int8_is_refused_on_a_gpu(tiny_checkpoint):
    with pytest.raises(ValueError, match="CPU only"):
        DetoxifyScorer("original", str(tiny_checkpoint), precision="int8", device="cuda")


def _cheapest_cut_by_trying_all(lengths: list[int], pass_tokens: float, max_items: int) -> float:
    best = math.inf
    for mask in range(2 ** (len(lengths) - 1)):  # bit k set: a pass ends after text k
        ends = [k + 1 for k in range(len(lengths) - 1) if mask >> k & 1] + [len(lengths)]
        starts = [0, *ends[:-1]]
        if all(end - start <= max_items for start, end in zip(starts, ends)):
            best = min(best, sum(pass_tokens + (end - start) * lengths[end - 1] for start, end in zip(starts, ends)))
    return best


def test_sub_batches_cover_each_text_once_in_order_and_cost_the_least_possible():
    rng = random.Random(5)
    for _ in range(200):
        lengths = sorted(rng.randint(3, 90) for _ in range(rng.randint(1, 9)))
        pass_tokens, max_items = rng.choice([0, 5, 20, 60, 500]), rng.randint(1, 5)
        passes = sub_batches(lengths, pass_tokens, max_items)

        assert [i for run in passes for i in run] == list(range(len(lengths)))
        assert all(0 < len(run) <= max_items for run in passes)
        cost = sum(pass_tokens + len(run) * lengths[run[-1]] for run in passes)
        assert cost == _cheapest_cut_by_trying_all(lengths, pass_tokens, max_items)


def test_sub_batches_cut_where_the_length_jumps_and_fill_passes_of_equal_lengths():
    assert sub_batches([10] * 4 + [60] * 4, 20, 16) == [range(4), range(4, 8)]
    equal = sub_batches([30] * 40, 20, 16)  # no padding to save: as few passes as may be
    assert len(equal) == 3 and all(len(run) <= 16 for run in equal)
    assert sub_batches([10, 11, 12, 80], 0, 16) == [range(1), range(1, 2), range(2, 3), range(3, 4)]
