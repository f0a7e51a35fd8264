"""A synthetic Rutube-like contest whose Bayes-optimal posterior is exact.

`generate(out_dir, users, seed)` writes the contest tables of
docs/data-contract.md plus an `oracle/` folder holding, for every user,
the exact posterior P(class | that user's observable data), the test truth
and the oracle's contest scores.

Generative model
----------------
Each user has a class c = (sex, age_class), 8 combinations, drawn from a
prior pi. Given c, independently:

1. Number of events n: lognormal (median ~15), clipped to [1, 2000],
   independent of c. ~0.5% of labelled users have no events at all.
2. Authors: ~3000 authors with Zipf popularity, each in one of 36
   categories. log p_c[a] = log pop[a] + sex/age effect of a's category +
   the author's own noise. A user's taste theta ~ Dirichlet(alpha * p_c) and
   each event's author ~ theta, i.e. the author counts are
   Dirichlet-multinomial (sampled exactly with a Polya urn). The video is
   drawn from the author's own Zipf over its videos, independent of c.
3. Time: local hour ~ h_c (24 bins); local day of June 2024 with
   probability proportional to the class's weekday weight; minute and second
   uniform. A user has one home region (independent of c); ~2% of events
   come from another region (travel). The written timestamp is the local
   time converted to Moscow (+03:00) with the event region's UTC offset, so
   the local hour is recovered exactly from (timestamp, region).
4. Device: one profile (device type, client type, os, client name) per
   user, ~ P(profile | c). Profiles with a NULL os hold ~3% of users.
5. Watch fraction: bin k in 0..11 ~ f_c; watch time =
   floor(duration_s * (k + u) / 10), u uniform. Durations are multiples of
   10 s so k = watchtime // (duration_s / 10) exactly. Zero-duration videos
   get a class-independent watch time.
About 0.2% of events are re-pointed to videos missing from `video_info_v2`
(an orphan pool, independent of c) with a class-independent watch time:
their author and watch bin are unobservable, so the oracle drops those two
terms for them (exact: the Dirichlet-multinomial is exchangeable, so
marginalising one draw leaves the DM of the others).

Posterior (up to a constant):
  log P(c | data) = log pi_c + log DM(author counts | alpha p_c)
                    + sum_events [log h_c(hour) + log d_c(day) + log f_c(k)]
                    + log P(profile | c)
n, the video within an author, the region, minute and second carry nothing.

Size: up to ONE_PIECE_MAX_USERS users a contest is sampled and written in one
piece. A larger one is written in chunks of CHUNK_USERS users (bounded
memory): the users are drawn exactly as in one piece, each chunk's events
from its own child of the events' random stream, and train_events.parquet
grows row group by row group (time-ordered within a chunk). The oracle is
exact either way: a user's posterior depends on that user's events only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
from scipy.special import gammaln, logsumexp

from socdem.synthetic.family import WEAK_CHANNELS, Channels, device_model, durations, sample_users
from socdem.synthetic.shared import (
    CATEGORIES,
    N_CLASSES,
    TRAVEL_SHARE,
    class_effects,
    class_prior,
    combine_effects,
    draw_categorical,
    events_table,
    log_progress,
    normalise_log,
    parquet_chunks,
    posterior_table,
    regions,
    streams,
    time_model,
    video_id_strings,
    watch_model,
    write_oracle,
    write_parquet,
    write_summary,
    write_users,
)

# Effect sizes (standard deviations on the log scale); tuned so that the
# oracle scores like a real contest's best (its scores: docs/results.md).
EFFECTS = {
    "alpha": 8.0,  # Dirichlet concentration of a user's taste
    "cat_sex": 0.45,
    "cat_age": 0.3,  # category effects
    "author_sex": 0.28,
    "author_age": 0.22,  # author's own noise around them
    "cat_hint": 0.45,  # scale of the hand-set CATEGORY_HINTS
    # per-event channels stay very weak: their evidence grows with the
    # number of events, and heavy users have hundreds
    **WEAK_CHANNELS,
}
N_AUTHORS = 3000
ONE_PIECE_MAX_USERS = 500_000  # up to this many users: sampled and written in one piece, as always
CHUNK_USERS = 250_000  # above it: users per chunk, so the generator's memory stays bounded
NO_EVENT_SHARE = 0.005  # of labelled users
ORPHAN_EVENT_SHARE = 0.002

# Hand-set hints on top of the random category effects: (female, age 0..3).
CATEGORY_HINTS = {
    "Авто-мото": (-1.5, (0, 0.3, 0.3, 0)),
    "Красота": (1.8, (0.3, 0.3, 0, -0.4)),
    "Видеоигры": (-1.2, (1.2, 0.4, -0.4, -1.0)),
    "Аниме": (0.2, (1.3, 0.3, -0.6, -1.0)),
    "Детям": (1.2, (-0.4, 0.3, 0.6, -0.2)),
    "Политика": (-0.8, (-1.0, -0.4, 0.2, 0.9)),
    "Сад и огород": (0.6, (-1.0, -0.5, 0.1, 1.0)),
    "Рыбалка и охота": (-1.4, (-0.5, -0.1, 0.3, 0.6)),
    "Кулинария": (1.2, (-0.5, 0, 0.2, 0.4)),
    "Мода": (1.5, (0.4, 0.4, 0, -0.5)),
    "Эзотерика": (1.0, (-0.3, 0, 0.2, 0.3)),
    "Спорт": (-1.0, (0.2, 0.2, 0, -0.1)),
}


# ----------------------------------------------------------------- the world
@dataclass
class World:
    """Everything class-conditional plus the catalogue; rebuilt from the seed."""

    log_prior: np.ndarray  # (8,)
    author_p: np.ndarray  # (8, A) class-specific author distribution
    author_category: np.ndarray  # (A,)
    log_hour: np.ndarray  # (8, 24)
    log_day: np.ndarray  # (8, 30) local day of June
    log_device: np.ndarray  # (8, P)
    log_watch: np.ndarray  # (8, 12)
    alpha: float
    video_author: np.ndarray  # (V,) author of each video, grouped by author
    video_cdf: np.ndarray  # (V,) author index + within-author Zipf CDF
    video_duration_s: np.ndarray  # (V,) multiples of 10, ~0.5% zeros
    region_names: list
    region_offset: np.ndarray  # (R,) hours
    region_p: np.ndarray  # (R,)

    @property
    def channels(self) -> Channels:
        """The time, watch, device and region channels, as the other families hold them."""
        return Channels(
            self.log_prior,
            self.log_hour,
            self.log_day,
            self.log_watch,
            self.log_device,
            self.region_names,
            self.region_offset,
            self.region_p,
        )


def _author_model(rng, e: dict) -> tuple[np.ndarray, np.ndarray]:
    """Class-specific author distributions (8, A) and each author's category."""
    n_cat = len(CATEGORIES)
    cat_eff = class_effects(rng, n_cat, e["cat_sex"], e["cat_age"])
    for k, name in enumerate(CATEGORIES):
        if name in CATEGORY_HINTS:
            sex, age = CATEGORY_HINTS[name]
            hint = combine_effects(np.array([sex]), np.array(age, float)[:, None] - np.mean(age))[:, 0]
            cat_eff[:, k] += e["cat_hint"] * hint
    cat_pop = rng.dirichlet(np.full(n_cat, 2.0))
    author_cat = rng.choice(n_cat, N_AUTHORS, p=cat_pop)
    popularity = 1.0 / np.arange(1, N_AUTHORS + 1) ** 1.05
    own = class_effects(rng, N_AUTHORS, e["author_sex"], e["author_age"])
    logits = np.log(popularity)[None, :] + cat_eff[:, author_cat] + own
    return np.exp(normalise_log(logits)), author_cat


