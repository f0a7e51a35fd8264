"""The parts the families build the same way (author_tastes, with its own world, takes its channel
strengths, device model, durations and users from here too).

A family supplies the catalogue, P(video | user's latents) and its exact
video term of the posterior; this module draws the users, the per-event time,
region and watch channels and the device, computes their posterior terms,
and writes the contest (Rutube-2024 layout) with its oracle.

Channels (exact terms of the posterior, all given the class c unless a
family makes the hour depend on its own latent):
  hour   ~ log_hour[row]  (row = c, or the family's latent, e.g. a community)
  day    ~ log_day[c]     (local day of June; via the class's weekday weights)
  bin    ~ log_watch[c]   (watch-fraction bin; unobservable for zero durations)
  device ~ log_device[c]  (one profile per user)
Region, minute, second and the number of events carry nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy.special import logsumexp

from socdem.synthetic.shared import (
    AGE_RANGES,
    CATEGORIES,
    DEVICE_PROFILES,
    N_CLASSES,
    TEST_SHARE,
    TRAVEL_SHARE,
    ZERO_DURATION_SHARE,
    categorical_effects,
    class_effects,
    class_prior,
    combine_effects,
    draw_categorical,
    events_table,
    log_progress,
    posterior_table,
    regions,
    time_model,
    video_id_strings,
    watch_model,
    write_oracle,
    write_parquet,
    write_summary,
    write_users,
)

WEAK_CHANNELS = {  # the strengths author_tastes uses: weak per event
    "hour": 0.04,
    "hour_age": 0.12,
    "weekday": 0.03,
    "weekday_age": 0.08,
    "device": 0.3,
    "device_hint": 1.0,
    "watch": 0.04,
    "watch_age": 0.1,
}
SILENT_CHANNELS = dict.fromkeys(WEAK_CHANNELS, 0.0)  # class-independent time, device and watch


@dataclass
class Channels:
    log_prior: np.ndarray  # (8,)
    log_hour: np.ndarray  # (rows, 24): rows are classes unless the family says otherwise
    log_day: np.ndarray  # (8, 30)
    log_watch: np.ndarray  # (8, 12)
    log_device: np.ndarray  # (8, P)
    region_names: list
    region_offset: np.ndarray
    region_p: np.ndarray


@dataclass
class Draws:
    """Per-user arrays (U,) and per-event arrays (N,), as the writers expect them."""

    uid: np.ndarray
    cls: np.ndarray
    age: np.ndarray
    is_test: np.ndarray
    n_events: np.ndarray
    device: np.ndarray
    home_region: np.ndarray
    ev_user: np.ndarray
    ev_video: np.ndarray
    ev_hour: np.ndarray
    ev_day: np.ndarray
    ev_bin: np.ndarray  # -1 where unobservable (zero duration)
    ev_region: np.ndarray
    ev_local_s: np.ndarray
    ev_watch: np.ndarray


@dataclass
class Catalogue:
    """Per video (V,): latent author index, category index, title, duration in seconds."""

    author: np.ndarray
    category: np.ndarray
    title: list
    duration_s: np.ndarray
    category_names: tuple = CATEGORIES


@dataclass
class TopicWorld:
    """A world where each event's content topic ~ P(topic | c) and its video ~ a Zipf over the topic's videos
    (titles, semantic): P(video | topic) does not depend on c, so the video's term of the posterior is its topic's."""

    channels: Channels
    log_topic: np.ndarray  # (8, T) log P(topic | c)
    video_topic: np.ndarray  # (V,) each video's topic (videos grouped by the pools of video_cdf)
    video_cdf: np.ndarray  # (V,) pool index (the topic, unless the family splits topics into pools) + its Zipf CDF
    catalogue: Catalogue


def family_streams(seed: int, family: str) -> list[np.random.Generator]:
    """World, users, events and catalogue-writing generators, distinct per family."""
    salt = int.from_bytes(family.encode(), "little") % (2**32)
    children = np.random.SeedSequence([seed, salt]).spawn(4)
    return [np.random.Generator(np.random.PCG64(s)) for s in children]


def build_channels(rng, strengths: dict) -> Channels:
    log_hour, log_day = time_model(rng, strengths)
    log_watch = watch_model(rng, strengths)
    log_device = device_model(rng, strengths)
    names, offset, region_p = regions()
    return Channels(np.log(class_prior()), log_hour, log_day, log_watch, log_device, names, offset, region_p)


def device_model(rng, strengths: dict) -> np.ndarray:
    """(8, P) log P(device profile | class): the profiles' base shares, their hints and random effects."""
    base = [p[1] for p in DEVICE_PROFILES]
    hints = [p[2] for p in DEVICE_PROFILES]
    return categorical_effects(rng, base, hints, strengths["device"], strengths["device_hint"])


