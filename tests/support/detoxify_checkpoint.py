"""Build a Detoxify-format checkpoint with random weights, for offline tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

DETOXIFY_CLASSES = [
    "toxic",
    "severe_toxic",
    "obscene",
    "threat",
    "insult",
    "identity_hate",
]

TINY_DIMENSIONS = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
BERT_BASE_DIMENSIONS = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)


def _write_vocab(folder: Path, words: list[str]) -> None:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces = ["##" + ch for ch in letters]
    vocab = specials + letters + pieces + [w for w in words if w not in letters]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")


def build_checkpoint(
    folder: Path,
    *,
    dimensions: dict | None = None,
    words: list[str] | None = None,
    classes: list[str] | None = None,
    seed: int = 0,
) -> Path:
    """Write a BERT config, a vocabulary and a Detoxify `.ckpt` into `folder`; return the checkpoint path."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    folder.mkdir(parents=True, exist_ok=True)
    classes = classes or DETOXIFY_CLASSES
    _write_vocab(folder, words or ["you", "are", "an", "idiot", "nice", "article", "thanks", "stupid"])
    vocab_size = len((folder / "vocab.txt").read_text().split())
    config = BertConfig(
        vocab_size=vocab_size,
        max_position_embeddings=512,
        num_labels=len(classes),
        **(dimensions or TINY_DIMENSIONS),
    )
    config.save_pretrained(folder)
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "model_max_length": 512}))
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config)
    checkpoint = {
        "config": {
            # detoxify resolves the HF config and tokenizer from `model_type`: a local folder keeps it offline.
            "arch": {
                "args": {
                    "model_type": str(folder),
                    "model_name": "BertForSequenceClassification",
                    "tokenizer_name": "BertTokenizer",
                    "num_classes": len(classes),
                }
            },
            "dataset": {"args": {"classes": classes}},
        },
        "state_dict": model.state_dict(),
    }
    path = folder / "detoxify-test.ckpt"
    torch.save(checkpoint, path)
    return path
