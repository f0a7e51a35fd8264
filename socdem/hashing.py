"""Stable short hashes of JSON-serialisable objects (cache keys, run names). Standard library only:
the experiment config uses it, and the Airflow DAG reads the config without the project's packages."""

from __future__ import annotations

import hashlib
import json


def hash_object(obj) -> str:
    """Stable short hash of any JSON-serialisable object."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
