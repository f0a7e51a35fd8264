"""The figures of `make eda`, computed from the loaded contest with vectorised pandas/numpy.

Every event is tagged with its user's group: a labelled user's sex
(female/male), a test user, or "other" (a user neither labelled nor to
predict). Local hour and weekday come from the timestamp shifted to the
event region's UTC offset, as in the features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from socdem.contest.local_time import local_seconds

GROUPS = ("male", "female", "test", "other")
MIN_VIEWERS = 50  # labelled viewers before a category's or author's female share is trusted
TOP_LEANING = 10  # per side (female / male)
TOP_VALUES = {"ua_device_type": 6, "ua_os": 8, "ua_client_name": 10, "region": 15}
MISSING = "(none)"
WATCH_FRACTION_CAP = 1.5  # as in the features: a re-watched video can exceed 1


def user_groups(contest) -> pd.DataFrame:
    """One row per labelled or test user: group, age_class (labelled only, -1 otherwise), events."""
    targets = contest.targets.set_index("viewer_uid")
    labelled = pd.DataFrame(
        {
            "group": np.where(targets["female"].to_numpy() == 1, "female", "male"),
            "age_class": targets["age_class"].to_numpy() if "age_class" in targets else -1,
        },
        index=targets.index,
    )
    test = pd.DataFrame({"group": "test", "age_class": -1}, index=pd.Index(contest.test_users, name="viewer_uid"))
    users = pd.concat([labelled, test])
    counts = contest.events["viewer_uid"].value_counts()
    users["events"] = counts.reindex(users.index, fill_value=0).to_numpy()
    return users


def event_table(contest, users: pd.DataFrame) -> pd.DataFrame:
    """The events with their user's group and age class, the video's author and category,
    local hour and weekday (0 = Monday), watch time and watch fraction."""
    ev = contest.events
    pos = users.index.get_indexer(ev["viewer_uid"])
    known = pos >= 0
    group = np.where(known, users["group"].to_numpy()[np.where(known, pos, 0)], "other")
    age = np.where(known, users["age_class"].to_numpy()[np.where(known, pos, 0)], -1)
    videos = contest.videos
    vpos = pd.Index(videos["rutube_video_id"]).get_indexer(ev["rutube_video_id"])
    has_video = vpos >= 0
    vrow = np.where(has_video, vpos, 0)
    duration_s = np.where(has_video, videos["duration"].to_numpy(np.float64)[vrow] / 1000.0, np.nan)
    watch = ev["total_watchtime"].to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(duration_s > 0, np.minimum(watch / duration_s, WATCH_FRACTION_CAP), np.nan)
    local = local_seconds(ev["ts"].to_numpy(), ev["region"])
    day = local // 86400
    return pd.DataFrame(
        {
            "viewer_uid": ev["viewer_uid"].to_numpy(),
            "group": pd.Categorical(group, categories=GROUPS),
            "age_class": age.astype(np.int8),
            "author_id": pd.array(np.where(has_video, videos["author_id"].to_numpy()[vrow], -1)).astype("Int64"),
            "category": pd.Series(videos["category"].to_numpy()[vrow]).where(has_video).to_numpy(),
            "hour": (local // 3600 % 24).astype(np.int8),
            "weekday": ((day + 3) % 7).astype(np.int8),  # 1970-01-01 was a Thursday
            "watch_s": watch,
            "fraction": fraction,
        }
    )


def overview(contest, users: pd.DataFrame, ev: pd.DataFrame) -> dict:
    has = users["events"] > 0
    labelled, test = users["group"] != "test", users["group"] == "test"
    per_group = ev["group"].value_counts()
    return {
        "labelled_users": int(labelled.sum()),
        "test_users": int(test.sum()),
        "labelled_users_with_events": int((labelled & has).sum()),
        "labelled_users_without_events": int((labelled & ~has).sum()),
        "test_users_with_events": int((test & has).sum()),
        "test_users_without_events": int((test & ~has).sum()),
        "events": int(len(ev)),
        "events_of_labelled_users": int(per_group.get("female", 0) + per_group.get("male", 0)),
        "events_of_test_users": int(per_group.get("test", 0)),
        "events_of_other_users": int(per_group.get("other", 0)),
        "videos": int(len(contest.videos)),
        "authors": int(contest.videos["author_id"].nunique()),
        "categories": int(contest.videos["category"].nunique()),
    }


def events_per_user(users: pd.DataFrame) -> dict:
    """Quantiles of the events per user (users with events), labelled and test."""
    out = {}
    for name, rows in (("labelled", users["group"] != "test"), ("test", users["group"] == "test")):
        n = users.loc[rows & (users["events"] > 0), "events"]
        out[name] = {
            "users": int(len(n)),
            "mean": float(n.mean()) if len(n) else None,
            **{f"p{q}": float(n.quantile(q / 100)) if len(n) else None for q in (10, 50, 90, 99)},
            "max": int(n.max()) if len(n) else None,
        }
    return out


def class_balance(targets: pd.DataFrame) -> pd.DataFrame:
    """Labelled users per sex (rows) x age class (columns; one column "all" without age)."""
    columns = targets["age_class"] if "age_class" in targets else pd.Series("all", index=targets.index)
    return pd.crosstab(targets["sex"], columns).reindex(["female", "male"], fill_value=0)


def watch_summary(ev: pd.DataFrame) -> dict:
    out = {}
    for group in ("female", "male", "test"):
        rows = ev[ev["group"] == group]
        if rows.empty:
            continue
        fraction = rows["fraction"].dropna()
        out[group] = {
            "events": int(len(rows)),
            "watch_s_median": float(rows["watch_s"].median()),
            "watch_s_mean": float(rows["watch_s"].mean()),
            "fraction_median": float(fraction.median()) if len(fraction) else None,
            "fraction_mean": float(fraction.mean()) if len(fraction) else None,
            "fraction_at_cap_share": float((fraction >= WATCH_FRACTION_CAP).mean()) if len(fraction) else None,
            "no_fraction_share": float(rows["fraction"].isna().mean()),  # zero duration or unknown video
        }
    return out


def time_profiles(ev: pd.DataFrame, has_age: bool) -> dict:
    """{"hour"|"weekday": {"sex"|"age_class": frame of event shares, one column per group}}."""
    labelled = ev[ev["group"].isin(["female", "male"])]
    test = ev[ev["group"] == "test"]
    out = {}
    for unit, size in (("hour", 24), ("weekday", 7)):
        by = {"sex": _shares(labelled, unit, "group", size, ["female", "male"])}
        if has_age:
            by["age_class"] = _shares(labelled, unit, "age_class", size, [0, 1, 2, 3])
        for frame in by.values():
            frame["test"] = np.bincount(test[unit], minlength=size) / max(len(test), 1)
        out[unit] = by
    return out


def _shares(ev: pd.DataFrame, unit: str, by: str, size: int, keys: list) -> pd.DataFrame:
    table = pd.crosstab(ev[unit], ev[by].astype(object)).reindex(index=range(size), columns=keys, fill_value=0)
    return table / table.sum(axis=0).replace(0, 1)


def leaning(ev: pd.DataFrame, item: str, min_viewers: int = MIN_VIEWERS, top: int = TOP_LEANING) -> pd.DataFrame:
    """Items (categories or authors) with at least `min_viewers` labelled viewers whose female
    share among their viewers departs most from the labelled users' (top per side):
    columns viewers, female_share, lean (= female_share - overall), side."""
    labelled = ev.loc[ev["group"].isin(["female", "male"]) & ev[item].notna(), ["viewer_uid", item, "group"]]
    if item == "author_id":
        labelled = labelled[labelled[item] >= 0]
    pairs = labelled.drop_duplicates(["viewer_uid", item])
    overall = (pairs.drop_duplicates("viewer_uid")["group"] == "female").mean()
    stats = pairs.assign(female=(pairs["group"] == "female").astype(float)).groupby(item, observed=True)["female"]
    table = pd.DataFrame({"viewers": stats.size(), "female_share": stats.mean()})
    table = table[table["viewers"] >= min_viewers]
    table["lean"] = table["female_share"] - overall
    female = table[table["lean"] > 0].nlargest(top, "lean").assign(side="female")
    male = table[table["lean"] < 0].nsmallest(top, "lean").assign(side="male")
    out = pd.concat([female, male])
    out.attrs["overall_female_share"] = float(overall)
    out.attrs["trusted_items"] = int(len(table))
    return out


def author_categories(videos: pd.DataFrame, authors) -> dict:
    """The most frequent category of each given author's videos."""
    rows = videos[videos["author_id"].isin(list(authors))]
    counts = rows.groupby(["author_id", "category"], observed=True).size().rename("n").reset_index()
    top = counts.sort_values(["author_id", "n"], ascending=[True, False]).drop_duplicates("author_id")
    return dict(zip(top["author_id"], top["category"].astype(str)))


