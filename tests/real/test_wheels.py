"""A wheel fetched into the cache once, whole or not at all, however many callers ask for it at the same time
(threads here: the lock is a file lock, so processes wait alike; pip replaced by a slow fake: no network)."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from socdem.real import wheels

WHEEL = "demo-1.0-py3-none-any.whl"


def slow_pip(calls: list, fail: bool = False):
    """A stand-in for `pip download … --dest D`: half a wheel, a pause, the rest (or an error after the half)."""

    def run(command, **kwargs):
        calls.append(command)
        dest = Path(command[command.index("--dest") + 1])
        with open(dest / WHEEL, "wb") as out:
            out.write(b"PK half")
            out.flush()
            time.sleep(0.3)
            if fail:
                return subprocess.CompletedProcess(command, 1, "", "ERROR: connection reset\n")
            out.write(b" and the rest")
        return subprocess.CompletedProcess(command, 0, "", "")

    return run


def test_callers_fetching_at_once_wait_for_one_download(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(wheels.subprocess, "run", slow_pip(calls))
    cache = tmp_path / "wheels"
    got: list = []

    def fetch():
        got.append(wheels.fetch_wheel("demo", "1.0", cache, log=lambda m: None))

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and got == [cache / WHEEL] * 3
    assert (cache / WHEEL).read_bytes() == b"PK half and the rest"
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == [WHEEL]  # no download folder left


def test_a_download_that_fails_halfway_leaves_no_wheel(tmp_path, monkeypatch):
    monkeypatch.setattr(wheels.subprocess, "run", slow_pip([], fail=True))
    cache = tmp_path / "wheels"
    with pytest.raises(wheels.SourceError, match=r"pip could not fetch demo==1\.0 .*connection reset"):
        wheels.fetch_wheel("demo", "1.0", cache, log=lambda m: None)
    assert not list(cache.glob("*.whl")) and not list(cache.glob(".download-*"))


def test_a_cache_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "a file").write_text("not a folder")
    with pytest.raises(wheels.SourceError, match=r"cannot write the wheel cache .*a file/wheels"):
        wheels.fetch_wheel("demo", "1.0", tmp_path / "a file" / "wheels", log=lambda m: None)
