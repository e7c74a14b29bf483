"""The committor test (Peters, J. Chem. Phys. 125, 241101, 2006): is the model's q = 0.5 surface the real one?

Configurations are drawn afresh, not from the training data: restrained sampling with the work directory's
recipe (its restrained windows, system, force field) under new seeds. They are featurised exactly as the
work directory's data set is (:func:`committor_keras.md._dataset.featurise_frames`), and those whose
predicted committor lies in ``q_range`` (default [0.45, 0.55]) are kept until ``n`` are found. Each is then
shot ``shots`` times with the package's engine. For a good model the p_B histogram peaks at 0.5 with the
width binomial noise alone gives; a model whose q = 0.5 surface misses the transition state gives a broad
or bimodal histogram.

Everything is a work directory under ``OUT`` (``sample-RR/`` per sampling round, ``selected/`` for the
shooting), so an interrupted test resumes where it stopped and gives the same result.

Output ``OUT/committor_test.json`` and ``OUT/committor_test.png``. Widths reported:

- ``std_p_b``: the standard deviation of the measured p_B over the n configurations;
- ``std_binomial``: what binomial noise alone would give if every configuration had p_B equal to its
  predicted q: ``sqrt(mean_i q_i (1 - q_i) / m_i)``, with m_i the committed shots of configuration i;
- ``std_expected``: the same plus the spread of the predicted q themselves,
  ``sqrt(std_binomial^2 + var_i(q_i))`` (the histogram a perfect model would give from these points).
"""

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from committor_keras._errors import ConfigError, DataError
from committor_keras._provenance import write_json_atomic

RESULT_JSON = "committor_test.json"
FIGURE = "committor_test.png"
# derive_seed(recipe seed, TEST_STREAM, seed, round): a stream the work directory's own windows (1) and
# shots (2) never use, so test configurations are new ones
TEST_STREAM = 7


