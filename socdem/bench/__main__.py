"""A measured child process of `make bench`: python -m socdem.bench <kind> <data_dir> <exp>."""

import json
import sys

from socdem.bench.run import CHILDREN, merge_results, results_path
from socdem.bench.scale import CHILDREN as SCALE_CHILDREN

kind, data, exp = sys.argv[1:4]
result = {**CHILDREN, **SCALE_CHILDREN}[kind](data, exp)
if kind == "signal":  # run by hand on a synthetic contest: python -m socdem.bench signal data/raw default
    merge_results(results_path(), {"features_signal": {"data": str(data), **result}})
print(json.dumps(result))
