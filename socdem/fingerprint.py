"""Fingerprints: content hashes of the inputs and of the config, for cache keys."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from socdem.io import write_json_atomic

CHUNK = 1 << 22


def _content_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: Path, memo_file: Path | None = None) -> str:
    """Content hash of a file. The memo (keyed by path, size and mtime) only
    spares re-reading an unchanged file; the key itself is content-based."""
    path = Path(path)
    stat = path.stat()
    memo_key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
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


def data_fingerprint(files: list[Path], memo_file: Path | None = None) -> str:
    parts = [f"{Path(f).name}:{file_digest(Path(f), memo_file)}" for f in sorted(files, key=lambda p: Path(p).name)]
    return hash_object(parts)


def hash_object(obj) -> str:
    """Stable short hash of any JSON-serialisable object."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
