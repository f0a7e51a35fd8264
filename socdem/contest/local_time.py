"""Local time of events: timestamps carry Moscow time; a user's local time is
the timestamp shifted to the region's UTC offset (no DST in Russia since 2014).
A region not in the table keeps Moscow time."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

MOSCOW_OFFSET_HOURS = 3


@lru_cache(maxsize=1)
def region_offsets() -> dict[str, int]:
    with resources.files("socdem.resources").joinpath("regions.csv").open() as fh:
        table = pd.read_csv(fh)
    return dict(zip(table["region"], table["utc_offset_hours"].astype(int)))


def offsets_of(region_names) -> np.ndarray:
    """UTC offset in hours of each distinct region name (unknown: Moscow), for callers holding codes."""
    table = region_offsets()
    return np.array([table.get(r, MOSCOW_OFFSET_HOURS) for r in region_names], dtype=np.int64)


def offset_hours(regions: pd.Series) -> np.ndarray:
    """UTC offset in hours per event (vectorised through the region categories)."""
    codes, uniques = pd.factorize(regions)
    per_unique = np.append(offsets_of(uniques), MOSCOW_OFFSET_HOURS)
    return per_unique[codes]  # code -1 (missing region) picks the trailing Moscow entry


def local_seconds(ts_utc: np.ndarray, regions: pd.Series) -> np.ndarray:
    """Seconds since the epoch on the local wall clock (use with // 3600 % 24 etc.)."""
    return np.asarray(ts_utc, dtype=np.int64) + offset_hours(regions) * 3600
