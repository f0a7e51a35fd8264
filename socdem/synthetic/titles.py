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

from pathlib import Path

import numpy as np

from socdem.synthetic.family import (
    WEAK_CHANNELS,
    Catalogue,
    Draws,
    TopicWorld,
    authors_over_groups,
    build_channels,
    durations,
    family_streams,
    generate_family,
    sample_topic_events,
    topic_log_p,
    topic_log_posterior,
    topic_videos,
)
from socdem.synthetic.russian_words import CASES, FAMILIES, FILLERS, TEMPLATES, inflect, padded_stems
from socdem.synthetic.shared import CATEGORIES

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


def _topic_model(rng, e: dict) -> np.ndarray:
    family = np.repeat(np.arange(len(FAMILIES)), TOPICS_PER_FAMILY)
    hints = list(FAMILIES.values())
    sex = np.array([h[1] for h in hints])[family]
    age = np.array([h[2] for h in hints], float)[family].T
    return topic_log_p(rng, sex, age, e["family_hint"], e["topic_sex"], e["topic_age"])


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


def build_world(seed: int) -> TopicWorld:
    rng = family_streams(seed, FAMILY)[0]
    e = EFFECTS
    channels = build_channels(rng, WEAK_CHANNELS)
    log_topic = _topic_model(rng, e)
    topic, cdf = topic_videos(rng, N_VIDEOS, N_TOPICS, e["video_zipf"])
    author = authors_over_groups(rng, N_AUTHORS, topic, N_TOPICS, 3)
    family_category = np.array([CATEGORIES.index(h[0]) for h in FAMILIES.values()])
    category = family_category[topic // TOPICS_PER_FAMILY]
    catalogue = Catalogue(author, category, _titles(rng, topic), durations(rng, N_VIDEOS))
    return TopicWorld(channels, log_topic, topic, cdf, catalogue)


log_posterior = topic_log_posterior  # exact: the topic's term, the hour and the channels


def sample(world: TopicWorld, users: int, seed: int) -> Draws:
    return sample_topic_events(world, users, seed, FAMILY, median_events=15)


def generate(out_dir: Path, users: int = DEFAULT_USERS, seed: int = 0, progress: bool = True) -> dict:
    extra = {"topics": N_TOPICS, "effects": dict(EFFECTS)}
    return generate_family(FAMILY, build_world, sample, log_posterior, extra, out_dir, users, seed, progress)
