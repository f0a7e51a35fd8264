"""Synthetic contests whose exact Bayes posterior is known (the oracle), so
every score can be set against the best achievable.

shared.py         class prior, channels, random streams, writers: what every family shares
family.py         users, per-event channels and the contest writer of the families below
author_tastes.py  the class acts through authors and categories (the default)
cowatch.py        ... through latent co-watching communities over a long-tailed catalogue
titles.py         ... through content topics that the (Russian, inflected) titles reveal
semantic.py       ... through semantic fields that only the titles' meaning reveals (semantic_words.py)
reallike.py       ... through individual items, MovieLens-100k-sized (1,000 users by default)
jmlc.py           the author_tastes world written in the JMLC layout, with per-video counts
"""

from socdem.synthetic import author_tastes, cowatch, reallike, semantic, titles
from socdem.synthetic.author_tastes import generate
from socdem.synthetic.jmlc import generate_jmlc

GENERATORS = {"rutube2024": generate, "jmlc": generate_jmlc}  # author_tastes, by layout
FAMILIES = {  # family: (generator in the Rutube-2024 layout, default number of users)
    "author_tastes": (author_tastes.generate, 50_000),
    "cowatch": (cowatch.generate, cowatch.DEFAULT_USERS),
    "titles": (titles.generate, titles.DEFAULT_USERS),
    "reallike": (reallike.generate, reallike.DEFAULT_USERS),
    "semantic": (semantic.generate, semantic.DEFAULT_USERS),
}

__all__ = ["FAMILIES", "GENERATORS", "generate", "generate_jmlc"]