def _catalogue(rng, n_authors: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Videos grouped by author: author, the author-offset Zipf CDF, duration (s)."""
    rank_share = (n_authors / np.arange(1, n_authors + 1)) ** 0.3  # popular channels post more
    n_videos = np.clip(np.ceil(rng.lognormal(np.log(12), 1.0, n_authors) * rank_share), 1, 5000).astype(np.int64)
    video_author = np.repeat(np.arange(n_authors), n_videos)
    starts = np.cumsum(n_videos) - n_videos
    rank = np.arange(len(video_author)) - starts[video_author] + 1
    weight = 1.0 / rank**0.9
    cum = np.cumsum(weight)
    before = (cum - weight)[starts][video_author]
    total = np.add.reduceat(weight, starts)[video_author]
    cdf = video_author + (cum - before) / total
    cdf[np.r_[starts[1:] - 1, len(cdf) - 1]] = np.arange(1, n_authors + 1)  # exact segment ends
    return video_author, cdf, durations(rng, len(video_author))


def build_world(seed: int) -> World:
    """The class-conditional model and catalogue for `seed` (deterministic)."""
    rng = streams(seed)[0]
    e = EFFECTS
    author_p, author_cat = _author_model(rng, e)
    log_hour, log_day = time_model(rng, e)
    log_device = device_model(rng, e)
    log_watch = watch_model(rng, e)
    video_author, video_cdf, duration = _catalogue(rng, N_AUTHORS)
    names, offset, region_p = regions()
    return World(
        np.log(class_prior()),
        author_p,
        author_cat,
        log_hour,
        log_day,
        log_device,
        log_watch,
        e["alpha"],
        video_author,
        video_cdf,
        duration,
        names,
        offset,
        region_p,
    )


# ------------------------------------------------------------------ sampling
@dataclass
class Sample:
    """Latent and observable draws; per-user arrays (U,), per-event arrays (N,)."""

    uid: np.ndarray
    cls: np.ndarray
    age: np.ndarray
    is_test: np.ndarray
    n_events: np.ndarray
    device: np.ndarray
    home_region: np.ndarray
    ev_user: np.ndarray  # index into the user arrays
    ev_author: np.ndarray
    ev_video: np.ndarray  # index into the catalogue; -1 - pool index if orphan
    ev_hour: np.ndarray
    ev_day: np.ndarray
    ev_bin: np.ndarray  # -1 when unobservable (zero duration or orphan video)
    ev_region: np.ndarray
    ev_local_s: np.ndarray  # local seconds since JUNE_1 local midnight
    ev_watch: np.ndarray


def _sample_users(rng, world: World, users: int) -> dict:
    return sample_users(
        rng, world.channels, users, median_events=15, sigma=0.9, min_events=1, no_event_share=NO_EVENT_SHARE
    )


def _polya_authors(rng, world: World, ev_user, ev_cls, start) -> np.ndarray:
    """Dirichlet-multinomial author draws via the Polya urn, all users at once.

    Event i of a user is fresh from p_c with probability alpha / (alpha + i),
    else a copy of a uniformly chosen earlier event of the same user.
    """
    total = len(ev_user)
    i = np.arange(total) - start[ev_user]
    fresh = rng.random(total) < world.alpha / (world.alpha + i)
    parent = np.where(fresh, np.arange(total), start[ev_user] + np.floor(rng.random(total) * i).astype(np.int64))
    while True:  # pointer jumping to the fresh ancestor
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    fresh_author = draw_categorical(rng, np.log(world.author_p), ev_cls)
    return fresh_author[parent]


def _sample_events(rng, world: World, u: dict) -> dict:
    n = u["n_events"]
    start = np.cumsum(n) - n
    ev_user = np.repeat(np.arange(len(n)), n)
    total = len(ev_user)
    cls = u["cls"][ev_user]
    author = _polya_authors(rng, world, ev_user, cls, start)
    video = np.searchsorted(world.video_cdf, author + rng.random(total), side="right")
    video = np.minimum(video, len(world.video_cdf) - 1)
    hour = draw_categorical(rng, world.log_hour, cls)
    day = draw_categorical(rng, world.log_day, cls)
    local_s = day * 86400 + hour * 3600 + rng.integers(0, 3600, total)
    region = u["home_region"][ev_user].copy()
    travel = rng.random(total) < TRAVEL_SHARE
    region[travel] = rng.choice(len(world.region_names), int(travel.sum()), p=world.region_p)
    k = draw_categorical(rng, world.log_watch, cls)
    dur = world.video_duration_s[video]
    watch = np.floor(dur * (k + rng.random(total)) / 10).astype(np.int64)
    # class-independent watch time where the bin cannot be recovered
    noise_watch = np.clip(np.round(rng.lognormal(np.log(120), 1.3, total)), 0, 20_000).astype(np.int64)
    orphan = rng.random(total) < ORPHAN_EVENT_SHARE
    pool = rng.integers(0, 400, total)
    hidden = orphan | (dur == 0)
    watch = np.where(hidden, noise_watch, watch)
    video = np.where(orphan, -1 - pool, video)
    k = np.where(hidden, -1, k)
    return dict(
        ev_user=ev_user,
        ev_author=author,
        ev_video=video,
        ev_hour=hour,
        ev_day=day,
        ev_bin=k,
        ev_region=region,
        ev_local_s=local_s,
        ev_watch=watch,
    )


def sample(world: World, users: int, seed: int) -> Sample:
    _, rng_users, rng_events = streams(seed)
    u = _sample_users(rng_users, world, users)
    return Sample(**u, **_sample_events(rng_events, world, u))


# ----------------------------------------------------------------- posterior
def log_posterior(
    world: World, users: int, ev_user, ev_author, ev_hour, ev_day, ev_bin, device, n_events
) -> np.ndarray:
    """(U, 8) normalised log P(c | observables); ev_author = -1 where unknown."""
    ll = np.tile(world.log_prior, (users, 1))
    seen = ev_author >= 0
    key = np.unique(ev_user[seen] * N_AUTHORS + ev_author[seen], return_counts=True)
    pair_user, pair_author, count = key[0] // N_AUTHORS, key[0] % N_AUTHORS, key[1]
    has_bin = ev_bin >= 0
    k = np.where(has_bin, ev_bin, 0)
    for c in range(N_CLASSES):
        beta = world.alpha * world.author_p[c, pair_author]
        ll[:, c] += np.bincount(pair_user, gammaln(count + beta) - gammaln(beta), minlength=users)
        per_event = (
            world.log_hour[c, ev_hour] + world.log_day[c, ev_day] + np.where(has_bin, world.log_watch[c, k], 0.0)
        )
        ll[:, c] += np.bincount(ev_user, per_event, minlength=users)
    active = n_events > 0
    ll[active] += world.log_device[:, device[active]].T
    return ll - logsumexp(ll, axis=1, keepdims=True)


def posterior_from_sample(world: World, s: Sample) -> np.ndarray:
    author = np.where(s.ev_video >= 0, s.ev_author, -1)
    return log_posterior(world, len(s.uid), s.ev_user, author, s.ev_hour, s.ev_day, s.ev_bin, s.device, s.n_events)


# ------------------------------------------------------------------- writing


def _titles(rng, world: World) -> list:
    syllables = np.array(
        [
            "ка",
            "ро",
            "ми",
            "ла",
            "то",
            "не",
            "ви",
            "за",
            "до",
            "па",
            "ру",
            "сто",
            "ле",
            "ни",
            "мо",
            "ба",
            "гра",
            "тур",
            "вел",
            "сон",
            "дом",
            "бор",
        ]
    )
    vocab = ["".join(rng.choice(syllables, rng.integers(2, 4))) for _ in range(1500)]
    n = len(world.video_author)
    lengths = rng.integers(2, 7, n)
    cat = world.author_category[world.video_author]
    words = rng.integers(0, len(vocab), (n, 6))
    words[:, 0] = (cat * 37 + words[:, 0] % 12) % len(vocab)  # a category-flavoured word
    return [" ".join(vocab[w] for w in row[:m]).capitalize() for row, m in zip(words.tolist(), lengths.tolist())]


def _videos_table(world: World, seed: int) -> pa.Table:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed).spawn(4)[3]))
    author_ids = rng.choice(np.arange(1_000, 1_000 + 50 * N_AUTHORS), N_AUTHORS, replace=False)
    order = rng.permutation(len(world.video_author))  # catalogue rows in no particular order
    return pa.table(
        {
            "rutube_video_id": video_id_strings(len(order)).take(pa.array(order)),
            "title": pa.array(_titles(rng, world), pa.string()).take(pa.array(order)),
            "category": pa.array(
                np.array(CATEGORIES, dtype=object)[world.author_category[world.video_author]][order], pa.string()
            ),
            "duration": pa.array(world.video_duration_s[order] * 1000, pa.int64()),
            "author_id": pa.array(author_ids[world.video_author][order].astype(np.int64), pa.int64()),
        }
    )


def _events_table(world: World, s: Sample) -> pa.Table:
    return events_table(s, world.region_names, world.region_offset, len(world.video_author))


def generate(
    out_dir: Path, users: int = 50_000, seed: int = 0, progress: bool = True, chunk_users: int | None = None
) -> dict:
    """Write a synthetic contest with its exact oracle into `out_dir`; return the summary.

    `chunk_users`: sample and write the events in chunks of this many users (None: in one piece up to
    ONE_PIECE_MAX_USERS users, else chunks of CHUNK_USERS). A contest that fits one chunk is the
    one-piece contest byte for byte; a chunked one has the same users, labels and catalogue, and its
    own events (each chunk draws from its own stream)."""
    if chunk_users is None:
        chunk_users = users if users <= ONE_PIECE_MAX_USERS else CHUNK_USERS
    if chunk_users < 1:
        raise ValueError(f"synthetic: chunk_users={chunk_users}; expected a positive number of users")
    out_dir = Path(out_dir)
    (out_dir / "oracle").mkdir(parents=True, exist_ok=True)
    log_progress(progress, f"building the world (seed {seed}) ...")
    world = build_world(seed)
    if users > chunk_users:
        return _generate_in_chunks(out_dir, world, users, seed, progress, chunk_users)
    log_progress(progress, f"sampling {users} users and their events ...")
    s = sample(world, users, seed)
    log_progress(progress, f"{len(s.ev_user)} events; computing the exact posterior ...")
    post = posterior_table(posterior_from_sample(world, s))

    log_progress(progress, "writing tables ...")
    write_parquet(_events_table(world, s), out_dir / "train_events.parquet")
    return _write_rest(out_dir, world, s, seed, post, len(s.ev_user), int((s.ev_video < 0).sum()), {}, progress)


def _write_rest(out_dir: Path, world: World, s, seed: int, post, events: int, unknown: int, extra: dict, progress):
    """Everything but the events: the catalogue, the users, the oracle and the summary (returned)."""
    write_parquet(_videos_table(world, seed), out_dir / "video_info_v2.parquet")
    train, test = write_users(out_dir, s)
    write_oracle(out_dir, s, post)

    summary = {
        "generator": "socdem.synthetic.author_tastes",
        "family": "author_tastes",
        "users": int(len(s.uid)),
        "seed": seed,
        "events": int(events),
        "train_users": int(len(train)),
        "test_users": int(len(test)),
        "users_without_events": int((s.n_events == 0).sum()),
        "events_unknown_video": int(unknown),
        "videos": int(len(world.video_author)),
        "authors": N_AUTHORS,
        "categories": len(CATEGORIES),
        "effects": dict(EFFECTS),
        **extra,
    }
    return write_summary(out_dir, summary, s, train, test, post, progress)


def _generate_in_chunks(out_dir: Path, world: World, users: int, seed: int, progress: bool, chunk_users: int) -> dict:
    """The users at once (as in one piece), then their events chunk by chunk: sampled, scored by the
    exact posterior and appended to train_events.parquet, so memory holds one chunk of events at a time."""
    _, rng_users, _ = streams(seed)
    u = _sample_users(rng_users, world, users)
    n_chunks = math.ceil(users / chunk_users)
    # child k of the events' seed sequence draws chunk k's events, whatever the number of chunks
    chunk_seeds = np.random.SeedSequence(seed).spawn(3)[2].spawn(n_chunks)
    post = np.empty((users, 5))
    events = unknown = 0
    log_progress(progress, f"sampling {users} users; their events in {n_chunks} chunks of {chunk_users} users ...")
    with parquet_chunks(out_dir / "train_events.parquet") as write:
        for k, chunk_seed in enumerate(chunk_seeds):
            rows = slice(k * chunk_users, min(users, (k + 1) * chunk_users))
            part = {name: values[rows] for name, values in u.items()}
            s = Sample(**part, **_sample_events(np.random.Generator(np.random.PCG64(chunk_seed)), world, part))
            post[rows] = posterior_table(posterior_from_sample(world, s))
            write(_events_table(world, s))
            events, unknown = events + len(s.ev_user), unknown + int((s.ev_video < 0).sum())
            log_progress(progress, f"chunk {k + 1}/{n_chunks}: {events} events so far")
    extra = {"chunk_users": int(chunk_users)}
    return _write_rest(out_dir, world, SimpleNamespace(**u), seed, post, events, unknown, extra, progress)
