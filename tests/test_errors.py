"""The error catalogue: bad inputs a user may give, each answered by one line naming what to fix, exit status 2.

``CASES`` is the catalogue; ``docs/errors.md`` is generated from it (``python tests/test_errors.py`` rewrites
the table) and a test checks that the two agree. Every case runs the command line in this process.
"""

import json
import shutil
import sys
import typing
from pathlib import Path

import numpy as np
import pytest

from committor_keras.cli import main
from committor_keras.data import load, make_synthetic

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
TABLE_START, TABLE_END = "<!-- catalogue: start -->", "<!-- catalogue: end -->"
TINY_RUN = "[search]\nmax_trials = 1\nsearches = 1\ninitial_points = 1\nepochs = 2\npatience = 1\ntop_k = 1\n" \
           "[space.hidden_layers]\nvalue = 1\n[space.units]\nvalue = 4\n[space.batch_size]\nvalue = 128\n"


class Case(typing.NamedTuple):
    """One bad input: what the user does (as in the docs), the arguments, and a fragment of the message."""

    input: str
    command: str
    argv: typing.Callable
    message: str


def _csv(text):
    return lambda f: ["inspect", f.write("bad.csv", text)]


def _tune(*extra, data="data"):
    return lambda f: ["tune", getattr(f, data), "--out", f.run, "--config", f.tiny, *extra]


