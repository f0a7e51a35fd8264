"""`cowatch`: the class acts through latent co-watching communities.

Each user belongs to one community z ~ P(z | c) (class-dependent). Given z,
each event's video ~ P(video | z) and its local hour ~ P(hour | z), i.i.d.;
c does not enter them directly. A community watches mostly its own niche
videos (a Zipf over a few hundred, most of them seen by a handful of users)
plus shared popular ones (with a community tilt), and a little of the other
communities' niches. Authors are channels posting in several communities, so
an author says little; which videos a user watches together says who they are.
Day, watch bin and device stay weakly class-dependent as in author_tastes.

Exact posterior, z summed out:
  log P(c | data) = log pi_c + channels_c
                    + logsumexp_z [log P(z | c) + sum_events (log P(video | z) + log P(hour | z))]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

from socdem.synthetic.family import (
    WEAK_CHANNELS,
    Catalogue,
    Channels,
    Draws,
    authors_over_groups,
    build_channels,
    channel_log_lik,
    durations,
    event_sums,
    family_streams,
    generate_family,
    sample_events,
    sample_users,
    syllable_titles,
)
from socdem.synthetic.shared import CATEGORIES, N_HOURS, class_effects, draw_categorical

FAMILY = "cowatch"
DEFAULT_USERS = 50_000
N_COMMUNITIES = 40
N_VIDEOS = 36_000
N_POPULAR = 600  # shared by every community
N_AUTHORS = 2500
AUTHOR_COMMUNITIES = 6  # an author posts in 1..6 communities
EFFECTS = {
    "community_sex": 1.6,  # sd of the communities' log-effects in P(z | c)
    "community_age": 1.1,
    "popular_share": 0.25,  # of a community's events on the shared popular videos
    "popular_tilt": 0.5,  # sd of a community's log-tilt over the popular videos
    "leak": 0.05,  # of the niche events on other communities' niche videos
    "niche_zipf": 1.15,
    "hour_shift": 1.5,  # sd (hours) of a community's shift of the diurnal curve
}


@dataclass
class World:
    channels: Channels  # log_hour has one row per community
    log_community: np.ndarray  # (8, Z) log P(z | c)
    log_video: np.ndarray  # (Z, V) log P(video | z)
    catalogue: Catalogue


def _video_model(rng, e: dict) -> tuple[np.ndarray, np.ndarray]:
    """(Z, V) log P(video | z) and each video's home community (-1: popular)."""
    home = np.r_[np.full(N_POPULAR, -1), rng.integers(0, N_COMMUNITIES, N_VIDEOS - N_POPULAR)]
    niche = home >= 0
    # within a community, a Zipf over its niche videos in random rank order
    rank = np.empty(N_VIDEOS, np.int64)
    order = np.lexsort((rng.random(N_VIDEOS), home))
    first = np.searchsorted(home[order], home[order])
    rank[order] = np.arange(N_VIDEOS) - first + 1
    weight = np.where(niche, rank ** -e["niche_zipf"], 0.0)
    niche_p = weight / np.bincount(home[niche], weight[niche], minlength=N_COMMUNITIES)[np.maximum(home, 0)]
    own = (np.arange(N_COMMUNITIES)[:, None] == home[None, :]) * niche_p[None, :]
    others = (niche[None, :] & ~own.astype(bool)) * niche_p[None, :] / (N_COMMUNITIES - 1)
    popular = 1.0 / np.arange(1, N_POPULAR + 1) ** 0.8
    tilted = np.log(popular)[None, :] + rng.normal(0, e["popular_tilt"], (N_COMMUNITIES, N_POPULAR))
    popular_p = np.exp(tilted - logsumexp(tilted, axis=1, keepdims=True))
    p = (1 - e["popular_share"]) * ((1 - e["leak"]) * own + e["leak"] * others)
    p[:, :N_POPULAR] = e["popular_share"] * popular_p
    return np.log(p), home


def _hour_model(rng, e: dict) -> np.ndarray:
    """(Z, 24) log P(hour | z): the diurnal curve shifted and sharpened per community."""
    hours = np.arange(N_HOURS)[None, :]
    shift = rng.normal(0, e["hour_shift"], (N_COMMUNITIES, 1))
    amplitude = rng.uniform(0.8, 1.6, (N_COMMUNITIES, 1))
    logits = amplitude * np.cos(2 * np.pi * (hours - 21 - shift) / 24) + 0.4 * np.cos(4 * np.pi * (hours - 20) / 24)
    return logits - logsumexp(logits, axis=1, keepdims=True)


def build_world(seed: int) -> World:
    rng = family_streams(seed, FAMILY)[0]
    e = EFFECTS
    channels = build_channels(rng, WEAK_CHANNELS)
    channels.log_hour = _hour_model(rng, e)
    size = np.log(rng.dirichlet(np.full(N_COMMUNITIES, 3.0)))
    logits = size[None, :] + class_effects(rng, N_COMMUNITIES, e["community_sex"], e["community_age"])
    log_community = logits - logsumexp(logits, axis=1, keepdims=True)
    log_video, home = _video_model(rng, e)
    group = np.where(home >= 0, home, rng.integers(0, N_COMMUNITIES, N_VIDEOS))  # popular: any channel
    author = authors_over_groups(rng, N_AUTHORS, group, N_COMMUNITIES, AUTHOR_COMMUNITIES)
    category = rng.integers(0, len(CATEGORIES), int(author.max()) + 1)[author]  # a channel's category
    catalogue = Catalogue(author, category, syllable_titles(rng, category), durations(rng, N_VIDEOS))
    return World(channels, log_community, log_video, catalogue)


def sample(world: World, users: int, seed: int) -> Draws:
    _, rng_users, rng_events, _ = family_streams(seed, FAMILY)
    u = sample_users(rng_users, world.channels, users, median_events=15, sigma=0.9, min_events=1)
    community = draw_categorical(rng_users, world.log_community, u["cls"])
    ev_community = np.repeat(community, u["n_events"])
    video = draw_categorical(rng_events, world.log_video, ev_community)
    return sample_events(rng_events, world.channels, u, video, ev_community, world.catalogue.duration_s)


def log_posterior(world: World, users: int, ev_user, ev_video, ev_hour, ev_day, ev_bin, device) -> np.ndarray:
    """(U, 8) normalised log P(c | observables)."""
    per_community = event_sums(world.log_video, users, ev_user, ev_video)  # (U, Z)
    per_community += event_sums(world.channels.log_hour, users, ev_user, ev_hour)
    mixed = logsumexp(world.log_community[None, :, :] + per_community[:, None, :], axis=2)  # (U, 8)
    ll = world.channels.log_prior[None, :] + mixed
    ll += channel_log_lik(world.channels, users, ev_user, ev_day, ev_bin, device)
    return ll - logsumexp(ll, axis=1, keepdims=True)


def generate(out_dir: Path, users: int = DEFAULT_USERS, seed: int = 0, progress: bool = True) -> dict:
    extra = {"communities": N_COMMUNITIES, "effects": dict(EFFECTS)}
    return generate_family(FAMILY, build_world, sample, log_posterior, extra, out_dir, users, seed, progress)
