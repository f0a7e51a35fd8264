"""What every synthetic family shares: the class prior, the user, time, device
and watch channels, the random streams, and the writers of the contest tables
and of the oracle.

A class is c = sex * 4 + age_class (8 combinations; sex 0 = male, 1 = female).
Class-effect tables are (8, n) log-effects: +-sex/2 plus a centred age effect.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy.special import logsumexp

from socdem.metrics import best_f1_threshold, contest_scores

REGIONS_CSV = Path(__file__).resolve().parents[1] / "resources" / "regions.csv"
N_CLASSES = 8  # c = sex * 4 + age_class; sex 0 = male, 1 = female
N_HOURS, N_DAYS, N_BINS = 24, 30, 12
JUNE_1 = _dt.datetime(2024, 6, 1)
JUNE_1_WEEKDAY = JUNE_1.weekday()  # Saturday = 5
AGE_RANGES = ((10, 20), (21, 30), (31, 40), (41, 60))  # inclusive year ranges
TEST_SHARE = 0.2
TRAVEL_SHARE = 0.02
ZERO_DURATION_SHARE = 0.005
CATEGORIES = (
    "Юмор",
    "Сериалы",
    "Фильмы",
    "Музыка",
    "Спорт",
    "Авто-мото",
    "Детям",
    "Хобби",
    "Видеоигры",
    "Путешествия",
    "Кулинария",
    "Красота",
    "Здоровье",
    "Наука",
    "Образование",
    "Новости и СМИ",
    "Политика",
    "Бизнес",
    "Технологии",
    "Животные",
    "Дизайн",
    "Лайфстайл",
    "Аниме",
    "Мультфильмы",
    "Телепередачи",
    "Эзотерика",
    "Психология",
    "Религия",
    "Строительство и ремонт",
    "Сад и огород",
    "Рыбалка и охота",
    "Мода",
    "Интервью",
    "Блоги",
    "Разное",
    "Недвижимость",
)


# (ua_device_type, ua_client_type, ua_os, ua_client_name), base share,
# (female, age 0..3) hint.
DEVICE_PROFILES = (
    (("smartphone", "mobile app", "Android", "Rutube"), 0.22, (0.1, (0.3, 0.2, 0, -0.2))),
    (("smartphone", "mobile app", "iOS", "Rutube"), 0.08, (0.4, (0.3, 0.3, 0, -0.5))),
    (("smartphone", "browser", "Android", "Chrome Mobile"), 0.12, (0.1, (0.4, 0.1, 0, -0.2))),
    (("smartphone", "browser", "Android", "Yandex Browser"), 0.08, (0.1, (-0.2, 0, 0.1, 0.2))),
    (("smartphone", "browser", "iOS", "Mobile Safari"), 0.06, (0.5, (0.2, 0.3, 0, -0.4))),
    (("desktop", "browser", "Windows", "Chrome"), 0.14, (-0.3, (0, 0.1, 0.1, -0.1))),
    (("desktop", "browser", "Windows", "Yandex Browser"), 0.12, (-0.1, (-0.4, -0.1, 0.1, 0.4))),
    (("desktop", "browser", "Windows", "Firefox"), 0.02, (-0.5, (-0.2, 0, 0.1, 0.1))),
    (("desktop", "browser", "Windows", "Opera"), 0.02, (-0.3, (0.1, 0, 0, 0))),
    (("desktop", "browser", "Mac OS X", "Safari"), 0.015, (0.2, (-0.2, 0.2, 0.2, -0.2))),
    (("desktop", "browser", "Linux", "Chrome"), 0.005, (-0.8, (0.1, 0.3, 0, -0.4))),
    (("tablet", "mobile app", "Android", "Rutube"), 0.03, (0.3, (0.4, -0.3, 0, 0.2))),
    (("tablet", "browser", "iOS", "Mobile Safari"), 0.015, (0.3, (0.1, -0.2, 0.1, 0.1))),
    (("tv", "mobile app", "Android", "Rutube TV"), 0.035, (-0.1, (-0.6, -0.2, 0.2, 0.5))),
    (("tv", "browser", None, "Smart TV"), 0.012, (-0.1, (-0.6, -0.2, 0.1, 0.6))),
    (("desktop", "browser", None, "Yandex Browser"), 0.01, (0, (-0.2, 0, 0, 0.2))),
    (("smartphone", "browser", None, "Opera Mini"), 0.008, (-0.2, (0.2, 0, 0, -0.1))),
)
REGION_WEIGHTS = {  # rough audience shares of the biggest regions
    "Moscow": 0.16,
    "Moscow Oblast": 0.08,
    "St.-Petersburg": 0.07,
    "Krasnodar Krai": 0.04,
    "Sverdlovsk Oblast": 0.03,
    "Tatarstan Republic": 0.03,
    "Bashkortostan Republic": 0.025,
    "Rostov": 0.025,
    "Chelyabinsk": 0.02,
    "Novosibirsk Oblast": 0.02,
    "Nizhny Novgorod Oblast": 0.02,
    "Samara Oblast": 0.02,
    "Krasnoyarsk Krai": 0.015,
    "Perm Krai": 0.015,
    "Volgograd Oblast": 0.012,
    "Voronezh Oblast": 0.012,
    "Saratov Oblast": 0.01,
    "Omsk Oblast": 0.01,
    "Primorye": 0.01,
    "Irkutsk Oblast": 0.01,
}


def log_progress(progress: bool, msg: str) -> None:
    if progress:
        print(f"synth: {msg}", flush=True)


def streams(seed: int) -> list[np.random.Generator]:
    """Independent generators for the world, the users and the events."""
    children = np.random.SeedSequence(seed).spawn(3)
    return [np.random.Generator(np.random.PCG64(s)) for s in children]


def class_effects(rng, n_items: int, sex_sd: float, age_sd: float) -> np.ndarray:
    """(8, n_items) random log-effects: +-sex/2 plus a centred age effect."""
    sex = rng.normal(0, sex_sd, n_items)
    age = rng.normal(0, age_sd, (4, n_items))
    return combine_effects(sex, age - age.mean(0))


def combine_effects(sex: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Class effect = sign(sex) * sex / 2 + age[age_class]; shapes (n,), (4, n)."""
    sign = np.repeat([-0.5, 0.5], 4)[:, None]
    return sign * sex[None, :] + np.tile(age, (2, 1))