def value_shares(events: pd.DataFrame, groups: pd.Series, column: str, top: int) -> pd.DataFrame:
    """Per value of `column` (the `top` most frequent, the rest as "other"): share of the labelled
    users' events and of the test users' events, and the female share of the labelled events."""
    values = events[column].astype(object).where(events[column].notna(), MISSING)
    kept = values.value_counts().index[:top]
    values = values.where(values.isin(kept), "other")
    table = pd.crosstab(values, groups.astype(object))
    for group in ("female", "male", "test"):
        if group not in table:
            table[group] = 0
    labelled = table["female"] + table["male"]
    out = pd.DataFrame(
        {
            "labelled_share": labelled / max(labelled.sum(), 1),
            "test_share": table["test"] / max(table["test"].sum(), 1),
            "female_share": table["female"] / labelled.replace(0, np.nan),
        }
    )
    order = list(kept) + (["other"] if "other" in out.index and "other" not in kept else [])
    return out.reindex(order)


def data_quality(contest) -> dict:
    """The load report's tolerated quirks plus duplicated events (exact repeats of a whole row,
    and repeats of the same user, video and second)."""
    report = dict(contest.report)
    ev = contest.events
    report["events_duplicated_rows"] = int(ev.duplicated().sum())
    report["events_duplicated_user_video_second"] = int(ev.duplicated(["viewer_uid", "rutube_video_id", "ts"]).sum())
    return report
