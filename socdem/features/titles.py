"""Title words: lower-cased letter runs of each video's title, reduced to their Russian Snowball
stem, so the inflected forms of a word ("рыбалка", "рыбалки", "рыбалкой") count as one.

Each distinct word is stemmed once; a title becomes its set of stems (a video x stem 0/1 matrix),
and a user's title words are the stems of the videos they watched (users x stems counts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import snowballstemmer

WORD = r"[^\W\d_]{2,}"  # letters only (any script), at least two


def stems(words: pd.Index) -> np.ndarray:
    """The Russian Snowball stem of each word (Latin words pass through nearly unchanged)."""
    return np.asarray(snowballstemmer.stemmer("russian").stemWords(list(words)), dtype=object)


def video_stems(titles: pd.Series) -> tuple[sp.csr_matrix, np.ndarray]:
    """(videos x stems 0/1 in the order of `titles`, the stem of each column)."""
    words = titles.reset_index(drop=True).fillna("").astype(str).str.lower().str.findall(WORD).explode().dropna()
    if words.empty:
        return sp.csr_matrix((len(titles), 0), dtype=np.float32), np.array([], dtype=object)
    video_pos = words.index.to_numpy()
    word_codes, distinct = pd.factorize(words)
    stem_codes, stem_values = pd.factorize(stems(pd.Index(distinct))[word_codes])
    matrix = sp.csr_matrix(
        (np.ones(len(stem_codes), dtype=np.float32), (video_pos, stem_codes)), shape=(len(titles), len(stem_values))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # a repeated word counts once per title
    return matrix, np.asarray(stem_values, dtype=object)