def normalise_log(logits: np.ndarray) -> np.ndarray:
    return logits - logsumexp(logits, axis=-1, keepdims=True)


def smooth_effects(rng, n: int, sd: float, period: int) -> np.ndarray:
    """(8, n) smooth periodic class effects (two Fourier harmonics each)."""
    x = 2 * np.pi * np.arange(n) / period
    basis = np.stack([np.cos(x), np.sin(x), np.cos(2 * x), np.sin(2 * x)])  # (4, n)
    sex = rng.normal(0, sd, 4) @ basis * 2
    age = rng.normal(0, sd, (4, 4)) @ basis
    return combine_effects(sex, age - age.mean(0))


def class_prior() -> np.ndarray:
    female = 0.32
    male_age = np.array([0.13, 0.34, 0.30, 0.23])
    female_age = np.array([0.10, 0.31, 0.33, 0.26])
    return np.concatenate([(1 - female) * male_age, female * female_age])


def regions() -> tuple[list, np.ndarray, np.ndarray]:
    table = pd.read_csv(REGIONS_CSV)
    names = table["region"].astype(str).tolist()
    offset = table["utc_offset_hours"].to_numpy(np.int64)
    rest = 1 - sum(REGION_WEIGHTS.values())
    tail = np.array([0.0 if n in REGION_WEIGHTS else 1 / (i + 8) for i, n in enumerate(names)])
    weights = np.array([REGION_WEIGHTS.get(n, 0.0) for n in names]) + rest * tail / tail.sum()
    return names, offset, weights / weights.sum()


def categorical_effects(rng, base, hints, sd, hint_scale) -> np.ndarray:
    """(8, K) log-probabilities: log base + scaled hand hints + random effects."""
    sex = np.array([h[0] for h in hints], float)
    age = np.array([h[1] for h in hints], float).T
    logits = np.log(np.asarray(base, float))[None, :] + hint_scale * combine_effects(sex, age - age.mean(0))
    return normalise_log(logits + class_effects(rng, len(base), sd, sd))


