"""GENAPON, the JMLC seed solution's name for this architecture (the expansion of the
acronym was not recorded): a DeepSets set encoder over a user's videos and
authors (Zaheer et al., "Deep Sets", NeurIPS 2017), a Time2Vec event-time
encoder over the time of their events (Kazemi et al., 2019, "Time2Vec: Learning
a Vector Representation of Time"), an FFN over the label-free user features,
and joint sex and age heads.

batches.py (UserEvents, PaddedBatch: the data path) · set_encoder.py (ItemSetEncoder) ·
time2vec.py · time_encoder.py (EventTimeEncoder) · heads.py (TargetHeads) ·
net.py (GenaponNet, the composition) · evidence.py (cross-fitted author evidence) ·
fit.py (GenaponClassifier, the estimator) · runner.py (GENAPON in a fold)
"""

from socdem.models.genapon.batches import TIME_FEATURES, UserEvents, build_user_events
from socdem.models.genapon.fit import GenaponClassifier

__all__ = ["GenaponClassifier", "TIME_FEATURES", "UserEvents", "build_user_events"]
