"""Contest loading: either layout (Rutube 2024, JMLC) read, validated and
turned into the same internal tables (docs/data-contract.md)."""

from socdem.contest.checks import ContestError
from socdem.contest.load import load_contest
from socdem.contest.tables import Contest, contest_files, describe_report, detect_layout

__all__ = ["Contest", "ContestError", "contest_files", "describe_report", "detect_layout", "load_contest"]
