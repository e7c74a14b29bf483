"""`run_study`: independent searches, candidates retrained with repeats, k-fold cross-validation, an ensemble,
baselines and the noise floor, explanations (raw and grouped by central bond), validation, one report.

Every stage writes its outputs atomically and then ``RUN/stages/<stage>.json``; a stage whose record exists is
skipped, so an interrupted study resumes where it stopped (inside the searches and the retrainings, at the
trial and the model). Later stages read what earlier ones wrote, never their in-memory results.
"""

import dataclasses
import itertools
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from committor_keras._errors import ConfigError
from committor_keras._provenance import atomic_directory, atomic_path, derive_seed, write_json_atomic
from committor_keras.study._config import load_study_config
from committor_keras.validate import evaluate, scalar_metrics

STAGES = ("searches", "repeats", "baselines", "cv", "ensemble", "explain", "validation", "report")
STAGE_DIR = "stages"
CANDIDATES_DIR = "candidates"
REPEATS_CSV = "repeats.csv"
CANDIDATES_CSV = "candidates.csv"
CV_CSV = "cv.csv"
CV_SUMMARY_CSV = "cv_summary.csv"
CV_PREDICTIONS = "cv_predictions.npz"
ABLATION_CSV = "ablation.csv"
BASELINES_CSV = "baselines.csv"
NOISE_FLOOR_JSON = "noise_floor.json"
ENSEMBLE_DIR = "ensemble"
XAI_DIR = "xai"
VALIDATION_DIR = "validation"
FIGURES_DIR = "figures"
REPORT_MD = "report.md"
_KL = "kl_per_shot"
_ALIASES = ("phi", "psi", "theta")


@dataclasses.dataclass
class StudyResult:
    """What :func:`run_study` returns (everything is also on disk).

    Attributes:
        run_dir: the study directory.
        trials: the trial table of all searches.
        candidates: per candidate, mean and spread of its repeats (``RUN/candidates.csv``).
        cv: per model (candidates, ensemble, baselines), the cross-validated KL (``RUN/cv_summary.csv``).
        report: path of ``report.md``.
    """

    run_dir: Path
    trials: pd.DataFrame
    candidates: pd.DataFrame
    cv: pd.DataFrame
    report: Path


def run_study(data, out_dir, config=None, seed=0, verbose=1):
    """Run (or resume) a whole study in ``out_dir``.

    Args:
        data: a CommittorData or a data path (``.npz``/``.csv``, or a directory or text file that
            :func:`committor_keras.study.load_study_data` reads).
        out_dir: the study directory (created; an existing one is resumed).
        config: a study TOML path, a StudyConfig, a mapping, or None for the defaults.
        seed: the study's seed: the split, the folds and (through :func:`committor_keras._provenance.derive_seed`)
            every search, training and explanation seed.
        verbose: 0 silent, 1 a progress line per stage (and per search), 2 also a line per trial.

    Returns:
        StudyResult.

    Raises:
        ConfigError: invalid configuration, or a directory made from other data or settings.
        DataError: unreadable or invalid data.
    """
    from committor_keras.search import prepare_run
    from committor_keras.study._data import load_study_data

    config = load_study_config(config)
    if not hasattr(data, "features"):
        data = load_study_data(data)
    key = config.study.group_folds_by
    if key and key not in data.extras:
        raise ConfigError(f"{config.source}: key 'study.group_folds_by': the data have no extras[{key!r}] "
                          f"(they have {sorted(data.extras) or 'none'}); leave it empty or name one of those")
    for name in config.study.ablations:
        kept_columns(data, name)  # a misspelt feature fails now, not after the searches
    _check_same_study(Path(out_dir), config)
    run = prepare_run(data, out_dir, config.search, seed, record={"study": config.study.to_dict(),
                                                                  "study_source": config.source})
    study = _Study(run, config, seed, verbose)
    for number, name in enumerate(STAGES, start=1):
        study.stage(number, name)
    return StudyResult(run.run_dir, study.trials(), pd.read_csv(run.run_dir / CANDIDATES_CSV),
                       pd.read_csv(run.run_dir / CV_SUMMARY_CSV), run.run_dir / REPORT_MD)