CASES = [
    # Data files (the same readers serve inspect, tune, predict and explain).
    Case("data file that does not exist", "inspect missing.npz", lambda f: ["inspect", f.tmp / "missing.npz"],
         "does not exist or is not a file"),
    Case("data file with an unknown suffix", "inspect points.txt", lambda f: ["inspect", f.write("p.txt", "1,2\n")],
         "unknown suffix '.txt'"),
    Case("a text file named .npz", "inspect text.npz", lambda f: ["inspect", f.write("text.npz", "a,b\n1,2\n")],
         "not a .npz archive"),
    Case(".npz with pickled (object) arrays", "inspect pickled.npz", lambda f: ["inspect", f.pickled],
         "holds pickled objects"),
    Case(".npz without features", "inspect nofeatures.npz", lambda f: ["inspect", f.no_features],
         "field 'features': missing from the archive"),
    Case("empty CSV file", "inspect empty.csv", _csv(""), "not a readable CSV"),
    Case("CSV with a header and no rows", "inspect header-only.csv", _csv("phi,n_a,n_b\n"),
         "header but no data rows"),
    Case("CSV with text in a column", "inspect words.csv", _csv("phi,n_a,n_b\nabc,1,2\n"),
         "field 'phi': has non-numeric values"),
    Case("CSV with a repeated column name", "inspect twice.csv", _csv("phi,phi,n_a,n_b\n1,2,1,1\n"),
         "duplicate column name(s) ['phi']"),
    Case("CSV with a broken metadata line", "inspect meta.csv",
         _csv("# committor-keras metadata: {oops\nphi,n_a,n_b\n1,1,1\n"), "field 'metadata'"),
    Case("negative shot count", "inspect negative.csv", _csv("phi,n_a,n_b\n0.1,1,-2\n0.2,1,1\n"),
         "field 'n_b': negative shot count"),
    Case("fractional shot count (2.5)", "inspect fractional.csv", _csv("phi,n_a,n_b\n0.1,2.5,1\n0.2,1,1\n"),
         "field 'n_a': fractional shot count 2.5"),
    Case("a point with no shots", "inspect zero.csv", _csv("phi,n_a,n_b\n0.1,0,0\n0.2,1,1\n"),
         "field 'n_a+n_b': 1 point(s) with zero shots"),
    Case("only one of n_a, n_b", "inspect half.csv", _csv("phi,n_a\n0.1,1\n"), "field 'n_b': missing"),
    Case("no label columns", "inspect nolabels.csv", _csv("phi,psi\n0.1,1\n"), "field 'labels': no labels"),
    Case("both label forms", "inspect both.csv", _csv("phi,n_a,n_b,p_b,n_shots\n0.1,1,1,0.5,2\n"),
         "field 'labels': give either"),
    Case("p_b outside [0, 1]", "inspect pb.csv", _csv("phi,p_b,n_shots\n0.1,1.5,4\n0.2,0.5,4\n"),
         "field 'p_b': 1 value(s) outside [0, 1]"),
    Case("p_b with zero shots", "inspect pb0.csv", _csv("phi,p_b,n_shots\n0.1,0.5,0\n0.2,0.5,4\n"),
         "field 'n_shots': 1 point(s) with zero or negative shots"),
    Case("fractional n_shots", "inspect pbfrac.csv", _csv("phi,p_b,n_shots\n0.1,0.5,2.5\n0.2,0.5,4\n"),
         "field 'n_shots': fractional shot count"),
    Case("a missing feature value", "inspect nan.csv", _csv("phi,psi,n_a,n_b\n0.1,,1,1\n0.2,1,1,1\n"),
         "field 'psi': 1 non-finite value(s)"),
    # tune
    Case("tune on a missing data file", "tune missing.npz --out RUN", lambda f: ["tune", f.tmp / "m.npz", "--out",
                                                                                  f.run], "does not exist"),
    Case("tune --out naming a file", "tune DATA --out FILE", lambda f: ["tune", f.data, "--out", f.a_file],
         "is a file, not a directory"),
    Case("tune --out below a file", "tune DATA --out FILE/sub",
         lambda f: ["tune", f.data, "--out", f.a_file / "sub"], "is a file, not a directory"),
    Case("tune --config naming a directory", "tune DATA --out RUN --config DIR",
         lambda f: ["tune", f.data, "--out", f.tmp / "new", "--config", f.tmp], "is a directory"),
    Case("tune --config that does not exist", "tune DATA --out RUN --config missing.toml",
         lambda f: ["tune", f.data, "--out", f.tmp / "new", "--config", f.tmp / "missing.toml"], "file not found"),
    Case("configuration with a TOML syntax error", "tune DATA --out RUN --config broken.toml",
         lambda f: ["tune", f.data, "--out", f.tmp / "new", "--config", f.write("b.toml", "[search\n")],
         "not valid TOML"),
    Case("a range with min > max", "tune DATA --out RUN --config swapped.toml",
         lambda f: ["tune", f.data, "--out", f.tmp / "new", "--config",
                    f.write("s.toml", "[space.units]\nmin = 64\nmax = 8\n")], "min (64) > max (8)"),
    Case("a misspelt setting", "tune DATA --out RUN --config typo.toml",
         lambda f: ["tune", f.data, "--out", f.tmp / "new", "--config", f.write("t.toml", "[search]\nepoch = 3\n")],
         "key 'search.epoch': unknown setting"),
    Case("an unknown table", "tune DATA --out RUN --config table.toml",
         lambda f: ["tune", f.data, "--out", f.tmp / "new", "--config", f.write("u.toml", "[serch]\nepochs = 3\n")],
         "key 'serch': unknown table"),
    Case("an unknown loss", "tune DATA --out RUN --config loss.toml",
         lambda f: ["tune", f.data, "--out", f.tmp / "new", "--config",
                    f.write("l.toml", "[search]\nloss = \"mse\"\n")], "key 'search.loss': 'mse' is not valid"),
    Case("--max-trials 0", "tune DATA --out RUN --max-trials 0",
         lambda f: ["tune", f.data, "--out", f.run, "--max-trials", "0"], "'0' is not an integer >= 1"),
    Case("a negative seed", "tune DATA --out RUN --seed -1", lambda f: ["tune", f.data, "--out", f.run, "--seed=-1"],
         "'-1' is not an integer >= 0"),
    Case("rerun with other epochs", "tune DATA --out RUN --epochs 3 (RUN made with 2)", _tune("--epochs", "3"),
         "key 'search.epochs': this run used 2, not 3"),
    Case("rerun with other patience", "tune DATA --out RUN --patience 5 (RUN made with 1)",
         _tune("--patience", "5"), "key 'search.patience': this run used 1, not 5"),
    Case("rerun with another seed", "tune DATA --out RUN --seed 4 (RUN made with 0)", _tune("--seed", "4"),
         "this run used --seed 0, not 4"),
    Case("rerun with other data", "tune OTHER --out RUN", _tune(data="other"), "made from different data"),
    Case("rerun with another loss", "tune DATA --out RUN --config binomial.toml",
         lambda f: ["tune", f.data, "--out", f.run, "--config",
                    f.write("bn.toml", f.tiny.read_text().replace("[search]", "[search]\nloss = \"binomial_nll\""))],
         "key 'search.loss': this run used 'shot_cross_entropy'"),
    Case("rerun with another space", "tune DATA --out RUN --config wider.toml",
         lambda f: ["tune", f.data, "--out", f.run, "--config",
                    f.write("w.toml", f.tiny.read_text().replace("value = 4", "value = 8"))],
         "key 'space': the search space differs"),
    Case("a worker without a chief address", "tune DATA --out RUN --worker",
         lambda f: ["tune", f.data, "--out", f.run, "--worker"], "--worker needs --chief-address"),
    Case("a chief address without a port", "tune DATA --out RUN --worker --chief-address host",
         lambda f: ["tune", f.data, "--out", f.run, "--worker", "--chief-address", "host"], "ADDRESS:PORT"),
    Case("a chief asked to run searches in parallel", "tune DATA --out RUN --chief --jobs 2",
         lambda f: ["tune", f.data, "--out", f.run, "--chief", "--jobs", "2"], "start more workers instead of --jobs"),
    # predict
    Case("predict with a model that does not exist", "predict nope DATA", lambda f: ["predict", f.tmp / "nope",
                                                                                      f.data],
         "no such file or directory"),
    Case("predict --out below a file", "predict MODEL DATA --out FILE/q.csv",
         lambda f: ["predict", f.model, f.data, "--out", f.a_file / "q.csv"], "is a file, not a directory"),
    Case("predict --out naming a directory", "predict MODEL DATA --out DIR",
         lambda f: ["predict", f.model, f.data, "--out", f.tmp], "is a directory; give a file name"),
    Case("predict with a .keras model holding a Lambda layer", "predict lambda.keras DATA",
         lambda f: ["predict", f.lambda_model, f.data], "holds a Lambda layer"),
    Case("predict on data without the model's features", "predict MODEL other-features.csv",
         lambda f: ["predict", f.model, f.write("o.csv", "x,y\n1,2\n")], "field 'feature_names': missing"),
    Case("predict on a directory without a model", "predict EMPTY_DIR DATA",
         lambda f: ["predict", f.empty_dir, f.data], "no saved_model.pb"),
    # serve-check
    Case("serve-check with a negative tolerance", "serve-check MODEL --tolerance -1",
         lambda f: ["serve-check", f.model, "--tolerance=-1"], "'-1' is not a number >= 0"),
    Case("serve-check on a directory without a card", "serve-check EMPTY_DIR", lambda f: ["serve-check", f.empty_dir],
         "no model card"),
    Case("serve-check on a model whose data moved away", "serve-check COPIED_MODEL",
         lambda f: ["serve-check", f.lonely_model], "is not there"),
    Case("serve-check with data changed since training", "serve-check MODEL (data file rewritten)",
         lambda f: ["serve-check", f.changed_model], "differs from the data on the model card"),
    # explain
    Case("explain on a directory that is not a run", "explain DIR", lambda f: ["explain", f.empty_dir],
         "run.json: missing"),
    Case("explain with an unknown method", "explain RUN --methods lime",
         lambda f: ["explain", f.run, "--methods", "lime"], "unknown explanation method(s) ['lime']"),
    Case("explain with other data than the run's", "explain RUN --data OTHER",
         lambda f: ["explain", f.run, "--data", f.other], "the content differs from the data recorded"),
    # md
    Case("md init with a negative shot count", "md init W --preset vacuum --set n_shots=-5",
         lambda f: ["md", "init", f.tmp / "md1", "--preset", "vacuum", "--set", "n_shots=-5"],
         "field 'n_shots' is -5"),
    Case("md init with a fractional shot count", "md init W --preset vacuum --set n_shots=2.5",
         lambda f: ["md", "init", f.tmp / "md1", "--preset", "vacuum", "--set", "n_shots=2.5"],
         "field 'n_shots' is 2.5"),
    Case("md init with an unknown field", "md init W --preset vacuum --set shots=5",
         lambda f: ["md", "init", f.tmp / "md1", "--preset", "vacuum", "--set", "shots=5"], "unknown field(s)"),
    Case("md init --set without a value", "md init W --preset vacuum --set n_shots",
         lambda f: ["md", "init", f.tmp / "md1", "--preset", "vacuum", "--set", "n_shots"], "expected FIELD=JSON"),
    Case("md init --set with an unquoted string", "md init W --preset vacuum --set platform=CPU",
         lambda f: ["md", "init", f.tmp / "md1", "--preset", "vacuum", "--set", "platform=CPU"],
         "the value is not JSON"),
    Case("md init over another recipe", "md init W --preset vacuum --seed 7 (W made with seed 2024)",
         lambda f: ["md", "init", f.md, "--preset", "vacuum", "--seed", "7"], "exists with different ['seed']"),
    Case("md make-dataset before sampling", "md make-dataset W --out d.npz",
         lambda f: ["md", "make-dataset", f.md, "--out", f.tmp / "d.npz"], "no configurations sampled yet"),
    Case("md status of a directory without md.json", "md status DIR", lambda f: ["md", "status", f.empty_dir],
         "md.json: not found"),
    Case("shoot with a bad slice", "shoot W --slice 5/2", lambda f: ["shoot", f.md, "--slice", "5/2"],
         "expected K/N with 0 <= K < N"),
]