def committor_test(model, workdir, out, n=100, shots=50, seed=0, q_range=(0.45, 0.55), per_window=50,
                   max_rounds=20, workers=1, threads=1, progress=True, log=print):
    """Run the committor test of ``model`` with the recipe of the shooting work directory ``workdir``.

    Args:
        model: a model path (top/NN directory, .keras file or SavedModel with its card) or an object with
            ``feature_names`` and ``predict_committor(features)`` (e.g. a loaded ``CommittorPredictor``).
        workdir: the md work directory whose recipe (md.json) and system (system.pdb) are used; only its
            restrained windows (k > 0) are sampled, each ``per_window`` configurations per round.
        out: directory for the test's own work directories, JSON and figure.
        n: configurations with predicted q in ``q_range`` to shoot.
        shots: shots per configuration.
        seed: the test's seed (sampling rounds and shots are derived from it and the recipe's seed).
        q_range: the band of predicted q a configuration must fall in (closed).
        per_window: configurations sampled per restrained window per round.
        max_rounds: give up (an error) when fewer than ``n`` are found after this many rounds.
        workers: shooting and sampling processes.
        threads: CPU threads per process (CPU platform).
        progress: show progress bars.
        log: callable taking a line of text.

    Returns:
        dict: the result also written to ``OUT/committor_test.json``.

    Raises:
        ConfigError: a work directory without restrained windows or system.pdb, bad arguments.
        DataError: fewer than ``n`` configurations in the band after ``max_rounds`` rounds.
    """
    from committor_keras.md import _system
    from committor_keras._provenance import derive_seed
    from committor_keras.md._config import load_config, save_config
    from committor_keras.md._dataset import featurise_frames
    from committor_keras.md._sampling import SYSTEM_PDB, load_configurations, sample
    from committor_keras.md._shooting import read_shots, shoot

    started = time.perf_counter()
    workdir, out = Path(workdir), Path(out)
    if n < 1 or shots < 1 or per_window < 1 or not 0 <= q_range[0] <= q_range[1] <= 1:
        raise ConfigError("committor test: need n >= 1, shots >= 1, per_window >= 1 and 0 <= low <= high <= 1")
    recipe = load_config(workdir)
    windows = tuple(dataclasses.replace(w, n=per_window) for w in recipe.windows if w.k > 0)
    if not windows:
        raise ConfigError(f"{workdir}/md.json: field 'windows' has no restrained window (k > 0) to sample "
                          "the barrier from; give the work directory the model's data came from")
    if not (workdir / SYSTEM_PDB).is_file():
        raise ConfigError(f"{workdir}/{SYSTEM_PDB}: not found; build the work directory first "
                          f"(`committor-keras md build {workdir}`)")
    predictor = _predictor(model)
    topology, _ = _system.read_pdb(workdir / SYSTEM_PDB)
    pdb_text = (workdir / SYSTEM_PDB).read_bytes()

    def prepare(directory, config):
        directory.mkdir(parents=True, exist_ok=True)
        if not (directory / SYSTEM_PDB).is_file():
            (directory / SYSTEM_PDB).write_bytes(pdb_text)
        from committor_keras.md._workdir import init

        init(directory, config)

    picked_frames, picked_boxes, picked_q, picked_origin, rounds = [], [], [], [], []
    for round_ in range(max_rounds):
        if len(picked_q) >= n:
            break
        directory = out / f"sample-{round_:02d}"
        config = recipe.replace(seed=derive_seed(recipe.seed, TEST_STREAM, seed, round_), windows=windows)
        prepare(directory, config)
        sample(directory, workers=workers, threads=threads, progress=progress)
        frames, boxes, table = load_configurations(directory)
        feats = featurise_frames(recipe, topology, frames, boxes, distances=_wants_distances(predictor))
        q = np.asarray(predictor.predict_committor(_columns(predictor, feats)), float).reshape(-1)
        inside = np.flatnonzero((q >= q_range[0]) & (q <= q_range[1]))
        take = inside[:n - len(picked_q)]
        picked_frames.append(frames[take])
        picked_boxes.append(None if boxes is None else boxes[take])
        picked_q.extend(q[take].tolist())
        picked_origin.extend({"round": round_, "configuration": int(i), "window": int(table["window"][i]),
                              "phi": table["phi"][i], "psi": table["psi"][i]} for i in take)
        rounds.append({"round": round_, "seed": config.seed, "sampled": len(q), "in_band": len(inside),
                       "q_histogram_10_bins": np.histogram(q, bins=10, range=(0, 1))[0].tolist()})
        log(f"committor test: round {round_}: {len(inside)} of {len(q)} sampled configurations have "
            f"{q_range[0]} <= q <= {q_range[1]} ({len(picked_q)}/{n} so far)")
    if len(picked_q) < n:
        raise DataError(out, "q", f"only {len(picked_q)} of {n} configurations with {q_range[0]} <= q <= "
                        f"{q_range[1]} after {max_rounds} rounds of {len(windows)} x {per_window}; raise "
                        "--max-rounds or --per-window, or check that the model fits this work directory")

    selected = out / "selected"
    config = recipe.replace(seed=derive_seed(recipe.seed, TEST_STREAM, seed, max_rounds + 1), windows=(),
                            n_shots=shots, topup_shots=0)
    prepare(selected, config)
    _write_selected(selected, config, picked_frames, picked_boxes, picked_origin)
    shoot(selected, workers=workers, threads=threads, progress=progress, log=log)
    frames, _, _ = load_configurations(selected)
    table = read_shots(selected, len(frames))
    result = _summarise(np.asarray(picked_q), table, shots, q_range)
    result.update({
        "model": str(getattr(predictor, "path", model)), "workdir": str(workdir), "out": str(out),
        "seed": seed, "n": n, "shots": shots, "per_window": per_window, "rounds": rounds,
        "configurations": [{**origin, "q": q, "n_a": int(a), "n_b": int(b)} for origin, q, a, b in
                           zip(picked_origin, picked_q, table.n_a, table.n_b)],
        "wall_seconds": round(time.perf_counter() - started, 1),
        "std_binomial_formula": "sqrt(mean_i q_i (1 - q_i) / m_i), m_i = committed shots of configuration i",
        "std_expected_formula": "sqrt(std_binomial^2 + var_i(q_i))",
    })
    write_json_atomic(out / RESULT_JSON, result)
    plot_histogram(result, out / FIGURE)
    log(f"committor test: p_B mean {result['mean_p_b']:.3f}, std {result['std_p_b']:.3f} "
        f"(binomial noise alone {result['std_binomial']:.3f}); wrote {out / RESULT_JSON}")
    return result