def durations(rng, n_videos: int) -> np.ndarray:
    """Video lengths in seconds, multiples of 10 so the watch bin is recoverable; a few zeros."""
    duration = np.clip(np.round(rng.lognormal(np.log(55), 1.1, n_videos)), 1, 1440) * 10
    duration[rng.random(n_videos) < ZERO_DURATION_SHARE] = 0
    return duration.astype(np.int64)


def sample_users(
    rng, ch: Channels, users: int, median_events: float, sigma: float, min_events: int, no_event_share: float = 0.0
) -> dict:
    """Each user's class, age, id, test flag, number of events, device profile and home region;
    `no_event_share` of the labelled users get no events at all."""
    cls = rng.choice(N_CLASSES, users, p=np.exp(ch.log_prior))
    lo = np.array([r[0] for r in AGE_RANGES])[cls % 4]
    hi = np.array([r[1] for r in AGE_RANGES])[cls % 4]
    age = lo + np.floor(rng.random(users) * (hi - lo + 1)).astype(np.int64)
    uid = rng.choice(np.arange(100_000, 100_000 + 20 * users), users, replace=False).astype(np.int64)
    is_test = rng.random(users) < TEST_SHARE
    n = np.clip(np.round(rng.lognormal(np.log(median_events), sigma, users)), min_events, 2000).astype(np.int64)
    if no_event_share:  # drawn only when asked, so a family without such users keeps its random stream
        n[~is_test & (rng.random(users) < no_event_share)] = 0
    device = draw_categorical(rng, ch.log_device, cls)
    home = rng.choice(len(ch.region_names), users, p=ch.region_p)
    return dict(uid=uid, cls=cls, age=age, is_test=is_test, n_events=n, device=device, home_region=home)


def sample_events(rng, ch: Channels, u: dict, ev_video, hour_rows, duration_s) -> Draws:
    """The time, region and watch channels of events whose videos the family drew."""
    ev_user = np.repeat(np.arange(len(u["n_events"])), u["n_events"])
    total = len(ev_user)
    cls = u["cls"][ev_user]
    hour = draw_categorical(rng, ch.log_hour, hour_rows)
    day = draw_categorical(rng, ch.log_day, cls)
    local_s = day * 86400 + hour * 3600 + rng.integers(0, 3600, total)
    region = u["home_region"][ev_user].copy()
    travel = rng.random(total) < TRAVEL_SHARE
    region[travel] = rng.choice(len(ch.region_names), int(travel.sum()), p=ch.region_p)
    k = draw_categorical(rng, ch.log_watch, cls)
    dur = duration_s[ev_video]
    watch = np.floor(dur * (k + rng.random(total)) / 10).astype(np.int64)
    noise_watch = np.clip(np.round(rng.lognormal(np.log(120), 1.3, total)), 0, 20_000).astype(np.int64)
    hidden = dur == 0
    return Draws(
        **u,
        ev_user=ev_user,
        ev_video=ev_video,
        ev_hour=hour,
        ev_day=day,
        ev_bin=np.where(hidden, -1, k),
        ev_region=region,
        ev_local_s=local_s,
        ev_watch=np.where(hidden, noise_watch, watch),
    )


def event_sums(log_table: np.ndarray, users: int, ev_user, ev_index) -> np.ndarray:
    """(U, rows): per user, the sum over its events of log_table[row, ev_index]."""
    return np.column_stack(
        [np.bincount(ev_user, log_table[r, ev_index], minlength=users) for r in range(log_table.shape[0])]
    )