class Files:
    """The files the cases point at, made once per module."""

    def __init__(self, tmp):
        import keras

        from committor_keras.export import export_model
        from committor_keras.model import build_model

        self.tmp = tmp
        self.a_file = self.write("a-file", "not a directory\n")
        self.empty_dir = tmp / "empty"
        self.empty_dir.mkdir()
        data = make_synthetic(n_points=120, n_relevant=2, n_decoys=1, shots_per_point=4, seed=1)
        self.data = tmp / "data.npz"
        data.save(self.data)
        self.other = tmp / "other.npz"
        make_synthetic(n_points=120, n_relevant=2, n_decoys=1, shots_per_point=4, seed=2).save(self.other)
        np.savez(tmp / "pickled.npz", features=np.array([{"a": 1}], dtype=object))
        self.pickled = tmp / "pickled.npz"
        np.savez(tmp / "nofeatures.npz", n_a=np.ones(2))
        self.no_features = tmp / "nofeatures.npz"
        self.tiny = self.write("tiny.toml", TINY_RUN)
        self.run = tmp / "run"
        assert main(["tune", str(self.data), "--out", str(self.run), "--config", str(self.tiny), "--quiet"]) == 0
        self.model = self.run / "top" / "01"
        self.lonely_model = tmp / "lonely" / "01"
        shutil.copytree(self.model, self.lonely_model)
        changed = tmp / "changed"
        changed.mkdir()
        model = build_model({"hidden_layers": 1, "units_0": 4}, data.features, seed=0)
        data_copy = changed / "data.npz"
        data.save(data_copy)
        export_model(model, changed / "01", load(data_copy))
        self.changed_model = changed / "01"
        make_synthetic(n_points=120, n_relevant=2, n_decoys=1, shots_per_point=4, seed=3).save(data_copy)
        inputs = keras.Input((3,))
        lambda_model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Lambda(lambda x: 2 * x)(inputs)))
        self.lambda_model = tmp / "lambda.keras"
        lambda_model.save(self.lambda_model)
        self.md = tmp / "md"
        assert main(["md", "init", str(self.md), "--preset", "vacuum"]) == 0

    def write(self, name, text):
        path = self.tmp / name
        path.write_text(text)
        return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return Files(tmp_path_factory.mktemp("errors"))


