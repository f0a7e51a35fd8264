"""JMLC's upstream per-video demographic counts as user features.

A video's female share and age-bucket shares are trusted only from
`min_views` viewers on (the JMLC seed solution's threshold); per user they are
aggregated over the events on trusted videos like the out-of-fold encoders:
event-weighted mean, max, min and std, plus the share of trusted events.
The counts come with the data, so they are label-free for us.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

AGE_BUCKETS = ("under_18", "18_24", "25_34", "35_44", "45_54")


def video_shares(video_counts: pd.DataFrame, min_views: int) -> pd.DataFrame:
    """Per trusted video: female share and age-bucket shares."""
    counts = video_counts.set_index("rutube_video_id")
    shares = pd.DataFrame(index=counts.index)
    total = counts["video_users_total"].astype("float64")
    shares["vc_female"] = counts["cumulative_female"] / total.where(total > 0)
    if "video_users_total_age" in counts:
        total_age = counts["video_users_total_age"].astype("float64").where(lambda t: t > 0)
        for bucket in AGE_BUCKETS:
            column = f"cumulative_{bucket}"
            if column in counts:
                shares[f"vc_age_{bucket}"] = counts[column] / total_age
    return shares[total >= min_views].astype("float64")


def video_count_features(
    events: pd.DataFrame, video_counts: pd.DataFrame, users: np.ndarray, min_views: int
) -> pd.DataFrame:
    """One row per user in `users` (sorted): aggregates of trusted video shares."""
    shares = video_shares(video_counts, min_views)
    per_event = events[["viewer_uid", "rutube_video_id"]].join(shares, on="rutube_video_id", how="inner")
    grouped = per_event.drop(columns="rutube_video_id").groupby("viewer_uid")
    stats = grouped.agg(["mean", "max", "min", "std"])
    stats.columns = [f"{name}_{stat}" for name, stat in stats.columns]
    out = stats.reindex(users)
    trusted = grouped.size().reindex(users, fill_value=0)
    all_events = events.groupby("viewer_uid").size().reindex(users, fill_value=0)
    out["vc_trusted_share"] = (trusted / all_events.where(all_events > 0)).to_numpy()
    out.index.name = "viewer_uid"
    return out.astype("float64")
