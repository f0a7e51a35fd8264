"""Experiment configuration: dataclasses with commented defaults.

An experiment file `experiments/<name>.toml` holds only what differs from
these defaults. An unknown key or a value of the wrong type fails loudly,
naming the file and the key. These dataclasses are the one source of every
default: the estimators take theirs from here.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from socdem.hashing import hash_object
from socdem.paths import SHIPPED_EXPERIMENTS, paths

LARGE_CONTEST_USERS = 100_000  # labelled users from which the automatic n_folds is 3, not 5
LARGE_FIT_ROWS = 65_000  # CatBoost rows fitted above which a fit is large: the faster learning rate, MVS row sampling


NOT_IN_RUN_NAME = ("tracking.",)  # overrides that change no output: they do not rename the run


class ConfigError(ValueError):
    """A bad experiment file: unknown key, wrong type, unknown experiment."""


@dataclass
class FeatureConfig:
    activity: bool = True  # event counts, distinct videos/authors/categories/days
    watchtime: bool = True  # watch time and watch-fraction statistics
    time: bool = True  # local hour / weekday / part-of-day shares
    device: bool = True  # device, client, OS and client-name shares, regions
    category: bool = True  # category shares, video duration statistics
    embeddings: bool = True  # truncated SVD of TF-IDF user x author / user x video
    top_values: int = 8  # top values kept per device-like column, the rest is "other"
    top_categories: int = 20
    svd_author_dims: int = 32
    svd_video_dims: int = 32
    svd_title_dims: int = 16  # title-word (Snowball stem) embeddings of the videos watched
    # titles by meaning: the PCA (this many dims, label-free) of the mean navec word vectors of the titles watched
    # (features/title_vectors.py; the natasha wheel is fetched once); linear.factors "title_vec" reads them; 0: none,
    # the default: no family's blend gained beyond its interval, even where titles carry only meaning (docs/results.md)
    title_vec_dims: int = 0
    # co-watching communities: a user's posterior over this many communities of a mixture of multinomials over
    # videos (features/communities.py), read by CatBoost's class mixture (naive_bayes); 0: none
    communities: int = 80
    video_counts: bool = True  # JMLC's upstream per-video demographic counts, when the data has them
    video_counts_min_views: int = 40  # the JMLC seed solution's trust threshold: rarer videos' shares are dropped
    # the label-dependent encoders, fitted out of fold, join CatBoost's columns: [target_encoding] and, with
    # naive_bayes, [naive_bayes]
    target_encoding: bool = True
    naive_bayes: bool = True
    # the linear model's cross-fitted logits (models/linear/logits.py) join CatBoost's columns and GENAPON's
    # output: the item-level evidence of every video and author, which a tree or a small network cannot build
    # from a few thousand users' sparse histories
    linear_logits: bool = True


@dataclass
class TargetEncodingConfig:
    # per author and video: class shares among a fold's training users, summarised per user
    # (features/target_encoding.py)
    pseudo_count: float = 35.0  # credibility weight, in views (the JMLC seed solution trusted a share from ~33-40)
    inner_folds: int = 5  # cross-fitting inside the training part of a fold
    hierarchical: bool = True  # a video's shares shrink toward its author's, an author's toward its category's
    # the same encodings of the title words (stems) of the videos watched; off: the blend gains too little for
    # 25 more CatBoost columns (docs/results.md)
    title_words: bool = False


@dataclass
class NaiveBayesConfig:
    # naive-Bayes encodings of the joint class (features/naive_bayes.py): the channels' evidence (hour, weekday,
    # device profile, region), the community mixture when features.communities > 0, and their posterior
    pseudo_count: float = 35.0  # smoothing of every term's class shares, as target_encoding.pseudo_count
    # cross-fitting of the terms whose weights are fitted on the training users; 0: 5 folds below 20,000
    # training users, else 3 (as linear.inner_folds: each topics EM there costs seconds and varies little)
    inner_folds: int = 0
    # a mixture of this many topics over the videos' title words, author and category, fitted with the
    # viewers' classes (features/video_topics.py): a rare video's class shares come from the videos it
    # resembles; 0: none
    video_topics: int = 100


@dataclass
class BaselineConfig:
    pseudo_count: float = 10.0  # AuthorShare smoothing toward the prior


@dataclass
class CatBoostConfig:
    # defaults used when no tuning study exists; tuned values override them per target
    iterations: int = 1500  # upper bound: early stopping picks the number of trees
    # 0: by the rows fitted, 0.06 up to LARGE_FIT_ROWS and 0.1 above: the slower rate scores better but costs
    # more trees, affordable where a fit is cheap, not in the 15-minute loop at the Rutube size (docs/results.md)
    learning_rate: float = 0.0
    depth: int = 6
    l2_leaf_reg: float = 3.0
    grow_policy: str = "SymmetricTree"  # or "Depthwise" (then min_data_in_leaf applies)
    min_data_in_leaf: int = 1
    bootstrap_type: str = ""  # empty: CatBoost's default (MVS for sex, Bayesian for age), or sample_rows below
    bagging_temperature: float = 1.0  # Bayesian bootstrap only
    subsample: float = 0.8  # MVS / Bernoulli bootstrap only
    # a large training set: each tree is grown on an MVS sample of at most this many rows (subsample =
    # sample_rows / rows), where bootstrap_type is left to CatBoost; 0: every row. Cheaper trees for the same
    # scores at the Rutube size, while the smaller families, where sampling costs score, stay below it
    sample_rows: int = LARGE_FIT_ROWS
    border_count: int = 64  # histogram bins: more cost time for no gain on these features (docs/results.md)
    # categorical columns of at most this many values are one-hot encoded, not CTRs: device, client, OS and
    # region; CTRs are recomputed for every tree, so one-hot is far cheaper, for the same scores (docs/results.md)
    one_hot_max_size: int = 255
    # most categorical features combined into one CTR (CatBoost: 4): 1 saves CPU for the same score
    # (docs/results.md); 0: CatBoost's default
    max_ctr_complexity: int = 1
    # trees without a gain on the inner split before a fit stops: more only grow trees that change no score
    # (docs/results.md)
    early_stopping_rounds: int = 25
    # the share of the features each split of a MultiClass (age) tree is chosen among (CatBoost's rsm): such a
    # tree scores every feature once per class, so a sample makes it far cheaper, for the same scores
    # (docs/results.md); a binary target's trees score every feature (a sample there costs score); 1: every feature
    multiclass_rsm: float = 0.25
    inner_valid_share: float = 0.1  # early stopping on a split of the *training* fold
    # with features.linear_logits, on a fold of fewer training users than this the boosting starts from the
    # linear model's scores (CatBoost's baseline), so a few hundred users' trees only correct them; on more the
    # logits are columns like any other, which the trees then use better than a fixed start; 0: never
    baseline_rows: int = 10_000


@dataclass
class TuneConfig:
    trials: int = 20  # per target and per `make tune` run (TRIALS=)
    workers: int = 1  # processes on the same study, one thread each (WORKERS=)
    storage: str = ""  # empty: an Optuna journal file under artifacts/<EXP>/tune/; else an RDB URL (STORAGE=)
    timeout_seconds: float = 0.0  # 0: no limit
    folds: int = 1  # tune on the first n saved folds only (speed: 2 cores); 0: all folds
    max_iterations: int = 1000  # upper end of the iterations search (early stopping picks the rest)
    max_depth: int = 8  # upper end of the depth search
    max_border_count: int = 254  # largest border_count tried (the cost grows with it)
    age_objective: str = "f1_weighted"  # or "logloss": what the age study optimises


@dataclass
class LinearConfig:
    # TF-IDF blocks of each user's items → logistic regression (socdem/models/linear/)
    cs: list = field(default_factory=lambda: [0.3, 1.0, 3.0])  # C grid (inverse L2), extended past an edge
    max_extensions: int = 3  # how far past the grid's edge C may go (one grid step each) while the best sits there
    # each block its own C, the blocks weighed by a stack on their inner out-of-fold logits (false: one
    # model on the blocks side by side, each of unit norm, so a few coarse categories weigh as much as the videos)
    block_weighting: bool = True
    # C and the block weights are chosen by log loss on folds of the *training* fold; 0: 5 folds below
    # 20,000 training users (a small data set's choices are the noisiest, and its fits cheap), else 3
    inner_folds: int = 0
    inner_rows: int = 60_000  # the inner CV's choices on at most this many training users (a stratified sample)
    max_iter: int = 300
    # the SAG solver stops once no weight moves by more than this share of the largest (scikit-learn's 1e-4
    # polishes digits that barely move a held-out log loss, at the price of many more passes: docs/results.md)
    tol: float = 1e-3
    stack_rows: int = 5_000  # the block stack is fitted on at most this many inner out-of-fold rows
    # below it the block combination is scored on refits that never saw a choice split's held-out labels
    # (a stack fitted on inner out-of-fold logits reads them); about one more linear fit there
    nested_rows: int = 5_000
    solver: str = "sag"  # lbfgs is far slower on the multinomial age model (scipy's L-BFGS-B step dominates)
    # one TF-IDF block each; "title_word": Snowball stems of the titles of the videos watched; "engaged_video":
    # the videos watched through (features/interactions.py ENGAGED_SHARE), what a user chose to finish;
    # "watched_video" (off by default, docs/results.md): each video weighted by the share of it watched
    items: list = field(
        default_factory=lambda: ["author_id", "rutube_video_id", "category", "title_word", "engaged_video"]
    )
    # label-free user embeddings among the features, one dense block each ("svd_video": the SVD of the users'
    # videos): a few dozen smooth directions a small data set can fit where thousands of sparse items cannot
    factors: list = field(default_factory=lambda: ["svd_video"])
    min_users: int = 2  # items seen by fewer users (labelled or test) are dropped: they cannot generalise
    # term frequency of each block: true, 1 + log(count) (a binge on one author counts less than breadth);
    # false, the count (re-watches are evidence); both: each block in both forms, weighed by the stack.
    # [true] beside the counts block below scores as [true, false] does at half the CPU (docs/results.md)
    sublinear_tf: list = field(default_factory=lambda: [True])
    # each block also as counts (no idf) in rows of norm ~sqrt(events): a long history weighs more than a short one
    counts: bool = True


@dataclass
class GenaponConfig:
    # DeepSets over (video, author) embeddings + Time2Vec over per-event time
    # features + an FFN over the label-free user features (socdem/models/genapon/)
    epochs: int = 12  # at most; early stopping on an inner split usually ends sooner
    batch_size: int = 256  # users per step (batches group users of similar history length)
    learning_rate: float = 5e-3  # AdamW peak; linear warm-up for half an epoch, then cosine decay
    weight_decay: float = 1e-4
    embedding_dim: int = 32  # video and author embeddings each
    hidden_dim: int = 64  # width of phi, rho, the time encoder, the user FFN and the head
    time_dim: int = 16  # Time2Vec outputs per time feature (1 linear + time_dim - 1 periodic)
    min_count: int = 3  # authors seen fewer times in the training users' events share an UNK row
    video_min_count: int = 100  # the same for videos: a rarer video's own row mostly memorises its few viewers
    # off by default: neither lifts GENAPON or the blend on any synthetic family (docs/results.md)
    video_backoff: bool = False  # a rarer video shares its author's row for rare videos, not one global UNK row
    title_words: bool = False  # each event also carries the mean embedding of its video's title words (stems)
    # each event also carries its video's title by meaning (navec, features/title_vectors.py; PCA over the
    # videos, label-free, to this many dims): a video below video_min_count, or whose words no training user
    # saw, still says what it is about; 0: none
    title_vec_dims: int = 0
    max_events: int = 256  # the most recent events of a user kept (deterministic cap)
    time_encoder: str = "attention"  # "attention" (masked attention pooling) or "lstm" (packed; far slower on CPU)
    attention_heads: int = 4
    dropout: float = 0.1
    author_evidence: bool = True  # cross-fitted author evidence (log share ratios) into the set branch
    evidence_pseudo_count: float = 35.0  # its smoothing, as target_encoding.pseudo_count
    # an author's shares shrink toward its category's, not the prior: a rare author starts from what its
    # category says (the design's choice; the blend barely moves: docs/results.md)
    evidence_hierarchical: bool = True
    age_loss_weight: float = 1.0  # loss = BCE(sex) + age_loss_weight * CE(age_class)
    patience: int = 3  # epochs without a better inner-validation loss before stopping
    # on a large training set the patience also counts users: it ends after fewer epochs where they already
    # cover this many training users' steps (at least one epoch), since each epoch there costs minutes; 0: epochs only
    patience_users: int = 150_000
    inner_valid_share: float = 0.1  # early stopping on a split of the *training* fold
    device: str = "auto"  # "auto": CUDA when present, else CPU


@dataclass
class TrackingConfig:
    # every `make train` / `submit` / `report` / `lb` logged to MLflow (evaluate/tracking.py): a SQLite store under
    # SOCDEM_HOME, or MLFLOW_TRACKING_URI's server; TRACKING=off in the environment overrides this for one command
    enabled: bool = True


@dataclass
class Experiment:
    name: str = "default"
    # "rutube2024" or "jmlc": layout, targets, metrics and submission columns;
    # "auto" takes the layout of the data (Rutube 2024 unless it has JMLC columns)
    contest: str = "auto"
    seed: int = 42
    # 0: by the labelled users, 5 folds below LARGE_CONTEST_USERS, else 3 (`Experiment.folds_for`)
    n_folds: int = 0
    threads: int = 2  # pinned everywhere (CatBoost, torch, BLAS): results depend on it
    models: list = field(default_factory=lambda: ["top_class", "author_share"])
    features: FeatureConfig = field(default_factory=FeatureConfig)
    target_encoding: TargetEncodingConfig = field(default_factory=TargetEncodingConfig)
    naive_bayes: NaiveBayesConfig = field(default_factory=NaiveBayesConfig)
    baselines: BaselineConfig = field(default_factory=BaselineConfig)
    catboost: CatBoostConfig = field(default_factory=CatBoostConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    linear: LinearConfig = field(default_factory=LinearConfig)
    # the model `watched_linear`: the linear model on one block, each video weighted by the share of it watched,
    # which the blend weighs beside the linear model (docs/models.md); with one block only C is chosen, on fewer rows
    watched_linear: LinearConfig = field(
        default_factory=lambda: LinearConfig(items=["watched_video"], factors=[], counts=False, inner_rows=30_000)
    )
    genapon: GenaponConfig = field(default_factory=GenaponConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    # set by load_experiment from SET= / --set: dotted key -> value, only those that differ from the file
    overrides: dict = field(default_factory=dict)

    @property
    def run(self) -> str:
        """The run's name: the experiment, plus a short hash of its overrides when it has any, so runs
        with different overrides keep their own artifacts, submissions and reports."""
        changed = {k: v for k, v in self.overrides.items() if not k.startswith(NOT_IN_RUN_NAME)}
        if not changed:
            return self.name
        return f"{self.name}-{hash_object(changed)[:8]}"

    def overrides_text(self) -> str:
        """The overrides as they would be typed: `catboost.depth=8 genapon.epochs=6` (for display only)."""
        return " ".join(f"{key}={_toml_literal(value)}" for key, value in self.overrides.items())

    @property
    def targets(self) -> tuple[str, ...]:
        return ("sex",) if self.contest == "jmlc" else ("sex", "age_class")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def folds_for(self, labelled_users: int) -> int:
        """The folds of a contest with this many labelled users: `n_folds`, or when it is 0 (the default)
        5 below LARGE_CONTEST_USERS and 3 from there on: at the Rutube 2024 size 3 folds still train each
        model on two thirds of the users, for about half the time of 5 and the same test scores
        (docs/results.md); a smaller contest's models need the larger training parts."""
        if self.n_folds:
            return self.n_folds
        return 5 if labelled_users < LARGE_CONTEST_USERS else 3


