"""`python -m socdem.bench.gpu_check`: a small GENAPON run on CUDA when present.

Synthetic contest of 20k users (generated into a temporary folder), 2 epochs at
default sizes on every labelled user; prints the device, seconds per epoch and
the inner-validation ROC-AUC of sex (no out-of-fold loop).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

from socdem.config import Experiment
from socdem.features.workspace import Workspace
from socdem.models.genapon.fit import resolve_device
from socdem.models.genapon.runner import estimator_from_config, workspace_events
from socdem.synthetic import generate


def main(users: int = 20_000, epochs: int = 2) -> dict:
    print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root / "data", users=users, seed=0, progress=False)
        exp = Experiment()
        ws = Workspace(data_dir=root / "data", exp=exp, root=root, log=lambda m: print(m, flush=True))
        events = workspace_events(ws)
        targets = ws.contest.targets
        model = estimator_from_config(exp, epochs=epochs, patience=epochs)
        model.fit(events.select(targets["viewer_uid"].to_numpy()), targets[["female", "age_class"]].to_numpy())
        result = {
            "device": str(model.device_),
            "resolved_auto": str(resolve_device("auto")),
            "epoch_seconds": [round(s, 2) for s in model.epoch_seconds_],
            "valid_roc_auc": [round(h["valid_roc_auc"], 4) for h in model.history_],
            "weights_on": str(next(model.net_.parameters()).device),
        }
    print(result, flush=True)
    return result


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