@pytest.mark.parametrize("case", CASES, ids=[case.input for case in CASES])
def test_bad_input_gives_one_line_and_status_2(case, files, capsys):
    capsys.readouterr()
    try:
        status = main([str(arg) for arg in case.argv(files)])
    except SystemExit as exited:  # argparse's own checks (types, required options) exit from parse_args
        status = exited.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert case.message in lines[0], lines[0]


def test_the_catalogue_has_at_least_40_bad_inputs():
    assert len(CASES) >= 40 and len({case.input for case in CASES}) == len(CASES)


def catalogue_markdown():
    """The Markdown table of docs/errors.md, from CASES."""
    rows = ["| # | input | command | the one-line message contains |", "|---|---|---|---|"]
    for number, case in enumerate(CASES, start=1):
        message = case.message.replace("|", "\\|")
        rows.append(f"| {number} | {case.input} | `committor-keras {case.command}` | `{message}` |")
    return "\n".join(rows)


def test_docs_list_the_catalogue():
    text = DOC.read_text()
    table = text[text.index(TABLE_START) + len(TABLE_START):text.index(TABLE_END)].strip()
    assert table == catalogue_markdown(), "docs/errors.md is out of date: run python tests/test_errors.py"


if __name__ == "__main__":
    text = DOC.read_text()
    head, tail = text[:text.index(TABLE_START) + len(TABLE_START)], text[text.index(TABLE_END):]
    DOC.write_text(f"{head}\n{catalogue_markdown()}\n{tail}")
    print(f"wrote {len(CASES)} cases to {DOC}", file=sys.stderr)