def section_params(section, estimator) -> dict:
    """The fields of a config section that `estimator` (a class) takes as parameters: how a runner builds its
    estimator from its section, so the section stays the one source of the defaults."""
    taken = inspect.signature(estimator.__init__).parameters
    return {name: value for name, value in dataclasses.asdict(section).items() if name in taken}


def _check_type(value, annotation, where: str):
    expected = {"int": int, "float": (int, float), "bool": bool, "str": str, "list": list}[annotation]
    if isinstance(value, bool) and annotation in ("int", "float"):
        raise ConfigError(f"{where}: expected {annotation}, got bool {value!r}")
    if not isinstance(value, expected):
        raise ConfigError(f"{where}: expected {annotation}, got {type(value).__name__} {value!r}")
    return float(value) if annotation == "float" else value


NOT_SETTABLE = ("name", "overrides")  # the experiment's identity, never set from a file or SET
# keys that moved to a section of their own: an old experiment file or SET= says where they went
MOVED = {
    FeatureConfig: {
        "te_pseudo_count": "target_encoding.pseudo_count and naive_bayes.pseudo_count",
        "te_inner_folds": "target_encoding.inner_folds and naive_bayes.inner_folds",
        "te_hierarchical": "target_encoding.hierarchical",
        "te_title_words": "target_encoding.title_words",
        "te_naive_bayes": "features.naive_bayes",
        "video_topics": "naive_bayes.video_topics",
    }
}


