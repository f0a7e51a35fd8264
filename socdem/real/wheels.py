"""Files that ship inside a PyPI wheel: the wheel fetched once with `pip download --no-deps` into a cache
and read as a zip archive; the package is never imported or installed (recbole's MovieLens-100k, natasha's
navec word vectors)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from filelock import FileLock


class SourceError(RuntimeError):
    """A wheel could not be fetched or read: one line saying what to do."""


def fetch_wheel(package: str, version: str, cache_dir: Path, log=print, why: str = "") -> Path:
    """The wheel `package==version` in `cache_dir`, downloaded with pip (no dependencies) if absent. Processes
    fetching the same wheel at once wait for one download; a wheel appears in the cache whole or not at all."""
    cache_dir = Path(cache_dir)
    pattern = f"{package}-{version}-*.whl"
    found = sorted(cache_dir.glob(pattern))
    if found:
        return found[0]
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        return _download_once(package, version, cache_dir, pattern, log, why)
    except OSError as exc:
        why_not = exc.strerror or exc
        raise SourceError(f"cannot write the wheel cache {cache_dir} ({why_not}); make it writable") from None


def _download_once(package: str, version: str, cache_dir: Path, pattern: str, log, why: str) -> Path:
    """pip's download under the cache's lock, into a private folder, then moved into the cache in one rename."""
    with FileLock(cache_dir / f".{package}-{version}.lock"):
        found = sorted(cache_dir.glob(pattern))  # another process may have fetched it while this one waited
        if found:
            return found[0]
        log(f"fetching {package}=={version}{f' ({why})' if why else ''} from PyPI into {cache_dir}")
        with tempfile.TemporaryDirectory(prefix=".download-", dir=cache_dir) as private:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet"]
            command += [f"{package}=={version}", "--dest", private]
            done = subprocess.run(command, capture_output=True, text=True)
            fetched = sorted(Path(private).glob(pattern))
            if done.returncode != 0 or not fetched:
                last = (done.stderr.strip().splitlines() or ["no wheel was written"])[-1]
                raise SourceError(
                    f"pip could not fetch {package}=={version} from PyPI ({last}); put the wheel in {cache_dir} by hand"
                )
            os.replace(fetched[0], cache_dir / fetched[0].name)
    return cache_dir / fetched[0].name