def test_top_k_above_the_completed_trials_gives_a_notice(capsys):
    import pandas as pd

    from committor_keras.study._tune import _notice_top_k

    _notice_top_k(5, pd.DataFrame({"status": ["COMPLETED", "FAILED", "COMPLETED"]}))
    assert "top_k is 5 but only 2 trial(s) completed; exporting 2" in capsys.readouterr().err
    _notice_top_k(2, pd.DataFrame({"status": ["COMPLETED", "COMPLETED"]}))
    assert capsys.readouterr().err == ""


def test_a_best_model_no_better_than_a_constant_is_warned_about(capsys):
    import pandas as pd

    from committor_keras.data import split_indices
    from committor_keras.model import kl_per_shot
    from committor_keras.study._tune import _warn_if_no_better_than_constant

    data = make_synthetic(n_points=400, n_relevant=2, n_decoys=1, shots_per_point=10, seed=6)
    split = split_indices(data, 0)
    y = np.stack([data.n_a, data.n_b], axis=1)
    p_b = data.n_b[split.train].sum() / y[split.train].sum()
    constant = float(kl_per_shot(y[split.test], np.full(len(split.test), np.log(p_b / (1 - p_b)))))
    _warn_if_no_better_than_constant(pd.DataFrame({"test_kl_per_shot": [constant * 1.01, constant * 2]}), data,
                                     split)
    assert f"q = {p_b:.3g}" in capsys.readouterr().err
    _warn_if_no_better_than_constant(pd.DataFrame({"test_kl_per_shot": [constant * 0.5]}), data, split)
    assert capsys.readouterr().err == ""


def test_data_and_configuration_errors_come_before_tensorflow_loads(tmp_path):
    import subprocess

    data = tmp_path / "d.npz"
    make_synthetic(n_points=50, seed=0).save(data)
    typo = tmp_path / "typo.toml"
    typo.write_text("[search]\nepoch = 3\n")
    code = ("import sys; from committor_keras.cli import main; "
            f"status = main(['tune', {str(data)!r}, '--out', {str(tmp_path / 'run')!r}, '--config', {str(typo)!r}]); "
            "print(status, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["2", "False"], result.stderr
    assert "key 'search.epoch': unknown setting" in result.stderr and not (tmp_path / "run").exists()


def test_a_larger_top_k_continues_the_run_and_overwrite_starts_afresh(files, capsys):
    base = ["tune", str(files.data), "--out", str(files.run), "--config", str(files.tiny), "--quiet"]
    trials = (files.run / "trials.csv").read_text()
    capsys.readouterr()
    assert main([*base, "--top-k", "2"]) == 0
    assert "top_k is 2 but only 1 trial(s) completed" in capsys.readouterr().err
    assert (files.run / "trials.csv").read_text() == trials  # nothing retrained in the search
    assert main([*base, "--epochs", "3", "--overwrite"]) == 0
    assert json.loads((files.run / "run.json").read_text())["config"]["search"]["epochs"] == 3
    assert main([*base, "--epochs", "3"]) == 0  # the new settings are now the run's
