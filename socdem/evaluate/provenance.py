"""What code a run used: the short git commit of the checkout and whether its code was edited
since (a dirty tree), for the leaderboard. Outside a git checkout both are unknown ("")."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

from socdem.io import hash_object

REPO = Path(__file__).resolve().parents[2]
CODE_PATHS = ("socdem", "experiments", "Makefile", "requirements.txt")  # what decides a run's output


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


@lru_cache(maxsize=1)
def code_state() -> dict:
    """{"code": short commit, "dirty": bool or None, "code_id": commit + a hash of the uncommitted changes}."""
    commit = (_git("rev-parse", "--short", "HEAD") or "").strip()
    if not commit:
        return {"code": "", "dirty": None, "code_id": ""}
    status = _git("status", "--porcelain", "--", *CODE_PATHS) or ""
    dirty = bool(status.strip())
    changes = hash_object([_git("diff", "HEAD", "--", *CODE_PATHS), status]) if dirty else ""
    return {"code": commit, "dirty": dirty, "code_id": f"{commit}+{changes}" if dirty else commit}