def time_model(rng, e: dict) -> tuple[np.ndarray, np.ndarray]:
    """Local-hour (8, 24) and local-day-of-June (8, 30) log-probabilities."""
    hours = np.arange(N_HOURS)
    diurnal = 1.2 * np.cos(2 * np.pi * (hours - 21) / 24) + 0.4 * np.cos(4 * np.pi * (hours - 20) / 24)
    young_late = np.array([1.0, 0.4, -0.4, -1.0])[:, None] * np.cos(2 * np.pi * (hours - 1) / 24)[None, :]
    hour_eff = smooth_effects(rng, N_HOURS, e["hour"], 24) + e["hour_age"] * np.tile(young_late, (2, 1))
    log_hour = normalise_log(diurnal[None, :] + hour_eff)
    weekday = (JUNE_1_WEEKDAY + np.arange(N_DAYS)) % 7
    weekend = (np.arange(7) >= 5).astype(float)
    day_eff = smooth_effects(rng, 7, e["weekday"], 7) + e["weekday_age"] * np.tile(
        np.array([0.6, 0.2, -0.3, -0.5])[:, None] * weekend[None, :], (2, 1)
    )
    return log_hour, normalise_log(day_eff[:, weekday])


def watch_model(rng, e: dict) -> np.ndarray:
    """(8, 12) log-probabilities of the watch-fraction bin."""
    base = np.array([0.30, 0.10, 0.06, 0.05, 0.04, 0.04, 0.04, 0.04, 0.05, 0.20, 0.05, 0.03])
    longer = np.linspace(-1, 1, N_BINS)
    age_slope = e["watch_age"] * np.array([-1.0, -0.3, 0.3, 1.0])[:, None] * longer[None, :]
    eff = np.tile(age_slope, (2, 1)) + class_effects(rng, N_BINS, e["watch"], e["watch"])
    return normalise_log(np.log(base)[None, :] + eff)