class _Study:
    """The stages of one study; each reads its inputs from the run directory."""

    def __init__(self, run, config, seed, verbose):
        self.run, self.config, self.settings, self.seed, self.verbose = run, config, config.study, seed, verbose
        self.dir = run.run_dir
        self.data, self.split = run.data, run.split
        self._models = {}

    # -- bookkeeping -------------------------------------------------------------------------------------
    def stage(self, number, name):
        record = self.dir / STAGE_DIR / f"{name}.json"
        prefix = f"[{number}/{len(STAGES)}] {name}"
        if record.is_file():
            self._say(f"{prefix}: done ({json.loads(record.read_text())['seconds']:.0f} s earlier), skipped")
            return
        from committor_keras.search._tuner import quiet_library_warnings

        self._say(f"{prefix}: running")
        start = time.perf_counter()
        with quiet_library_warnings():
            getattr(self, f"_{name}")()
        seconds = time.perf_counter() - start
        write_json_atomic(record, {"stage": name, "seconds": round(seconds, 1),
                                   "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        self._say(f"{prefix}: done in {seconds:.0f} s")

    def _say(self, line):
        if self.verbose:
            print(line, flush=True)

    def trials(self):
        from committor_keras.search import read_trials

        return read_trials(self.dir)

    def _csv(self, name, frame):
        with atomic_path(self.dir / name) as tmp:
            frame.to_csv(tmp, index=False)

    def _read(self, name):
        return pd.read_csv(self.dir / name, dtype={"trial_id": str, "candidate": str})

    def _parts(self):
        from committor_keras.study._retrain import split_parts

        return split_parts(self.data, self.split)

    def _model(self, path):
        import keras

        path = str(path)
        if path not in self._models:
            self._models[path] = keras.saving.load_model(path, compile=False)
        return self._models[path]

    def _final(self):
        """The final candidates, best first (rows of candidates.csv)."""
        candidates = self._read(CANDIDATES_CSV)
        return candidates[candidates["final"]].reset_index(drop=True)

    # -- stages ------------------------------------------------------------------------------------------
    def _searches(self):
        from committor_keras.search import run_searches

        run_searches(self.run, self.config.search, verbose=max(0, self.verbose - 1))

    def _repeats(self):
        from committor_keras.model import DivergedError, resolve_hparams
        from committor_keras.search import trial_hparams
        from committor_keras.study._retrain import retrain_seed, train_candidate

        chosen = distinct_candidates(self.trials(), self.settings.candidates)
        parts, settings, rows = self._parts(), self.config.search.search, []
        for number, (_, trial) in enumerate(chosen.iterrows(), start=1):
            name = f"{number:02d}"
            hparams = resolve_hparams(trial_hparams(trial), source=f"trial {trial['trial_id']}")
            for repeat in range(self.settings.repeats):
                directory = self.dir / CANDIDATES_DIR / name / f"r{repeat}"
                result_file = directory / "result.json"
                if not result_file.is_file():
                    model_seed = retrain_seed(self.seed, trial["search_seed"], trial["trial_id"], repeat)
                    try:
                        trained = train_candidate(hparams, parts, settings, model_seed)
                    except DivergedError as error:
                        trained, result = None, {"seed": model_seed, "diverged": str(error)}
                    else:
                        result = {"seed": model_seed, "best_epoch": trained.fit.best_epoch,
                                  "validation": scalar_metrics(trained.validation),
                                  "test": scalar_metrics(trained.test), "history": trained.fit.history.history}
                    with atomic_directory(directory) as tmp:
                        if trained is not None:
                            trained.model.save(tmp / "model.keras")
                        write_json_atomic(tmp / "result.json", result)
                    self._say(f"    candidate {name} repeat {repeat + 1}/{self.settings.repeats}")
                result = json.loads(result_file.read_text())
                rows.append({"candidate": name, "repeat": repeat, "search_seed": int(trial["search_seed"]),
                             "trial_id": str(trial["trial_id"]), "seed": result["seed"],
                             "architecture": architecture(hparams), "diverged": "diverged" in result,
                             "best_epoch": result.get("best_epoch"),
                             **{f"val_{k}": v for k, v in result.get("validation", {}).items()},
                             **{f"test_{k}": v for k, v in result.get("test", {}).items()},
                             "search_val_kl_per_shot": float(trial["val_kl_per_shot"]),
                             **{c: trial[c] for c in chosen.columns if str(c).startswith("hp_")},
                             "model": f"{CANDIDATES_DIR}/{name}/r{repeat}/model.keras"
                             if "diverged" not in result else ""})
        repeats = pd.DataFrame(rows)
        self._csv(REPEATS_CSV, repeats)
        self._csv(CANDIDATES_CSV, summarise_repeats(repeats, self.settings.final))

    def _baselines(self):
        from committor_keras.validate import baseline_table

        # The networks fit the training part and early-stop on the validation part: the baselines, which need
        # no early stopping, fit both.
        train = np.concatenate([self.split.train, self.split.validation])
        table = baseline_table(self.data, train, self.split.test, random_state=self.seed)
        floor = table.attrs["noise_floor"]
        self._csv(BASELINES_CSV, table.assign(noise_floor=floor["mean"], noise_floor_std=floor["std"]))
        write_json_atomic(self.dir / NOISE_FLOOR_JSON, floor)

    def _cv(self):
        from committor_keras.data import kfold_indices, labels
        from committor_keras.model import DivergedError, predict_logits, resolve_hparams
        from committor_keras.search import trial_hparams
        from committor_keras.study._retrain import train_candidate
        from committor_keras.validate import baseline_table, default_baseline_subsets

        folds = [test for _, test in kfold_indices(self.data, k=self.settings.folds, seed=self.seed,
                                                   groups=self.settings.group_folds_by or None)]
        final = self._final()
        y, rows = labels(self.data), []
        best = final.iloc[0]
        # (model, candidate row, feature columns or None for all); ablations retrain the best without a feature.
        jobs = [(f"candidate {row['candidate']}", row, None) for _, row in final.iterrows()]
        jobs += [(f"candidate {best['candidate']} without {name}", best, kept_columns(self.data, name))
                 for name in self.settings.ablations]
        oof = {model: np.full(len(self.data), np.nan) for model, _, _ in jobs}
        subsets = {**default_baseline_subsets(self.data), **{
            f"all without {name}": [group for group, _ in self.data.groups() if group != name]
            for name in self.settings.ablations}}
        for f, test in enumerate(folds):
            validation = folds[(f + 1) % len(folds)]
            train = np.concatenate([folds[g] for g in range(len(folds)) if g not in (f, (f + 1) % len(folds))])
            # Baselines first: the floor of a fold is that of the best baseline's committor taken as the truth.
            baselines = baseline_table(self.data, np.concatenate([train, validation]), test, subsets=subsets,
                                       random_state=self.seed)
            floor = baselines.attrs["noise_floor"]
            for model, candidate, columns in jobs:
                result_file = self.dir / "cv" / _slug(model) / f"fold-{f}.npz"
                if not result_file.is_file():
                    features = self.data.features if columns is None else self.data.features[:, columns]
                    parts = {name: (features[idx], y[idx], _w(self.data, idx))
                             for name, idx in (("train", train), ("validation", validation), ("test", test))}
                    hparams = resolve_hparams(trial_hparams(candidate), source=model)
                    # The same seed with and without a feature: the pair differs by the feature only.
                    model_seed = derive_seed(self.seed, "cv", int(candidate["search_seed"]),
                                             str(candidate["trial_id"]), f)
                    try:
                        trained = train_candidate(hparams, parts, self.config.search.search, model_seed)
                        logits = predict_logits(trained.model, parts["test"][0])
                    except DivergedError:
                        logits = np.full(len(test), np.nan)
                    with atomic_path(result_file) as tmp, open(tmp, "wb") as handle:
                        np.savez(handle, logits=logits)
                    self._say(f"    fold {f + 1}/{len(folds)}: {model}")
                with np.load(result_file) as stored:
                    oof[model][test] = stored["logits"]
            members = list(final["candidate"][:self.settings.ensemble]) if self.settings.ensemble > 1 else []
            if members:
                oof.setdefault("ensemble", np.full(len(self.data), np.nan))[test] = np.mean(
                    [oof[f"candidate {m}"][test] for m in members], axis=0)
            for model, logits in oof.items():
                if np.isfinite(logits[test]).all():
                    metrics = scalar_metrics(evaluate(None, None, y[test], _w(self.data, test), logits=logits[test]))
                else:
                    metrics = dict.fromkeys(("kl_per_shot", "cross_entropy_per_shot", "rmse", "calibration_error"),
                                            np.nan)
                kind = "ensemble" if model == "ensemble" else "ablation" if " without " in model else "network"
                rows.append({"model": model, "kind": kind, "fold": f, **metrics, "noise_floor": floor["mean"]})
            for _, row in baselines.iterrows():
                kind = "ablation" if " without " in row["baseline"] else "baseline"
                rows.append({"model": f"baseline: {row['baseline']}", "kind": kind, "fold": f,
                             "kl_per_shot": row["kl_per_shot"], "cross_entropy_per_shot": row["cross_entropy_per_shot"],
                             "rmse": row["rmse"], "noise_floor": floor["mean"]})
        cv = pd.DataFrame(rows)
        self._csv(CV_CSV, cv)
        self._csv(CV_SUMMARY_CSV, summarise_cv(cv, final))
        self._csv(ABLATION_CSV, paired_differences(cv, f"candidate {best['candidate']}", self.settings.ablations))
        with atomic_path(self.dir / CV_PREDICTIONS) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, fold=_fold_of(folds, len(self.data)),
                     **{_slug(name): logits for name, logits in oof.items()})

    def _ensemble(self):
        from committor_keras.study._ensemble import ensemble_model, export_ensemble

        final = self._final()
        members = final.head(self.settings.ensemble)
        if self.settings.ensemble < 2 or len(members) < 2:
            write_json_atomic(self.dir / ENSEMBLE_DIR / "skipped.json", {"reason": "fewer than two members"})
            return
        paths = [self.dir / model for model in members["model"]]
        models = [self._model(path) for path in paths]
        ensemble = ensemble_model(models)
        parts = self._parts()
        metrics = {"validation": scalar_metrics(evaluate(ensemble, *parts["validation"])),
                   "test": scalar_metrics(evaluate(ensemble, *parts["test"]))}
        split_sizes = {name: len(getattr(self.split, name)) for name in ("train", "validation", "test")}
        export_ensemble(models, self.dir / ENSEMBLE_DIR, self.data, train_indices=self.split.train,
                        split_sizes=split_sizes, metrics=metrics, seed=self.seed,
                        info={"members": [str(p.relative_to(self.dir)) for p in paths],
                              "candidates": list(members["candidate"])})

    def _explain(self):
        from committor_keras.explain import explain_model, group_by_central_bond

        methods = self.settings.explain_methods
        if not methods:
            return
        test = self.split.test
        if self.settings.explain_points and self.settings.explain_points < len(test):
            rng = np.random.default_rng(derive_seed(self.seed, "explain-points"))
            test = np.sort(rng.choice(test, self.settings.explain_points, replace=False))
        points = self.data.subset(test)
        bonds = group_by_central_bond(self.data)
        raw = {name: [self.data.feature_names[i] for i in columns] for name, columns in self.data.groups()}
        # Without torsions the bond view repeats the raw one: explain it once.
        views = {"raw": "feature", "bond": "bond"} if _partition(bonds) != _partition(raw) else {"raw": "feature"}
        frames = []
        for _, candidate in self._final().iterrows():
            model = self._model(self.dir / candidate["model"])
            for view, grouping in views.items():
                out = self.dir / XAI_DIR / f"candidate-{candidate['candidate']}" / view
                tables = explain_model(model, points, out, methods=methods, regions=("all",),
                                       steps=self.settings.explain_steps, repeats=self.settings.permutation_repeats,
                                       seed=derive_seed(self.seed, "explain"), figures=False, grouping=grouping)
                for method, table in tables.items():
                    frames.append(table.assign(model=f"candidate {candidate['candidate']}", view=view,
                                               method=method))
        importances = pd.concat(frames, ignore_index=True)
        self._csv(f"{XAI_DIR}/importances.csv", importances)
        self._csv(f"{XAI_DIR}/ranks.csv", alias_ranks(importances, self.data, bonds))
        self._csv(f"{XAI_DIR}/spearman.csv", pairwise_spearman(importances))

    def _validation(self):
        from committor_keras.validate import validate_model

        test = self.data.subset(self.split.test)
        best = self._final().iloc[0]
        models = {f"candidate-{best['candidate']}": self._model(self.dir / best["model"])}
        ensemble = self.dir / ENSEMBLE_DIR / "model.keras"
        if ensemble.is_file():
            models["ensemble"] = self._model(ensemble)
        floor = json.loads((self.dir / NOISE_FLOOR_JSON).read_text())
        for name, model in models.items():
            validate_model(model, test, self.dir / VALIDATION_DIR / name, floor=floor,
                           bins=self.settings.calibration_bins, title=name)

    def _report(self):
        from committor_keras.study._report import write_report

        write_report(self.dir, self.data, self.config, self.seed)


def _check_same_study(run_dir, config):
    """Refuse to resume a study whose finished stages were made with other settings (they would be kept)."""
    from committor_keras.search._tune import RUN_JSON

    path = run_dir / RUN_JSON
    if not path.is_file() or not any((run_dir / STAGE_DIR).glob("*.json")):
        return
    before = json.loads(path.read_text()).get("config", {})
    now = config.to_dict()
    for table in ("search", "study"):
        for key, value in now[table].items():
            if before.get(table, {}).get(key) != value:
                raise ConfigError(f"{path}: key '{table}.{key}': {before.get(table, {}).get(key)!r} in this study, "
                                  f"{value!r} now; finished stages would keep the old setting: use a new --out "
                                  "directory (or the original settings to resume)")


def distinct_candidates(trials, count):
    """The best ``count`` completed trials with distinct hyperparameter sets (duplicates keep the better one)."""
    from committor_keras.search import select_top_k, trial_hparams

    ranked = select_top_k(trials, len(trials))
    keys = ranked.apply(lambda row: json.dumps(trial_hparams(row), sort_keys=True), axis=1)
    return ranked[~keys.duplicated()].head(count).reset_index(drop=True)


def architecture(hparams):
    """``"64-32 tanh"``: the widths and the activation, what makes two networks structurally different."""
    layers = int(hparams["hidden_layers"])
    widths = "-".join(str(int(hparams[f"units_{i}"])) for i in range(layers)) or "linear"
    return f"{widths} {hparams['activation']}" if layers else widths


def within_noise(mean, se):
    """Which models are as good as the best: mean within ``max(5 %, 2 standard errors)`` of the lowest mean.

    The standard error combines both models' (``sqrt(se_best**2 + se**2)``), so two noisy models are not
    called different on a difference their repeats do not resolve.

    Args:
        mean: per-model means (lower is better).
        se: their standard errors.

    Returns:
        bool array.
    """
    mean, se = np.asarray(mean, dtype=float), np.nan_to_num(np.asarray(se, dtype=float))
    best = int(np.nanargmin(mean))
    band = np.maximum(0.05 * mean[best], 2 * np.sqrt(se[best] ** 2 + se ** 2))
    return mean <= mean[best] + band


def summarise_repeats(repeats, final):
    """Per candidate: mean, std and standard error of validation and test metrics over its repeats.

    Candidates rank by mean validation KL; ``final`` marks the best ``final``; ``within_noise`` marks those
    within noise of the best (:func:`within_noise` on validation KL).
    """
    metrics = [c for c in repeats.columns if c.startswith(("val_", "test_")) and c != "search_val_kl_per_shot"]
    first = repeats.groupby("candidate", sort=False).first()
    grouped = repeats[~repeats["diverged"]].groupby("candidate", sort=False)
    table = pd.DataFrame({"candidate": first.index, "search_seed": first["search_seed"].to_numpy(),
                          "trial_id": first["trial_id"].to_numpy(), "architecture": first["architecture"].to_numpy(),
                          "search_val_kl_per_shot": first["search_val_kl_per_shot"].to_numpy()})
    table["repeats"] = grouped.size().reindex(first.index).fillna(0).astype(int).to_numpy()
    for column in metrics:
        stats = grouped[column].agg(["mean", "std"]).reindex(first.index)
        table[f"{column}_mean"] = stats["mean"].to_numpy()
        table[f"{column}_std"] = stats["std"].to_numpy()
    table["val_kl_per_shot_se"] = table["val_kl_per_shot_std"] / np.sqrt(table["repeats"].clip(lower=1))
    table = table.sort_values(["val_kl_per_shot_mean", "candidate"], kind="stable", na_position="last")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table["within_noise"] = within_noise(table["val_kl_per_shot_mean"], table["val_kl_per_shot_se"])
    table["final"] = (table["rank"] <= final) & (table["repeats"] > 0)
    hp = first[[c for c in first.columns if str(c).startswith("hp_")]]
    # The model a candidate stands for (ensemble member, explained, validated): its first repeat that trained.
    model = repeats[~repeats["diverged"]].groupby("candidate", sort=False)["model"].first()
    table = table.merge(hp, left_on="candidate", right_index=True)
    table["model"] = table["candidate"].map(model).fillna("")
    return table.reset_index(drop=True)


def summarise_cv(cv, final):
    """Per model: mean, std and standard error over folds of KL per shot, as value and as multiple of the floor."""
    rows = []
    for (model, kind), part in cv.groupby(["model", "kind"], sort=False):
        kl = part[_KL]
        folds = int(kl.notna().sum())
        floor = float(part["noise_floor"].mean())
        rows.append({"model": model, "kind": kind, "folds": folds, "kl_per_shot_mean": kl.mean(),
                     "kl_per_shot_std": kl.std(), "kl_per_shot_se": kl.std() / np.sqrt(max(1, folds)),
                     "cross_entropy_per_shot_mean": part["cross_entropy_per_shot"].mean(),
                     "rmse_mean": part["rmse"].mean(), "noise_floor_mean": floor, "kl_x_floor": kl.mean() / floor})
    table = pd.DataFrame(rows).sort_values("kl_per_shot_mean", kind="stable").reset_index(drop=True)
    architectures = dict(zip("candidate " + final["candidate"], final["architecture"]))
    table["architecture"] = table["model"].map(architectures).fillna("")
    networks = table["kind"].isin(["network", "ensemble"])
    table["within_noise"] = False
    table.loc[networks, "within_noise"] = within_noise(table.loc[networks, "kl_per_shot_mean"],
                                                       table.loc[networks, "kl_per_shot_se"])
    return table


def kept_columns(data, name):
    """Column indices of ``data`` without the feature group ``name`` (an ungrouped feature is its own group).

    Raises:
        ConfigError: ``name`` is not a feature group of ``data``.
    """
    groups = dict(data.groups())
    if name not in groups:
        raise ConfigError(f"key 'study.ablations': {name!r} is not a feature group of {data.source}; give one of "
                          f"{', '.join(groups)}")
    return [column for column in range(data.n_features) if column not in set(groups[name])]


def paired_differences(cv, reference, ablations):
    """What each ablated feature adds: the paired per-fold KL difference without minus with it.

    For the best network (``reference``) and for the all-feature logistic baseline: the mean difference over
    folds, its standard error and the paired t-test's two-sided p-value (a positive difference means the
    feature helps).

    Args:
        cv: the per-fold table (``cv.csv``).
        reference: the network the ablations retrained (``"candidate NN"``).
        ablations: the dropped feature (group) names.

    Returns:
        DataFrame, one row per (feature, model family).
    """
    from scipy.stats import ttest_rel

    by_model = cv.pivot_table(index="fold", columns="model", values=_KL)
    rows = []
    for name in ablations:
        for family, with_it, without in (("network", reference, f"{reference} without {name}"),
                                         ("logistic", "baseline: all", f"baseline: all without {name}")):
            if with_it not in by_model or without not in by_model:
                continue
            difference = (by_model[without] - by_model[with_it]).dropna()
            test = ttest_rel(by_model.loc[difference.index, without], by_model.loc[difference.index, with_it]) \
                if len(difference) > 1 else None
            rows.append({"feature": name, "family": family, "with": by_model[with_it].mean(),
                         "without": by_model[without].mean(), "difference_mean": difference.mean(),
                         "difference_se": difference.std() / np.sqrt(max(1, len(difference))),
                         "folds": len(difference), "p_value": np.nan if test is None else float(test.pvalue)})
    return pd.DataFrame(rows, columns=["feature", "family", "with", "without", "difference_mean", "difference_se",
                                       "folds", "p_value"])


def _slug(text):
    """A directory name for a model label (``candidate 01 without ESP(H18)`` -> ``candidate-01-without-ESP-H18``)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def alias_ranks(importances, data, bond_grouping):
    """Rank of phi, psi and theta (the aliased torsions) per model, method and view.

    In the raw view an alias names its own group; in the bond view it is the rank of the central-bond group
    that holds the torsion's features.
    """
    groups = data.feature_groups
    aliases = {alias: name for name, alias in data.metadata.get("feature_aliases", {}).items() if alias in _ALIASES}
    bond_of = {}
    for bond, members in bond_grouping.items():
        for alias, name in aliases.items():
            if set(groups.get(name, [name])) & set(members):
                bond_of[alias] = bond
    rows = []
    for (model, method, view), part in importances[importances["region"] == "all"].groupby(
            ["model", "method", "view"], sort=False):
        ranks = dict(zip(part["name"], part["rank"]))
        row = {"model": model, "method": method, "view": view}
        for alias, name in aliases.items():
            group = name if view == "raw" else bond_of.get(alias)
            row[alias] = ranks.get(group, np.nan)
            if view != "raw":
                row[f"{alias}_group"] = group
        rows.append(row)
    return pd.DataFrame(rows)


def pairwise_spearman(importances):
    """Spearman correlation of importance vectors between every pair of models, per method and view."""
    from scipy.stats import spearmanr

    rows = []
    overall = importances[importances["region"] == "all"]
    for (method, view), part in overall.groupby(["method", "view"], sort=False):
        vectors = part.pivot_table(index="name", columns="model", values="importance")
        for first, second in itertools.combinations(vectors.columns, 2):
            rho = spearmanr(vectors[first], vectors[second]).statistic if len(vectors) > 1 else np.nan
            rows.append({"method": method, "view": view, "model_a": first, "model_b": second, "spearman": rho})
    return pd.DataFrame(rows, columns=["method", "view", "model_a", "model_b", "spearman"])


def _partition(grouping):
    return {frozenset(members) for members in grouping.values()}


def _fold_of(folds, n):
    fold = np.full(n, -1)
    for f, members in enumerate(folds):
        fold[members] = f
    return fold


def _w(data, indices):
    return None if data.weights is None else data.weights[indices]


