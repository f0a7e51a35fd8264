"""Files that ship inside a PyPI wheel: the wheel fetched once with `pip download --no-deps` into a cache
and read as a zip archive; the package is never imported or installed (recbole's MovieLens-100k, natasha's
navec word vectors)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


class SourceError(RuntimeError):
    """A wheel could not be fetched or read: one line saying what to do."""


def fetch_wheel(package: str, version: str, cache_dir: Path, log=print, why: str = "") -> Path:
    """The wheel `package==version` in `cache_dir`, downloaded with pip (no dependencies) if absent."""
    cache_dir = Path(cache_dir)
    pattern = f"{package}-{version}-*.whl"
    found = sorted(cache_dir.glob(pattern))
    if found:
        return found[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    log(f"fetching {package}=={version}{f' ({why})' if why else ''} from PyPI into {cache_dir}")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet"]
    done = subprocess.run([*command, f"{package}=={version}", "--dest", str(cache_dir)], capture_output=True, text=True)
    found = sorted(cache_dir.glob(pattern))
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or ["no wheel was written"])[-1]
        raise SourceError(
            f"pip could not fetch {package}=={version} from PyPI ({last}); put the wheel in {cache_dir} by hand"
        )
    return found[0]
