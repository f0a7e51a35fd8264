"""Atomic writes (a temp file in the same folder, then a rename, so an
interrupted run never leaves a half-written cache, model or submission) and
fingerprints (content hashes of the inputs and of the config, for cache keys)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from socdem.hashing import hash_object  # noqa: F401 - re-exported: the caches' keys are built from io


@contextmanager
def atomic_path(path: Path):
    """Yield a temp path beside `path`; rename it onto `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
    # not mkstemp: its 0600 would stick to the renamed file; 0666 here gets the umask like any new file
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_folder(path: Path):
    """Yield a new temp folder beside `path`; rename it onto `path` on success,
    so `path` holds everything written or nothing (an interrupted run leaves
    only the hidden temp folder, removed on any error it sees)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    tmp.mkdir(mode=0o777)  # the umask applies, as to any new folder
    try:
        yield tmp
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()  # an empty target is replaced; a non-empty one makes the rename fail
        os.rename(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_parquet_atomic(path: Path, df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp)


def write_pickle_atomic(path: Path, obj) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)


def read_parquet_or_none(path: Path) -> pd.DataFrame | None:
    """A cached parquet file, or None when it is absent or unreadable (zero bytes, truncated): rebuild it."""
    try:
        return pd.read_parquet(path)
    except Exception:  # absent or damaged: either way the cache entry is gone
        return None


def read_json_or_none(path: Path):
    """A cached JSON file, or None when it is absent or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _json_default(obj):
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


CHUNK = 1 << 22


def _content_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: Path, memo_file: Path | None = None) -> str:
    """Content hash of a file. The memo (keyed by path, size, mtime, inode and
    ctime, as git's index) only spares re-reading an unchanged file; the key
    itself is content-based. ctime catches an edit whose mtime was restored
    (`touch -r`), the inode a file replaced by another."""
    path = Path(path)
    stat = path.stat()
    memo_key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}|{stat.st_ctime_ns}"
    memo = {}
    if memo_file is not None and memo_file.exists():
        try:
            memo = json.loads(memo_file.read_text())
        except json.JSONDecodeError:
            memo = {}
    if memo_key in memo:
        return memo[memo_key]
    digest = _content_digest(path)
    if memo_file is not None:
        memo[memo_key] = digest
        write_json_atomic(memo_file, memo)
    return digest


def table_digest(path: Path, memo_file: Path | None = None) -> str:
    """`file_digest` of a table file; of a folder (parquet parts), the hash of every file in it with its
    relative path, so a part added, removed, renamed or edited changes it."""
    path = Path(path)
    if not path.is_dir():
        return file_digest(path, memo_file)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return hash_object([f"{p.relative_to(path).as_posix()}:{file_digest(p, memo_file)}" for p in files])


def data_fingerprint(files: list[Path], memo_file: Path | None = None) -> str:
    parts = [f"{Path(f).name}:{table_digest(Path(f), memo_file)}" for f in sorted(files, key=lambda p: Path(p).name)]
    return hash_object(parts)