def draw_categorical(rng, log_p: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One draw per element of `rows` from the row `rows[i]` of exp(log_p)."""
    cdf = np.cumsum(np.exp(log_p), axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(len(rows))
    out = np.empty(len(rows), np.int64)
    for r in range(log_p.shape[0]):
        idx = np.flatnonzero(rows == r)
        out[idx] = np.minimum(np.searchsorted(cdf[r], u[idx], side="right"), log_p.shape[1] - 1)
    return out


def posterior_table(log_post: np.ndarray) -> np.ndarray:
    """(U, 5): P(female), P(age 0..3)."""
    p = np.exp(log_post)
    return np.column_stack([p[:, 4:].sum(1), p[:, :4] + p[:, 4:]])


def write_parquet(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


@contextmanager
def parquet_chunks(path: Path):
    """Yield `write(table)`: each table is appended to one parquet file (its own row groups),
    written to a hidden temp file and renamed onto `path` once every chunk is in."""
    tmp = path.with_name(f".{path.name}.tmp")
    writer = None

    def write(table: pa.Table) -> None:
        nonlocal writer
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
        writer.write_table(table)

    try:
        yield write
        if writer is None:
            raise ValueError(f"{path}: no chunk was written")
        writer.close()
        writer = None
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)


def write_text(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def video_id_strings(n: int, offset: int = 0) -> pa.Array:
    ids = pc.cast(pa.array(np.arange(offset, offset + n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise("video_", ids, "")


def events_table(s, region_names: list, region_offset: np.ndarray, n_videos: int) -> pa.Table:
    """train_events: Moscow timestamps from local time and region; video < 0 = an orphan-pool video."""
    offset_h = region_offset[s.ev_region]
    moscow_s = s.ev_local_s - (offset_h - 3) * 3600
    epoch = int((JUNE_1 - _dt.datetime(1970, 1, 1)).total_seconds())
    order = np.lexsort((s.ev_watch, s.ev_user, moscow_s))
    ts = pa.array((epoch + moscow_s[order]).astype(np.int64), pa.timestamp("s"))
    video = s.ev_video[order]
    video_ids = pc.if_else(
        pa.array(video >= 0),
        video_id_strings(n_videos).take(pa.array(np.maximum(video, 0))),
        video_id_strings(400, offset=n_videos + 5000).take(pa.array(np.maximum(-1 - video, 0))),
    )
    dev = s.device[s.ev_user[order]]
    columns = {
        "event_timestamp": pc.strftime(ts, format="%Y-%m-%d %H:%M:%S+03:00"),
        "viewer_uid": pa.array(s.uid[s.ev_user[order]], pa.int64()),
        "rutube_video_id": video_ids,
        "total_watchtime": pa.array(s.ev_watch[order], pa.int64()),
        "region": pa.array(region_names, pa.string()).take(pa.array(s.ev_region[order])),
    }
    for j, name in enumerate(("ua_device_type", "ua_client_type", "ua_os", "ua_client_name")):
        values = pa.array([p[0][j] for p in DEVICE_PROFILES], pa.string())
        columns[name] = values.take(pa.array(dev))
    return pa.table(columns)


def oracle_scores(female: np.ndarray, age_class: np.ndarray, post: np.ndarray) -> dict:
    threshold, best_f1 = best_f1_threshold(female, post[:, 0])
    scores = contest_scores(female, post[:, 0], age_class, post[:, 1:].argmax(1))
    return {
        "users": int(len(female)),
        "roc_auc": scores["roc_auc"],
        "best_f1": best_f1,
        "best_f1_threshold": threshold,
        "f1": scores["f1"],
        "accuracy": scores["accuracy"],
        "age_f1_weighted": scores["age_f1_weighted"],
        "rutube2024": scores["rutube2024"],
    }


def split_users(s) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the labelled and of the test users, each ordered by uid."""
    train, test = np.flatnonzero(~s.is_test), np.flatnonzero(s.is_test)
    return train[np.argsort(s.uid[train])], test[np.argsort(s.uid[test])]


def write_users(out_dir: Path, s) -> tuple[np.ndarray, np.ndarray]:
    """train_targets and test_users of a sample; (positions of the labelled users, of the test users)."""
    sex = np.where(s.cls >= 4, "female", "male")
    train, test = split_users(s)
    labels = {
        "viewer_uid": pa.array(s.uid[train], pa.int64()),
        "age": pa.array(s.age[train], pa.int64()),
        "sex": pa.array(sex[train], pa.string()),
        "age_class": pa.array(s.cls[train] % 4, pa.int64()),
    }
    write_parquet(pa.table(labels), out_dir / "train_targets.parquet")
    write_parquet(pa.table({"viewer_uid": pa.array(s.uid[test], pa.int64())}), out_dir / "test_users.parquet")
    return train, test


def write_summary(
    out_dir: Path, fields: dict, s, train: np.ndarray, test: np.ndarray, post: np.ndarray, progress: bool
) -> dict:
    """oracle/summary.json: `fields`, then the oracle's scores on the test and the labelled users."""
    female, age_class = (s.cls >= 4).astype(np.int64), s.cls % 4
    summary = {
        **fields,
        "oracle": {
            "test": oracle_scores(female[test], age_class[test], post[test]),
            "train": oracle_scores(female[train], age_class[train], post[train]),
        },
    }
    write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", out_dir / "oracle" / "summary.json")
    o = summary["oracle"]["test"]
    log_progress(
        progress,
        f"done: oracle on test users roc_auc {o['roc_auc']:.4f}, best_f1 {o['best_f1']:.4f}, "
        f"age_f1_weighted {o['age_f1_weighted']:.4f}, rutube2024 {o['rutube2024']:.4f}",
    )
    return summary


def write_oracle(out_dir: Path, s, post: np.ndarray) -> None:
    """oracle/posterior.parquet (every user) and oracle/test_truth.csv."""
    every = np.argsort(s.uid)
    write_parquet(
        pa.table(
            {
                "viewer_uid": pa.array(s.uid[every], pa.int64()),
                "is_test": pa.array(s.is_test[every]),
                "female_proba": pa.array(post[every, 0]),
                **{f"age_p{a}": pa.array(post[every, 1 + a]) for a in range(4)},
            }
        ),
        out_dir / "oracle" / "posterior.parquet",
    )
    test = split_users(s)[1]
    truth = pd.DataFrame(
        {
            "viewer_uid": s.uid[test],
            "sex": np.where(s.cls[test] >= 4, "female", "male"),
            "age_class": s.cls[test] % 4,
            "age": s.age[test],
        }
    )
    write_text(truth.to_csv(index=False), out_dir / "oracle" / "test_truth.csv")