def channel_log_lik(ch: Channels, users: int, ev_user, ev_day, ev_bin, device) -> np.ndarray:
    """(U, 8): the class terms of day, watch bin and device (the family adds the hour's)."""
    has_bin = ev_bin >= 0
    ll = event_sums(ch.log_day, users, ev_user, ev_day)
    ll += event_sums(ch.log_watch, users, ev_user[has_bin], ev_bin[has_bin])
    ll += ch.log_device[:, device].T
    return ll


def _videos_table(rng, cat: Catalogue) -> pa.Table:
    n_authors = int(cat.author.max()) + 1
    author_ids = rng.choice(np.arange(1_000, 1_000 + 50 * n_authors), n_authors, replace=False)
    order = rng.permutation(len(cat.author))  # catalogue rows in no particular order
    return pa.table(
        {
            "rutube_video_id": video_id_strings(len(order)).take(pa.array(order)),
            "title": pa.array(cat.title, pa.string()).take(pa.array(order)),
            "category": pa.array(np.array(cat.category_names, dtype=object)[cat.category][order], pa.string()),
            "duration": pa.array(cat.duration_s[order] * 1000, pa.int64()),
            "author_id": pa.array(author_ids[cat.author][order].astype(np.int64), pa.int64()),
        }
    )


def generate_family(
    family: str, build_world, sample, log_posterior, extra: dict, out_dir: Path, users: int, seed: int, progress: bool
) -> dict:
    """A family's whole contest: its world, a sample of users and events, the exact posterior, the files."""
    log_progress(progress, f"building the {family} world (seed {seed}) ...")
    world = build_world(seed)
    log_progress(progress, f"sampling {users} users and their events ...")
    d = sample(world, users, seed)
    log_progress(progress, f"{len(d.ev_user)} events; computing the exact posterior ...")
    log_post = log_posterior(world, users, d.ev_user, d.ev_video, d.ev_hour, d.ev_day, d.ev_bin, d.device)
    rng = family_streams(seed, family)[3]
    return write_contest(out_dir, family, seed, d, world.catalogue, world.channels, log_post, extra, rng, progress)


def write_contest(
    out_dir: Path, family: str, seed: int, d: Draws, cat: Catalogue, ch: Channels, log_post, extra: dict, rng, progress
) -> dict:
    """The four contest tables, oracle/ and the summary (returned)."""
    out_dir = Path(out_dir)
    (out_dir / "oracle").mkdir(parents=True, exist_ok=True)
    log_progress(progress, "writing tables ...")
    post = posterior_table(log_post)
    write_parquet(events_table(d, ch.region_names, ch.region_offset, len(cat.author)), out_dir / "train_events.parquet")
    write_parquet(_videos_table(rng, cat), out_dir / "video_info_v2.parquet")
    train, test = write_users(out_dir, d)
    write_oracle(out_dir, d, post)
    summary = {
        "generator": f"socdem.synthetic.{family}",
        "family": family,
        "users": int(len(d.uid)),
        "seed": seed,
        "events": int(len(d.ev_user)),
        "train_users": int(len(train)),
        "test_users": int(len(test)),
        "videos": int(len(cat.author)),
        "authors": int(cat.author.max()) + 1,
        "categories": int(len(np.unique(cat.category))),
        **extra,
    }
    return write_summary(out_dir, summary, d, train, test, post, progress)


def authors_over_groups(rng, n_authors: int, video_group: np.ndarray, n_groups: int, most_groups: int) -> np.ndarray:
    """Each author posts in 1..most_groups groups; a video's author is one of its group's authors.

    Returns compact author indices (authors without a video dropped).
    """
    spread = rng.integers(1, most_groups + 1, n_authors)
    pair_author = np.r_[np.repeat(np.arange(n_authors), spread), rng.integers(0, n_authors, n_groups)]
    pair_group = np.r_[rng.integers(0, n_groups, int(spread.sum())), np.arange(n_groups)]  # every group has one
    order = np.argsort(pair_group, kind="stable")
    pair_author, pair_group = pair_author[order], pair_group[order]
    start = np.searchsorted(pair_group, np.arange(n_groups))
    count = np.bincount(pair_group, minlength=n_groups)
    pick = start[video_group] + np.floor(rng.random(len(video_group)) * count[video_group]).astype(np.int64)
    return np.unique(pair_author[pick], return_inverse=True)[1].astype(np.int64)


