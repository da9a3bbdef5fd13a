"""Banned and suspect words, matched through the usual evasions, in time linear in the comment's length.

A comment is folded to plain lower-case letters (Unicode compatibility forms, accents, invisible
characters, look-alike letters from other scripts, leetspeak digits and symbols), cut into words, and runs
of single letters (`i.d.i.o.t`) are joined. A word matches a listed word when their letters are the same
after collapsing repeats and each repeated letter appears at least as often (`iiidiot` matches `idiot`,
`as` does not match `ass`). Only whole words match, optionally with a plural or verb ending, so innocent
words that merely contain a listed one (Scunthorpe) do not. No regular expression runs over the comment,
so nothing can backtrack.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from itertools import groupby
from typing import Iterable

# Letters from other scripts that look like Latin ones (the evasion is visual, so the map is too).
CONFUSABLES = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "к": "k", "м": "m", "т": "t", "н": "h", "в": "b", "ո": "n", "ս": "u",
    "α": "a", "ο": "o", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    "ɡ": "g", "ı": "i", "ł": "l",
})
# Digits and symbols used as letters. The alternative reading of 1 and | (as l) is tried too.
LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s",
        "!": "i", "|": "i", "+": "t", "€": "e", "£": "l"}
LEET_ALTERNATIVES = {"1": "l", "|": "l"}
SYMBOLS = "".join(ch for ch in LEET if not ch.isalnum())
ENDINGS = ("", "s", "es", "ed", "er", "ers", "ing")
MAX_WORD = 64


@dataclass(frozen=True)
class WordMatch:
    word: str
    start: int
    end: int


def _runs(letters: str) -> tuple[str, tuple[int, ...]]:
    groups = [(ch, len(list(run))) for ch, run in groupby(letters)]
    return "".join(ch for ch, _ in groups), tuple(n for _, n in groups)


def _fold_char(ch: str, alternative: bool) -> str:
    if alternative and ch in LEET_ALTERNATIVES:
        return LEET_ALTERNATIVES[ch]
    if ch in LEET:
        return LEET[ch]
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", ch).casefold())
    base = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(CONFUSABLES)
    return base if base.isascii() and base.isalpha() else ("" if _invisible(ch) else " ")


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cf", "Mn", "Me") or ch in "\u00ad\u034f"


def _end_word(words: list, letters: list[tuple[str, int, bool]]) -> None:
    """Close a word; symbols at its end (`idiot!`) become one-letter words of their own."""
    tail = []
    while len(letters) > 1 and text_symbol(letters[-1]):
        tail.append(letters.pop())
    if letters:
        words.append(("".join(ch for ch, _, _ in letters), letters[0][1], letters[-1][1] + 1))
    for ch, index, _ in reversed(tail):
        words.append((ch, index, index + 1))


def text_symbol(letter: tuple[str, int, bool]) -> bool:
    """Whether a folded letter came from a symbol (`!`, `@`, `$` …) rather than a letter or digit."""
    return letter[2]


def _tokens(text: str, alternative: bool) -> list[tuple[str, int, int]]:
    """(letters, start, end) per word of the folded text; positions point into the original text."""
    words: list[tuple[str, int, int]] = []
    letters: list[tuple[str, int, bool]] = []
    for index, ch in enumerate(text):
        folded = _fold_char(ch, alternative)
        if folded == "":
            continue
        if folded == " ":
            _end_word(words, letters)
            letters = []
            continue
        letters.extend((c, index, ch in SYMBOLS) for c in folded)
    _end_word(words, letters)
    return _join_spelled_out(words)


def _join_spelled_out(words: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Join runs of single letters (`i d i o t`, `i.d.i.o.t`) into the word they spell."""
    joined: list[tuple[str, int, int]] = []
    run: list[tuple[str, int, int]] = []
    for word in words + [("", 0, 0)]:
        if word[0] and len(set(word[0])) == 1 and len(word[0]) <= 3:  # `i`, or a held key: `mm`
            run.append(word)
            continue
        if len(run) >= 3:
            # A neighbouring one-letter word ("a", "I") may have joined the run: try it without it too.
            for first, last in ((0, len(run)), (1, len(run)), (0, len(run) - 1), (1, len(run) - 1)):
                if last - first >= 3:
                    joined.append(("".join(w[0] for w in run[first:last]), run[first][1], run[last - 1][2]))
        else:
            joined.extend(run)
        run = []
        if word[0]:
            joined.append(word)
    return joined


class WordList:
    """A compiled list of words; `find(text)` returns every match with its span in the text."""

    def __init__(self, words: Iterable[str]):
        self.by_skeleton: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
        for word in words:
            letters = "".join(w[0] for w in _tokens(word.strip(), alternative=False))
            if not letters:
                continue
            skeleton, counts = _runs(letters)
            self.by_skeleton.setdefault(skeleton, []).append((word.strip(), counts))

    def _match(self, letters: str) -> str | None:
        if len(letters) > MAX_WORD:
            return None
        for ending in ENDINGS:
            if ending and not letters.endswith(ending):
                continue
            skeleton, counts = _runs(letters[: len(letters) - len(ending)] if ending else letters)
            for word, needed in self.by_skeleton.get(skeleton, ()):
                if all(have >= need for have, need in zip(counts, needed)):
                    return word
        return None

    def find(self, text: str) -> list[WordMatch]:
        if not self.by_skeleton:
            return []
        found: dict[tuple[int, int], WordMatch] = {}
        for alternative in (False, True):
            for letters, start, end in _tokens(text, alternative):
                word = self._match(letters)
                if word is not None and (start, end) not in found:
                    found[(start, end)] = WordMatch(word, start, end)
        return sorted(found.values(), key=lambda m: m.start)
