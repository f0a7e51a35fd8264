"""`reallike`: the shape of a small real data set (MovieLens-100k read as user -> sex/age).

Few users (1,000 by default), long histories (lognormal, median ~75, at
least 20 events), 1,682 items with Zipf-like popularity, and the class signal
in the individual items: each item has its own sex and age log-effects, with
no author structure (70 "authors" and 20 categories assigned to items at
random, independent of the class). Events are i.i.d. draws from P(item | c)
(an item can come back, as a re-watch). Hour, day, watch bin and device are
class-independent, so they carry nothing.

Exact posterior: log P(c | data) = log pi_c + sum_events log P(item | c) (+ the silent channels' terms).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

from socdem.synthetic.family import (
    SILENT_CHANNELS,
    Catalogue,
    Channels,
    Draws,
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
from socdem.synthetic.shared import CATEGORIES, combine_effects, draw_categorical

FAMILY = "reallike"
DEFAULT_USERS = 1000
N_ITEMS = 1682
N_AUTHORS = 70
N_CATEGORIES = 20
EFFECTS = {
    "item_sex": 0.155,  # sd (under popularity weights) of an item's own log-effects: sets the oracle's sex ROC-AUC
    "item_age": 0.1,  # the same for age: sets the oracle's age weighted F1
    "popularity_zipf": 1.0,
    "median_events": 75,
    "events_sigma": 0.75,
    "min_events": 20,
}


@dataclass
class World:
    channels: Channels
    log_item: np.ndarray  # (8, V) log P(item | c)
    catalogue: Catalogue


def _standardised(effect: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Centred and scaled under the popularity weights: the few popular items dominate the events, so
    their draws would otherwise make the signal swing from seed to seed."""
    centred = effect - (effect * weight).sum(-1, keepdims=True)
    return centred / np.sqrt((centred**2 * weight).sum(-1, keepdims=True))


def build_world(seed: int) -> World:
    rng = family_streams(seed, FAMILY)[0]
    e = EFFECTS
    channels = build_channels(rng, SILENT_CHANNELS)
    popularity = -e["popularity_zipf"] * np.log(rng.permutation(N_ITEMS) + 1.0)
    weight = np.exp(popularity - logsumexp(popularity))
    sex = e["item_sex"] * _standardised(rng.normal(size=N_ITEMS), weight)
    age = e["item_age"] * _standardised(rng.normal(size=(4, N_ITEMS)), weight)
    logits = popularity[None, :] + combine_effects(sex, age - age.mean(0))
    log_item = logits - logsumexp(logits, axis=1, keepdims=True)
    author = rng.integers(0, N_AUTHORS, N_ITEMS)
    category = rng.integers(0, N_CATEGORIES, N_ITEMS)
    catalogue = Catalogue(author, category, syllable_titles(rng, category), durations(rng, N_ITEMS), CATEGORIES)
    return World(channels, log_item, catalogue)


def sample(world: World, users: int, seed: int) -> Draws:
    _, rng_users, rng_events, _ = family_streams(seed, FAMILY)
    e = EFFECTS
    u = sample_users(rng_users, world.channels, users, e["median_events"], e["events_sigma"], e["min_events"])
    cls = np.repeat(u["cls"], u["n_events"])
    item = draw_categorical(rng_events, world.log_item, cls)
    return sample_events(rng_events, world.channels, u, item, cls, world.catalogue.duration_s)


def log_posterior(world: World, users: int, ev_user, ev_video, ev_hour, ev_day, ev_bin, device) -> np.ndarray:
    """(U, 8) normalised log P(c | observables)."""
    ll = world.channels.log_prior[None, :] + event_sums(world.log_item, users, ev_user, ev_video)
    ll += event_sums(world.channels.log_hour, users, ev_user, ev_hour)
    ll += channel_log_lik(world.channels, users, ev_user, ev_day, ev_bin, device)
    return ll - logsumexp(ll, axis=1, keepdims=True)


def generate(out_dir: Path, users: int = DEFAULT_USERS, seed: int = 0, progress: bool = True) -> dict:
    extra = {"effects": dict(EFFECTS)}
    return generate_family(FAMILY, build_world, sample, log_posterior, extra, out_dir, users, seed, progress)
