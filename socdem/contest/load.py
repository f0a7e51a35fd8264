"""`load_contest`: the contest folder of either layout into the internal tables."""

from __future__ import annotations

from pathlib import Path

from socdem.contest.checks import ContestError
from socdem.contest.jmlc import load_jmlc
from socdem.contest.rutube2024 import load_rutube2024
from socdem.contest.tables import Contest, detect_layout


def load_contest(
    data_dir: Path | str,
    layout: str = "auto",
    stream: bool | None = False,
    work_dir: Path | None = None,
    threads: int = 2,
) -> Contest:
    """`stream` (Rutube 2024, parquet events): DuckDB reads the events into a store on disk under
    `work_dir` instead of pandas (contest/scan.py); None streams from scan.STREAM_MIN_EVENTS events on."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ContestError(f"{data_dir}: no such folder; expected the contest tables there (or run `make data`)")
    if layout == "auto":
        layout = detect_layout(data_dir)
    if layout == "jmlc":
        return load_jmlc(data_dir)
    return load_rutube2024(data_dir, stream=stream, work_dir=work_dir, threads=threads)
