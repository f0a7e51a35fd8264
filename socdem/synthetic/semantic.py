"""`semantic`: the class acts through semantic fields that only the titles' meaning reveals.

Each content topic is one hand-written semantic field of socdem.synthetic.semantic_words (fishing,
cooking, manicure, football, Minecraft, cars, news, kids' cartoons, ...: real Russian words in the forms
titles use). Each event's topic ~ P(topic | c) (the field's hint plus its own random effect), then the
video ~ a Zipf over the topic's large pool, most of it rarely watched. A video's title, fixed when the
world is built, is a few words of its field drawn at random (and a class-free filler), so videos of a
field share no word in particular: a video's words say its field to a reader who knows what they mean,
and by spelling only through the other titles that used them. Each field's words are split by Snowball stem
in two halves: its videos of the test period ("new", half of each field's pool) speak the other half, and
only test users watch them (a share of their events), so most words of test users' videos were never on a
labelled user's video, as on a contest whose test users came later. The category is drawn
independently of the field (it says nothing) and an author posts in up to four fields. Hour, day,
watch bin and device stay weakly class-dependent as in author_tastes.

Exact posterior (the title is a function of the video; P(video | topic, test user) does not depend on c):
  log P(c | data) = log pi_c + channels_c + sum_events [log P(topic(video) | c) + log h_c(hour)]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import snowballstemmer

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
from socdem.synthetic.semantic_words import FIELDS, FILLERS, TEMPLATES
from socdem.synthetic.shared import CATEGORIES

FAMILY = "semantic"
DEFAULT_USERS = 20_000
N_TOPICS = len(FIELDS)
N_VIDEOS = 40_000
N_AUTHORS = 8_000  # five videos each on average: an author's own evidence stays thin
FIELD_WORDS = [list(dict.fromkeys(words.split())) for *_, words in FIELDS.values()]
EFFECTS = {
    "field_hint": 0.3,  # scale of the fields' hand-set hints
    "topic_sex": 0.2,  # sd of a field's own log-effects
    "topic_age": 0.2,
    "video_zipf": 0.9,  # within a field's pool: a long tail of rarely watched videos
    "filler_share": 0.5,  # titles that add a class-free filler
    "test_new_share": 0.8,  # a test user's events on the test period's videos (a labelled user's: none)
}


def _split_by_stem(words: list[str]) -> tuple[list[str], list[str]]:
    """A field's words in two halves, every form of a Snowball stem on one side: the words of the earlier
    videos and those of the test period's (one stem's forms are one word to a bag of stems)."""
    stems = snowballstemmer.stemmer("russian").stemWords(words)
    side = {stem: i % 2 for i, stem in enumerate(dict.fromkeys(stems))}
    return [w for w, s in zip(words, stems) if side[s] == 0], [w for w, s in zip(words, stems) if side[s] == 1]


FIELD_HALVES = [_split_by_stem(words) for words in FIELD_WORDS]


def _topic_model(rng, e: dict) -> np.ndarray:
    sex = np.array([h[0] for h in FIELDS.values()])
    age = np.array([h[1] for h in FIELDS.values()], float).T
    return topic_log_p(rng, sex, age, e["field_hint"], e["topic_sex"], e["topic_age"])


def _titles(rng, video_topic: np.ndarray, video_new: np.ndarray, filler_share: float) -> list[str]:
    """One title per video: a template filled with distinct words of its field's half (the test period's for a
    new video), sometimes a filler."""
    template = rng.integers(0, len(TEMPLATES), len(video_topic))
    filler = np.where(rng.random(len(video_topic)) < filler_share, rng.integers(0, len(FILLERS), len(video_topic)), -1)
    titles = []
    for t, new, k, f in zip(video_topic.tolist(), video_new.tolist(), template.tolist(), filler.tolist()):
        words = FIELD_HALVES[t][int(new)]
        text = TEMPLATES[k]
        picked = rng.choice(len(words), text.count("{}"), replace=False)
        title = text.format(*(words[i] for i in picked))
        if f >= 0:
            title = f"{title} ({FILLERS[f]})" if f % 2 else f"{FILLERS[f]}: {title}"
        titles.append(title[0].upper() + title[1:])
    return titles


def build_world(seed: int) -> TopicWorld:
    rng = family_streams(seed, FAMILY)[0]
    e = EFFECTS
    channels = build_channels(rng, WEAK_CHANNELS)
    log_topic = _topic_model(rng, e)
    # pools 0..T-1: each field's earlier videos, T..2T-1: its test period's; video_cdf draws within a pool
    pool, cdf = topic_videos(rng, N_VIDEOS, 2 * N_TOPICS, e["video_zipf"])
    topic, new = pool % N_TOPICS, pool >= N_TOPICS
    author = authors_over_groups(rng, N_AUTHORS, topic, N_TOPICS, 4)  # a channel posts in both periods
    category = rng.integers(0, len(CATEGORIES), N_VIDEOS)  # independent of the field: it says nothing
    catalogue = Catalogue(author, category, _titles(rng, topic, new, e["filler_share"]), durations(rng, N_VIDEOS))
    return TopicWorld(channels, log_topic, topic, cdf, catalogue)


log_posterior = topic_log_posterior  # exact: the topic's term, the hour and the channels


def sample(world: TopicWorld, users: int, seed: int) -> Draws:
    """Per event a field ~ P(field | c), then a video of its earlier pool, or of its test period's pool for
    `test_new_share` of a test user's events: the pool depends on the test flag alone, never on the class."""

    def pool(rng, u, field):
        test_event = np.repeat(u["is_test"], u["n_events"])
        return field + N_TOPICS * (test_event & (rng.random(len(field)) < EFFECTS["test_new_share"]))

    return sample_topic_events(world, users, seed, FAMILY, median_events=15, pool=pool)


def generate(out_dir: Path, users: int = DEFAULT_USERS, seed: int = 0, progress: bool = True) -> dict:
    extra = {"topics": N_TOPICS, "effects": dict(EFFECTS)}
    return generate_family(FAMILY, build_world, sample, log_posterior, extra, out_dir, users, seed, progress)
