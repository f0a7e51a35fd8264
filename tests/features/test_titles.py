import numpy as np
import pandas as pd

from socdem.features.titles import video_stems


def test_inflected_forms_share_a_stem_and_a_title_counts_a_word_once():
    titles = pd.Series(["Рыбалка на Волге", "Зимняя рыбалки и рыбалку", "МАНИКЮР дома", None, "маникюром 2024"])
    matrix, stems = video_stems(titles)
    assert matrix.shape == (5, len(stems))
    column = {stem: j for j, stem in enumerate(stems)}
    fishing, nails = column["рыбалк"], column["маникюр"]
    np.testing.assert_array_equal(matrix[:, fishing].toarray().ravel(), [1, 1, 0, 0, 0])  # three forms, once per title
    np.testing.assert_array_equal(matrix[:, nails].toarray().ravel(), [0, 0, 1, 0, 1])
    assert matrix[3].nnz == 0 and not any(s.isdigit() for s in stems)  # no title; numbers are not words
    assert all(len(s) >= 2 for s in stems)


def test_no_titles_at_all_gives_no_columns():
    matrix, stems = video_stems(pd.Series(["", None], dtype=object))
    assert matrix.shape == (2, 0) and len(stems) == 0
