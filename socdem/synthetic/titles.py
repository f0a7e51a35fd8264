"""`titles`: the class acts through content topics that the titles reveal.

60 topics, four per topic family of socdem.synthetic.russian_words (fishing,
beauty, games, ...). Each event's topic ~ P(topic | c) (the family's hint plus
the topic's own random effect), then the video ~ a Zipf over the topic's large
pool, most of it rarely watched. A video's title is fixed when the world is
built, from its topic's nouns in inflected forms ("рыбалка", "рыбалки",
"рыбалкой", ...) and shared fillers, so it is a function of the video; authors
post in 1-3 topics. Hour, day, watch bin and device stay weakly
class-dependent as in author_tastes.

Exact posterior (P(video | topic) does not depend on c and cancels):
  log P(c | data) = log pi_c + channels_c + sum_events [log P(topic(video) | c) + log h_c(hour)]
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
)
from socdem.synthetic.russian_words import CASES, FAMILIES, FILLERS, TEMPLATES, inflect, padded_stems
from socdem.synthetic.shared import CATEGORIES, class_effects, combine_effects, draw_categorical

FAMILY = "titles"
DEFAULT_USERS = 50_000
TOPICS_PER_FAMILY = 4
N_TOPICS = TOPICS_PER_FAMILY * len(FAMILIES)
N_VIDEOS = 30_000
N_AUTHORS = 2500
STEMS_PER_FAMILY = 240
STEMS_PER_TOPIC = 90
FAMILIES_NOUNS = [nouns.split() for *_, nouns in FAMILIES.values()]
EFFECTS = {
    "family_hint": 0.2,  # scale of the topic families' hand-set hints
    "topic_sex": 0.3,  # sd of a topic's own log-effects
    "topic_age": 0.25,
    "video_zipf": 1.1,  # within a topic's pool
}


@dataclass
class World:
    channels: Channels
    log_topic: np.ndarray  # (8, T) log P(topic | c)
    video_topic: np.ndarray  # (V,) videos grouped by topic
    video_cdf: np.ndarray  # (V,) topic index + the within-topic Zipf CDF
    catalogue: Catalogue


def _topic_model(rng, e: dict) -> np.ndarray:
    family = np.repeat(np.arange(len(FAMILIES)), TOPICS_PER_FAMILY)
    hints = list(FAMILIES.values())
    sex = np.array([h[1] for h in hints])[family]
    age = np.array([h[2] for h in hints], float)[family].T
    effect = e["family_hint"] * combine_effects(sex, age - age.mean(0))
    popularity = np.log(rng.dirichlet(np.full(N_TOPICS, 4.0)))
    logits = popularity[None, :] + effect + class_effects(rng, N_TOPICS, e["topic_sex"], e["topic_age"])
    return logits - logsumexp(logits, axis=1, keepdims=True)


def _videos(rng, e: dict) -> tuple[np.ndarray, np.ndarray]:
    """Each video's topic (grouped) and the topic-offset Zipf CDF for drawing a video of a topic."""
    topic = np.sort(rng.integers(0, N_TOPICS, N_VIDEOS))
    start = np.searchsorted(topic, np.arange(N_TOPICS))
    rank = np.arange(N_VIDEOS) - start[topic] + 1
    weight = 1.0 / rank ** e["video_zipf"]
    weight = weight[np.lexsort((rng.random(N_VIDEOS), topic))]  # ranks shuffled within each topic
    cum = np.cumsum(weight)
    before = (cum - weight)[start][topic]
    total = np.bincount(topic, weight, minlength=N_TOPICS)[topic]
    cdf = topic + (cum - before) / total
    last = np.r_[start[1:] - 1, N_VIDEOS - 1]
    cdf[last] = np.arange(1, N_TOPICS + 1)  # exact segment ends
    return topic, cdf


def _titles(rng, video_topic: np.ndarray) -> list[str]:
    """One title per video from its topic's nouns (inflected) and the shared fillers."""
    family_stems = [padded_stems(rng, nouns, STEMS_PER_FAMILY) for nouns in FAMILIES_NOUNS]
    topic_forms = []
    for t in range(N_TOPICS):
        stems = family_stems[t // TOPICS_PER_FAMILY]
        real = len(FAMILIES_NOUNS[t // TOPICS_PER_FAMILY])  # the real nouns lead, so they get the Zipf head
        padding = real + rng.choice(len(stems) - real, STEMS_PER_TOPIC - real, replace=False)
        chosen = np.r_[rng.permutation(real), padding]
        topic_forms.append([dict(zip(CASES, inflect(stems[i]))) for i in chosen])
    zipf = 1.0 / np.arange(1, STEMS_PER_TOPIC + 1)
    n = len(video_topic)
    template = rng.integers(0, len(TEMPLATES), n)
    nouns = rng.choice(STEMS_PER_TOPIC, (n, 2), p=zipf / zipf.sum())
    filler = rng.integers(-len(FILLERS), len(FILLERS), n)  # negative: no filler
    titles = []
    for t, k, (a, b), f in zip(video_topic.tolist(), template.tolist(), nouns.tolist(), filler.tolist()):
        cases, text = TEMPLATES[k]
        forms = topic_forms[t]
        words = [forms[i][case] for i, case in zip((a, b), cases.split())]
        title = text.format(*words)
        if f >= 0:
            title = f"{title} {FILLERS[f]}" if f % 2 else f"{FILLERS[f]}: {title}"
        titles.append(title[0].upper() + title[1:])
    return titles


def build_world(seed: int) -> World:
    rng = family_streams(seed, FAMILY)[0]
    e = EFFECTS
    channels = build_channels(rng, WEAK_CHANNELS)
    log_topic = _topic_model(rng, e)
    topic, cdf = _videos(rng, e)
    author = authors_over_groups(rng, N_AUTHORS, topic, N_TOPICS, 3)
    family_category = np.array([CATEGORIES.index(h[0]) for h in FAMILIES.values()])
    category = family_category[topic // TOPICS_PER_FAMILY]
    catalogue = Catalogue(author, category, _titles(rng, topic), durations(rng, N_VIDEOS))
    return World(channels, log_topic, topic, cdf, catalogue)


def sample(world: World, users: int, seed: int) -> Draws:
    _, rng_users, rng_events, _ = family_streams(seed, FAMILY)
    u = sample_users(rng_users, world.channels, users, median_events=15, sigma=0.9, min_events=1)
    cls = np.repeat(u["cls"], u["n_events"])
    topic = draw_categorical(rng_events, world.log_topic, cls)
    video = np.searchsorted(world.video_cdf, topic + rng_events.random(len(topic)), side="right")
    video = np.minimum(video, N_VIDEOS - 1)
    return sample_events(rng_events, world.channels, u, video, cls, world.catalogue.duration_s)


def log_posterior(world: World, users: int, ev_user, ev_video, ev_hour, ev_day, ev_bin, device) -> np.ndarray:
    """(U, 8) normalised log P(c | observables)."""
    ll = world.channels.log_prior[None, :] + event_sums(world.log_topic, users, ev_user, world.video_topic[ev_video])
    ll += event_sums(world.channels.log_hour, users, ev_user, ev_hour)
    ll += channel_log_lik(world.channels, users, ev_user, ev_day, ev_bin, device)
    return ll - logsumexp(ll, axis=1, keepdims=True)


def generate(out_dir: Path, users: int = DEFAULT_USERS, seed: int = 0, progress: bool = True) -> dict:
    extra = {"topics": N_TOPICS, "effects": dict(EFFECTS)}
    return generate_family(FAMILY, build_world, sample, log_posterior, extra, out_dir, users, seed, progress)
