"""Class shares smoothed toward a prior: the one formula every label-dependent encoder uses."""

from __future__ import annotations

import numpy as np


def smoothed_shares(class_counts: np.ndarray, viewers: np.ndarray, prior: np.ndarray, pseudo: float) -> np.ndarray:
    """(items x classes) shares, (class_counts + pseudo x prior) / (viewers + pseudo); an item nobody (else)
    watched gets exactly its prior: one vector for every item, or (items x classes), one row per item (its
    parent's shares)."""
    return (class_counts + pseudo * prior) / (viewers[:, None] + pseudo)
