"""The learned spam model: logistic regression over hashed words, character n-grams and the signals.

Trained online with AdaGrad, one moderator label at a time. The margin of a comment on a site is the
sum of a global model (shared by all sites, holding the signal priors) and that site's own model, so a
new site starts from what every site has learned and then adapts to its own spam.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from workers.scoring.spam.signals import SIGNAL_NAMES, URL

TEXT_FEATURES = 2**17
N_SIGNALS = len(SIGNAL_NAMES)
SIGNAL_OFFSET = 2 * TEXT_FEATURES
BIAS_INDEX = SIGNAL_OFFSET + N_SIGNALS
N_FEATURES = BIAS_INDEX + 1
LEARNING_RATE = 0.5
# AdaGrad's accumulators start here rather than near zero, so the first labels move weights in
# proportion to their gradient instead of by a full learning-rate step each.
INITIAL_ACCUMULATOR = 0.1

# Before any label: what each signal says about spam, in log-odds (a clean comment starts near 0.05).
SIGNAL_PRIORS = {
    "honeypot": 9.0,
    "links": 2.0,
    "shortener": 2.0,
    "denied_domain": 5.0,
    "contact_details": 1.5,
    "promotion": 3.0,
    "shouting": 1.0,
    "repetition": 0.5,
    "near_duplicates": 5.0,
    "author_velocity": 2.0,
    "ip_velocity": 2.0,
    "prior_rejections": 2.0,
    "new_author": 0.3,
}
PRIOR_BIAS = -3.0


def _normalize(text: str) -> str:
    return URL.sub(" urltoken ", text).lower()


class Featurizer:
    """Stateless hashing of text plus the signal values into one sparse row per comment."""

    def __init__(self) -> None:
        self._words = HashingVectorizer(
            n_features=TEXT_FEATURES, alternate_sign=False, ngram_range=(1, 2), preprocessor=_normalize
        )
        self._chars = HashingVectorizer(
            n_features=TEXT_FEATURES, alternate_sign=False, analyzer="char_wb", ngram_range=(2, 5)
        )

    def transform(self, texts: list[str], signals: list[dict[str, float]]) -> sparse.csr_matrix:
        dense = np.array([[row.get(name, 0.0) for name in SIGNAL_NAMES] + [1.0] for row in signals], np.float32)
        return sparse.hstack(
            [self._words.transform(texts), self._chars.transform(texts), sparse.csr_matrix(dense)], format="csr"
        ).astype(np.float32)


@dataclass
class OnlineLogit:
    """Weights and AdaGrad accumulators of one scope (global or a site)."""

    weights: np.ndarray
    squared_gradients: np.ndarray

    @classmethod
    def empty(cls) -> "OnlineLogit":
        return cls(np.zeros(N_FEATURES, np.float32), np.full(N_FEATURES, INITIAL_ACCUMULATOR, np.float32))

    @classmethod
    def with_priors(cls) -> "OnlineLogit":
        model = cls.empty()
        for i, name in enumerate(SIGNAL_NAMES):
            model.weights[SIGNAL_OFFSET + i] = SIGNAL_PRIORS[name]
        model.weights[BIAS_INDEX] = PRIOR_BIAS
        return model

    def step(self, row: sparse.csr_matrix, gradient: float) -> None:
        # The bias stays at its prior: moderators label mostly what was held, so the share of spam
        # among labels says nothing about the share of spam among comments.
        keep = row.indices != BIAS_INDEX
        idx, values = row.indices[keep], row.data[keep] * gradient
        self.squared_gradients[idx] += values * values
        self.weights[idx] -= LEARNING_RATE * values / np.sqrt(self.squared_gradients[idx])

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, weights=self.weights, squared_gradients=self.squared_gradients)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "OnlineLogit":
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(arrays["weights"].astype(np.float32), arrays["squared_gradients"].astype(np.float32))


def combined_weights(global_model: OnlineLogit, site_model: OnlineLogit | None) -> np.ndarray:
    """The weights a site's comments are scored with: the global model's plus the site's. A vector of every
    feature (a quarter million): a batch adds them once per site, not once per comment."""
    return global_model.weights if site_model is None else global_model.weights + site_model.weights


def margins(rows: sparse.csr_matrix, global_model: OnlineLogit, site_model: OnlineLogit | None) -> np.ndarray:
    return rows @ combined_weights(global_model, site_model)


def probability(margin: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(margin, -30, 30)))


def learn(row: sparse.csr_matrix, is_spam: bool, global_model: OnlineLogit, site_model: OnlineLogit) -> None:
    """One AdaGrad step of log-loss on both scopes for a labelled comment."""
    gradient = float(probability(margins(row, global_model, site_model)[0])) - (1.0 if is_spam else 0.0)
    global_model.step(row, gradient)
    site_model.step(row, gradient)


def contributions(row: sparse.csr_matrix, weights: np.ndarray) -> dict:
    """Each signal's share of the margin (`weights`: `combined_weights`), plus the wording's (all text
    features together)."""
    dense_signals = row[0, SIGNAL_OFFSET:BIAS_INDEX].toarray().ravel()
    result = {name: float(weights[SIGNAL_OFFSET + i] * dense_signals[i]) for i, name in enumerate(SIGNAL_NAMES)}
    text = row[0, :SIGNAL_OFFSET]
    result["wording"] = float((text @ weights[:SIGNAL_OFFSET])[0])
    return result


