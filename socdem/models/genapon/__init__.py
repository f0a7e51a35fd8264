"""GENAPON: DeepSets over a user's videos and authors, Time2Vec over the time
of their events, an FFN over the label-free user features; joint sex and age heads.

time2vec.py · deepsets.py · net.py (the network) · batches.py (the data path) ·
evidence.py (cross-fitted author evidence) · fit.py (GenaponClassifier, the estimator) ·
bench.py (epoch timing) · gpu_check.py
"""
from socdem.models.genapon.batches import TIME_FEATURES, UserEvents, build_user_events
from socdem.models.genapon.fit import GenaponClassifier

__all__ = ["GenaponClassifier", "TIME_FEATURES", "UserEvents", "build_user_events"]
