"""What code a run used: the short git commit of the checkout and whether its code was edited
since (a dirty tree), for the leaderboard. Outside a git checkout (an unpacked archive) both are
unknown (""), and the code is known by a hash of its files' contents instead."""

from __future__ import annotations

import hashlib
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
    if not commit:  # a rerun of the same files is still the same code: the leaderboard replaces its rows
        return {"code": "", "dirty": None, "code_id": f"files-{files_digest(REPO)}"}
    status = _git("status", "--porcelain", "--", *CODE_PATHS) or ""
    dirty = bool(status.strip())
    changes = hash_object([_git("diff", "HEAD", "--", *CODE_PATHS), status]) if dirty else ""
    return {"code": commit, "dirty": dirty, "code_id": f"{commit}+{changes}" if dirty else commit}


def files_digest(root: Path) -> str:
    """A hash of the contents of the files under CODE_PATHS (compiled caches left out), by relative path."""
    files = []
    for name in CODE_PATHS:
        path = root / name
        found = sorted(path.rglob("*")) if path.is_dir() else [path] if path.exists() else []
        files += [f for f in found if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc"]
    digest = hashlib.blake2b(digest_size=8)
    for f in files:
        digest.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()
