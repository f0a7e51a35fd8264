"""Synthetic contests whose exact Bayes posterior is known (the oracle), so
every score can be set against the best achievable.

author_tastes.py  the class acts through authors and categories (Rutube-2024 layout)
jmlc.py           the same world written in the JMLC layout, with per-video counts
"""

from socdem.synthetic.author_tastes import generate
from socdem.synthetic.jmlc import generate_jmlc

GENERATORS = {"rutube2024": generate, "jmlc": generate_jmlc}  # by layout

__all__ = ["GENERATORS", "generate", "generate_jmlc"]
