"""bench/results.json is shared: the feature bench merges its keys, never drops others'."""

from __future__ import annotations

import json

from socdem.bench.run import merge_results


def test_merge_keeps_other_stages_keys(tmp_path):
    path = tmp_path / "bench" / "results.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"genapon_epoch_seconds": 3.5, "features_seconds": 99.0}))
    merged = merge_results(path, {"features_seconds": 12.0, "users": 100})
    assert (
        merged == json.loads(path.read_text()) == {"genapon_epoch_seconds": 3.5, "features_seconds": 12.0, "users": 100}
    )
