"""`load_contest`: the contest folder of either layout into the internal tables."""

from __future__ import annotations

from pathlib import Path

from socdem.contest.checks import ContestError
from socdem.contest.jmlc import load_jmlc
from socdem.contest.rutube2024 import load_rutube2024
from socdem.contest.tables import Contest, detect_layout


def load_contest(data_dir: Path | str, layout: str = "auto") -> Contest:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ContestError(f"{data_dir}: no such folder; expected the contest tables there (or run `make data`)")
    if layout == "auto":
        layout = detect_layout(data_dir)
    return load_jmlc(data_dir) if layout == "jmlc" else load_rutube2024(data_dir)