SYLLABLES = ("ка", "ро", "ми", "ла", "то", "не", "ви", "за", "до", "па", "ру", "сто", "ле", "ни", "мо", "ба", "гра")


def syllable_titles(rng, flavour: np.ndarray, vocabulary: int = 1500) -> list:
    """Class-free nonsense titles, 2-6 words, the first one flavoured by `flavour` (e.g. the category)."""
    vocab = ["".join(rng.choice(np.array(SYLLABLES), rng.integers(2, 4))) for _ in range(vocabulary)]
    n = len(flavour)
    lengths = rng.integers(2, 7, n)
    words = rng.integers(0, vocabulary, (n, 6))
    words[:, 0] = (flavour * 37 + words[:, 0] % 12) % vocabulary
    return [" ".join(vocab[w] for w in row[:m]).capitalize() for row, m in zip(words.tolist(), lengths.tolist())]


def topic_videos(rng, n_videos: int, n_topics: int, zipf: float) -> tuple[np.ndarray, np.ndarray]:
    """Each video's topic (grouped) and the topic-offset Zipf CDF for drawing a video of a topic."""
    topic = np.sort(rng.integers(0, n_topics, n_videos))
    start = np.searchsorted(topic, np.arange(n_topics))
    rank = np.arange(n_videos) - start[topic] + 1
    weight = 1.0 / rank**zipf
    weight = weight[np.lexsort((rng.random(n_videos), topic))]  # ranks shuffled within each topic
    cum = np.cumsum(weight)
    before = (cum - weight)[start][topic]
    total = np.bincount(topic, weight, minlength=n_topics)[topic]
    cdf = topic + (cum - before) / total
    last = np.r_[start[1:] - 1, n_videos - 1]
    cdf[last] = np.arange(1, n_topics + 1)  # exact segment ends
    return topic, cdf


def topic_log_p(rng, sex: np.ndarray, age: np.ndarray, hint_scale: float, sex_sd: float, age_sd: float) -> np.ndarray:
    """(8, T) log P(topic | c): each topic's popularity, its hand-set hints (sex (T,), age (4, T)) and its own
    random class effects."""
    effect = hint_scale * combine_effects(sex, age - age.mean(0))
    popularity = np.log(rng.dirichlet(np.full(len(sex), 4.0)))
    logits = popularity[None, :] + effect + class_effects(rng, len(sex), sex_sd, age_sd)
    return logits - logsumexp(logits, axis=1, keepdims=True)


def sample_topic_events(
    world: TopicWorld, users: int, seed: int, family: str, median_events: float, pool=None
) -> Draws:
    """Users, then per event a topic ~ P(topic | c) and a video of that topic: of the topic's own pool of
    world.video_cdf, or of the pool `pool(rng, users, topics)` gives each event (it must not read the class)."""
    _, rng_users, rng_events, _ = family_streams(seed, family)
    u = sample_users(rng_users, world.channels, users, median_events=median_events, sigma=0.9, min_events=1)
    cls = np.repeat(u["cls"], u["n_events"])
    topic = draw_categorical(rng_events, world.log_topic, cls)
    if pool is not None:
        topic = pool(rng_events, u, topic)
    video = np.searchsorted(world.video_cdf, topic + rng_events.random(len(topic)), side="right")
    video = np.minimum(video, len(world.video_topic) - 1)
    return sample_events(rng_events, world.channels, u, video, cls, world.catalogue.duration_s)


def topic_log_posterior(world: TopicWorld, users: int, ev_user, ev_video, ev_hour, ev_day, ev_bin, device):
    """(U, 8) normalised log P(c | observables) of a TopicWorld."""
    ll = world.channels.log_prior[None, :] + event_sums(world.log_topic, users, ev_user, world.video_topic[ev_video])
    ll += event_sums(world.channels.log_hour, users, ev_user, ev_hour)
    ll += channel_log_lik(world.channels, users, ev_user, ev_day, ev_bin, device)
    return ll - logsumexp(ll, axis=1, keepdims=True)