def _apply(obj, overrides: dict, where: str):
    hints = {f.name: f for f in dataclasses.fields(obj) if f.name not in NOT_SETTABLE}
    for key, value in overrides.items():
        if key in MOVED.get(type(obj), {}):
            raise ConfigError(f"{where}: '{key}' has moved: set {MOVED[type(obj)][key]} instead")
        if key not in hints:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(hints)})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key}: expected a [{key}] table")
            _apply(current, value, f"{where}.{key}")
        else:
            setattr(obj, key, _check_type(value, hints[key].type, f"{where}.{key}"))


def experiment_dirs() -> list[Path]:
    """Where experiments are looked up: SOCDEM_HOME/experiments, then the shipped ones."""
    own = paths().experiments
    return [own] if own.resolve() == SHIPPED_EXPERIMENTS else [own, SHIPPED_EXPERIMENTS]


def parse_overrides(text: str | list | None) -> dict:
    """`catboost.depth=8 genapon.epochs=6` (one string or a list of them) -> {"catboost": {"depth": 8}, ...}.

    Values are TOML literals (`8`, `0.1`, `true`, `'Depthwise'`, `['linear', 'catboost']`); a bare
    word that is not one (`Depthwise`) is taken as a string. A pair starts at each `key=` after
    whitespace, so a list value may contain spaces."""
    parts = [text] if isinstance(text, str) else list(text or [])
    pairs = [p for part in parts for p in re.split(r"\s+(?=[A-Za-z_][\w.]*=)", part.strip()) if p]
    nested: dict = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        if not eq or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", key):
            raise ConfigError(f"SET: expected key=value (e.g. catboost.depth=8), got {pair!r}")
        value = _parse_literal(raw.strip(), key)
        *sections, leaf = key.split(".")
        node = nested
        for section in sections:
            node = node.setdefault(section, {})
            if not isinstance(node, dict):
                raise ConfigError(f"SET: {key}: '{section}' is set both as a value and as a section")
        node[leaf] = value
    return nested