def _predictor(model):
    if hasattr(model, "predict_committor"):
        predictor = model
    else:
        from committor_keras.export import load_committor_model

        predictor = load_committor_model(model)
    if getattr(predictor, "feature_names", None) is None:
        raise ConfigError(f"{model}: the model has no card with feature names; give its top/NN directory so "
                          "the test featurises configurations as its training data")
    return predictor


def _wants_distances(predictor):
    return any(name.startswith("d(") for name in predictor.feature_names)


def _columns(predictor, feats):
    names = list(feats.feature_names)
    missing = [name for name in predictor.feature_names if name not in names]
    if missing:
        raise DataError("<committor test>", "feature_names", f"the model uses {missing[:5]}, which the work "
                        "directory's featuriser does not make; give the work directory of the model's data")
    return feats.features[:, [names.index(name) for name in predictor.feature_names]]


def _write_selected(directory, config, frames, boxes, origin):
    """``configurations.xtc`` + ``.json`` of the picked configurations (once; a resumed test reuses them)."""
    from committor_keras.md._sampling import CONFIGURATIONS_JSON, CONFIGURATIONS_XTC
    from committor_keras.md._xtc import write_xtc

    frames = np.concatenate(frames)
    if (directory / CONFIGURATIONS_XTC).is_file() and (directory / CONFIGURATIONS_JSON).is_file():
        made = json.loads((directory / CONFIGURATIONS_JSON).read_text())["n_configurations"]
        if made != len(frames):
            raise ConfigError(f"{directory}: holds a test of {made} configurations, not {len(frames)}; use "
                              "another --out")
        return
    periodic = boxes[0] is not None
    write_xtc(directory / CONFIGURATIONS_XTC, frames, np.concatenate(boxes) if periodic else None,
              dt_ps=config.stride_steps * config.timestep_ps)
    table = {key: [o[key] for o in origin] for key in ("round", "configuration", "window", "phi", "psi")}
    write_json_atomic(directory / CONFIGURATIONS_JSON, {"n_configurations": len(frames), "per_configuration": table})


def committor_test_summary(q, n_a, n_b, groups=None):
    """The committor test's statistics, for all tested configurations and per group of them.

    Groups are e.g. the crossing channels of the configurations (from the ``psi`` of the result's
    ``configurations``): a model can put its q = 0.5 surface right in one channel and wrong in another.

    Args:
        q: ``(n,)`` predicted committors of the tested configurations.
        n_a, n_b: ``(n,)`` shots committed to A and to B (each configuration at least one).
        groups: optional ``(n,)`` labels; each label gets a row after ``"all"``, in sorted order.

    Returns:
        DataFrame indexed by group: ``n``, ``mean_q``, ``mean_p_b``, ``median_p_b``, ``std_p_b``,
        ``std_binomial`` (``sqrt(mean_i q_i (1 - q_i) / m_i)``, m_i the committed shots: the spread binomial
        noise alone gives if every p_B equals its q), ``std_expected`` (``sqrt(std_binomial^2 + var_i q_i)``:
        the spread a perfect model gives from these configurations) and ``width_ratio``
        (``std_p_b / std_expected``, 1 for a perfect reaction coordinate).
    """
    import pandas as pd

    q, n_a, n_b = (np.asarray(x, float) for x in (q, n_a, n_b))
    committed = n_a + n_b
    labels = [("all", np.ones(len(q), bool))]
    if groups is not None:
        groups = np.asarray(groups)
        labels += [(label, groups == label) for label in sorted(set(groups.tolist()))]
    rows = {}
    for label, mask in labels:
        p_b = n_b[mask] / committed[mask]
        binomial = np.sqrt(np.mean(q[mask] * (1 - q[mask]) / committed[mask]))
        expected = np.sqrt(binomial**2 + q[mask].var())
        rows[label] = {"n": int(mask.sum()), "mean_q": q[mask].mean(), "mean_p_b": p_b.mean(),
                       "median_p_b": np.median(p_b), "std_p_b": p_b.std(), "std_binomial": binomial,
                       "std_expected": expected, "width_ratio": p_b.std() / expected}
    return pd.DataFrame.from_dict(rows, orient="index")


def _summarise(q, table, shots, q_range):
    committed = table.n_a + table.n_b
    if np.any(committed == 0):
        raise DataError("<committor test>", "shots", f"{int(np.sum(committed == 0))} configuration(s) with no "
                        "committed shot; raise max_steps in md.json")
    p_b = table.n_b / committed
    stats = committor_test_summary(q, table.n_a, table.n_b).loc["all"]
    return {
        "q_range": list(q_range), "p_b": p_b.tolist(), "q": q.tolist(),
        **{key: float(stats[key]) for key in ("mean_p_b", "std_p_b", "median_p_b", "mean_q", "std_binomial",
                                              "std_expected")},
        "uncommitted_shots": int(table.n_uncommitted.sum()),
        "p_b_histogram": {"edges": np.linspace(0, 1, 11).tolist(),
                          "counts": np.histogram(p_b, bins=10, range=(0, 1))[0].tolist()},
        "shots_fired": int(table.n_shots.sum()), "shots_per_configuration": shots,
    }


def expected_histogram(q, shots, edges):
    """Expected counts per bin of p_B if configuration i had p_B = q_i exactly: a binomial mixture."""
    from scipy.stats import binom

    counts = np.zeros(len(edges) - 1)
    k = np.arange(shots + 1)
    for qi in q:
        counts += np.histogram(k / shots, bins=edges, weights=binom.pmf(k, shots, qi))[0]
    return counts


def plot_histogram(result, path):
    """The p_B histogram with the binomial expectation from the predicted q (PNG).

    Bins are aligned with the values k / shots that p_B takes (``max(1, shots // 20)`` values per bin).
    """
    # A standalone Figure, not pyplot: no global backend switch or open figure left in the caller's session
    # (a notebook), even when saving fails.
    from matplotlib.figure import Figure

    from committor_keras._provenance import atomic_path

    shots = result["shots_per_configuration"]
    # bins holding the same number of the values k / shots p_B takes, so the histogram does not alias
    step = max(1, shots // 20)
    edges = (np.arange(0, shots + step + 1, step) - 0.5) / shots
    fig = Figure(figsize=(5.0, 3.4), dpi=100)
    ax = fig.subplots()
    ax.hist(result["p_b"], bins=edges, color="#4c72b0", alpha=0.8, label=f"measured ({len(result['p_b'])} "
            f"configurations x {shots} shots)")
    centres = (edges[:-1] + edges[1:]) / 2
    ax.plot(centres, expected_histogram(result["q"], shots, edges), "k.-", label="binomial noise alone")
    ax.axvline(0.5, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="p_B", ylabel="configurations", xlim=(-0.02, 1.02),
           title=f"committor test: q in [{result['q_range'][0]}, {result['q_range'][1]}]")
    ax.text(0.02, 0.97, f"mean {result['mean_p_b']:.3f}\nstd {result['std_p_b']:.3f}\n"
            f"binomial std {result['std_binomial']:.3f}", transform=ax.transAxes, va="top", fontsize=8)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def read_result(out):
    """The JSON written by :func:`committor_test` in ``out``."""
    return json.loads((Path(out) / RESULT_JSON).read_text())