def _parse_literal(raw: str, key: str):
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if re.fullmatch(r"[\w.\-/+]+", raw):
            return raw
        raise ConfigError(f"SET: {key}: {raw!r} is not a TOML value (quote strings: {key}='text')") from None


def _toml_literal(value, bare: bool = True) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if bare and re.fullmatch(r"[A-Za-z_][\w.\-/+]*", value) else repr(value)
    if isinstance(value, list):
        return "[" + ",".join(_toml_literal(v, bare=False) for v in value) + "]"
    return repr(value)


def flatten(obj, prefix: str = "") -> dict:
    """The settings as dotted keys (`catboost.depth`), the run's identity (name, overrides) left out."""
    out = {}
    for f in dataclasses.fields(obj):
        if f.name in NOT_SETTABLE:
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out |= flatten(value, f"{prefix}{f.name}.")
        else:
            out[f"{prefix}{f.name}"] = value
    return out


def _validate(exp: Experiment, where: str) -> None:
    if exp.contest not in ("auto", "rutube2024", "jmlc"):
        raise ConfigError(f"{where}.contest: expected 'auto', 'rutube2024' or 'jmlc', got {exp.contest!r}")
    if exp.n_folds < 2 and exp.n_folds != 0:
        raise ConfigError(f"{where}.n_folds: expected 0 (automatic) or at least 2, got {exp.n_folds}")
    if not 0 < exp.catboost.multiclass_rsm <= 1:
        raise ConfigError(
            f"{where}.catboost.multiclass_rsm: expected a share in (0, 1], got {exp.catboost.multiclass_rsm}"
        )
    factors = {"svd_author", "svd_video", "svd_title", "title_vec"}
    for section in (f.name for f in dataclasses.fields(exp) if isinstance(getattr(exp, f.name), LinearConfig)):
        cfg = getattr(exp, section)
        if not cfg.cs or not all(isinstance(c, int | float) and not isinstance(c, bool) and c > 0 for c in cfg.cs):
            raise ConfigError(f"{where}.{section}.cs: expected a non-empty list of positive numbers, got {cfg.cs!r}")
        if not cfg.tol > 0:
            raise ConfigError(f"{where}.{section}.tol: expected a positive number, got {cfg.tol}")
        if not all(name in factors for name in cfg.factors):
            raise ConfigError(f"{where}.{section}.factors: expected names among {sorted(factors)}, got {cfg.factors!r}")


def load_experiment(name: str, experiments_dir: Path | None = None, overrides: str | list | None = None) -> Experiment:
    """The experiment `name` from its file, then the overrides (SET= / --set), validated alike.

    `exp.overrides` keeps the overrides that change something, in a canonical form (dotted keys,
    sorted, typed): they make the run's identity (`exp.run`)."""
    dirs = [Path(experiments_dir)] if experiments_dir is not None else experiment_dirs()
    path = next((d / f"{name}.toml" for d in dirs if (d / f"{name}.toml").exists()), dirs[0] / f"{name}.toml")
    if not path.exists():
        known = sorted({p.stem for d in dirs for p in d.glob("*.toml")})
        raise ConfigError(f"{path}: no such experiment (known: {', '.join(known) or 'none'})")
    try:
        file_values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    exp = Experiment(name=name)
    file_values.pop("name", None)
    _apply(exp, file_values, str(path))
    _validate(exp, str(path))
    if overrides:
        before = flatten(exp)
        _apply(exp, parse_overrides(overrides), "SET")
        _validate(exp, "SET")
        after = flatten(exp)
        exp.overrides = {key: after[key] for key in sorted(after) if after[key] != before[key]}
    return exp
