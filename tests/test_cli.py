"""The ``fastbp`` command line, run as a user would run it.

Subprocesses run ``python -m fastbp`` from a temporary directory, importing the same
fastbp as this test session; most option checks call ``cli.main`` in-process (fast).
"""
import gzip
import inspect
import io
import os
import re
import subprocess
import sys

from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp import _io, _threadpool, _training, cli

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastbp.__file__)))


def run(*args, cwd=None, env=None, timeout=300):
    """Run ``python -m fastbp`` in a subprocess, outside the repository."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT,
                                                      env.get("PYTHONPATH")]))
    cwd = cwd or os.path.realpath(os.path.join(PACKAGE_PARENT, os.pardir))
    return subprocess.run([sys.executable, "-m", "fastbp", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def main(capsys, *args):
    """``cli.main`` in-process: (exit status, stdout, stderr)."""
    try:
        status = cli.main([str(a) for a in args])
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def train_net(*args):
    """The network ``fastbp train ARGS`` trains, in-process (output not checked)."""
    return cli.train(cli.build_parser().parse_args(["train", *map(str, args)]))


def parameters(net):
    return net.weights + net.biases


@pytest.fixture
def dataset(tmp_path):
    """A small 3-class problem written as .npz (X, y only) and as .csv with a header."""
    rng = np.random.default_rng(5)
    centres = rng.uniform(0, 1, (3, 6))
    y = rng.integers(0, 3, 240)
    X = np.clip(centres[y] + 0.15 * rng.standard_normal((240, 6)), 0, 1)
    npz, csv = tmp_path / "data.npz", tmp_path / "data.csv"
    np.savez(npz, X=X, y=y)
    with open(csv, "w") as f:
        f.write(",".join([f"f{i}" for i in range(6)] + ["label"]) + "\n")
        for row, label in zip(X, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{label}\n")
    return X, y, npz, csv


# -- train ------------------------------------------------------------------------

def test_train_on_shipped_digits(tmp_path):
    result = run("train", "--epochs", "5", "--save", str(tmp_path / "net.npz"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("UCI digits (8x8): 1197 training, 300 validation, 300 test")
    assert sum(line.startswith("epoch ") for line in lines) == 5
    accuracy = float(lines[-2].split()[-1].rstrip("%"))
    assert lines[-2].startswith("test accuracy") and accuracy > 80
    assert "\r" not in result.stdout  # no progress bar into a pipe
    net = fastbp.load(tmp_path / "net.npz")
    assert net.sizes == [64, 30, 10]


def test_default_run_reaches_high_accuracy(capsys):
    net = cli.train(cli.build_parser().parse_args(["train"]))
    out = capsys.readouterr().out
    assert out.count("\nepoch ") == 30
    X, y = fastbp.datasets.load_digits()
    assert net.evaluate(X, y) > 0.93


def test_run_is_exactly_network_fit():
    """The command line trains what the documented Network(...).fit call trains."""
    net = train_net("--epochs", 3, "--l2", 0.5, "--momentum", 0.3, "--batch-size", 7,
                    "--learning-rate", 0.5, "--cost", "cross_entropy", "--seed", 4,
                    "--dropout", 0.1)
    (X, y), _, _ = cli._digits_split("float64")
    # Network's own defaults (init="scaled_normal", ...): the README promises this call.
    ref = fastbp.Network([64, 30, 10], cost="cross_entropy", seed=4)
    history = ref.fit(X, y, 3, 7, 0.5, l2=0.5, momentum=0.3, dropout=0.1)
    for p, q in zip(parameters(net), parameters(ref)):
        np.testing.assert_array_equal(p, q)
    np.testing.assert_allclose(net.history["train_cost"], history["train_cost"], rtol=1e-12)


def test_defaults_are_networks_defaults():
    args = cli.build_parser().parse_args(["train"])
    defaults = inspect.signature(fastbp.Network.__init__).parameters
    for name in ("activation", "output_activation", "cost", "init", "dtype"):
        assert getattr(args, name) == defaults[name].default, name


# -- the accuracy the README states -----------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
# Where the accuracy claims are made: each file that makes one must make the same.
CLAIMS_IN = (ROOT / "README.md", ROOT / "docs" / "guide" / "cli.md")


def readme_claim(command):
    """(low, high, seeds) from the line ``COMMAND  # ...: LOW–HIGH% ... (seeds A–B)`` of
    the README and the command-line guide, which must agree."""
    pattern = (re.escape(command) + r" +#[^\n]*?: ([\d.]+)–([\d.]+)% test accuracy "
               r"\(seeds (\d+)–(\d+)\)")
    claims = {path.name: re.search(pattern, path.read_text(encoding="utf-8"))
              for path in CLAIMS_IN}
    assert all(claims.values()), f"no accuracy claim for `{command}` in " + ", ".join(
        name for name, match in claims.items() if not match)
    found = {match.groups() for match in claims.values()}
    assert len(found) == 1, f"the claims for `{command}` differ: {claims}"
    low, high, first, last = found.pop()
    return float(low), float(high), range(int(first), int(last) + 1)


def test_accuracy_on_the_digits_is_what_the_readme_says(capsys):
    low, high, seeds = readme_claim("fastbp train")
    for seed in seeds:
        status, out, err = main(capsys, "train", "--seed", seed, "--quiet")
        assert status == 0, err
        accuracy = float(out.split()[-1].rstrip("%"))
        assert low <= accuracy <= high, (seed, accuracy)


@pytest.mark.slow
def test_accuracy_on_mnist_is_what_the_readme_says(mnist_dir, capsys):
    """The README's `fastbp train --mnist DIR`: the book's ch. 1 network, every seed
    the README names (~5 s each)."""
    low, high, seeds = readme_claim("fastbp train --mnist DIR")
    assert len(seeds) >= 3
    for seed in seeds:
        status, out, err = main(capsys, "train", "--mnist", mnist_dir, "--seed", seed,
                                "--quiet")
        assert status == 0, err
        accuracy = float(out.split()[-1].rstrip("%"))
        assert low <= accuracy <= high, (seed, accuracy)


@pytest.mark.parametrize("option", [
    ["--l2", "2"], ["--momentum", "0.5"], ["--momentum", "0.5", "--nesterov"],
    ["--optimizer", "adam", "--learning-rate", "0.01"], ["--dropout", "0.2"],
    ["--batch-size", "20"], ["--learning-rate", "1"], ["--seed", "1"], ["--init", "he"],
    ["--activation", "tanh", "--learning-rate", "0.1"], ["--cost", "cross_entropy"],
    ["--cost", "log_likelihood", "--learning-rate", "0.1"], ["--hidden", "20,15"],
])
def test_each_option_reaches_the_network(option):
    base = train_net("--epochs", 2)
    net = train_net("--epochs", 2, *option)
    if net.sizes != base.sizes:
        assert option[0] == "--hidden" and net.sizes == [64, 20, 15, 10]
    else:
        assert any(not np.array_equal(p, q) for p, q in zip(parameters(net),
                                                             parameters(base)))
    if "--cost" in option:
        assert net.cost == option[1]


def test_dtype_float32_saves_a_float32_model(tmp_path, capsys):
    status, out, err = main(capsys, "train", "--epochs", 2, "--dtype", "float32",
                            "--save", tmp_path / "net32.npz")
    assert status == 0, err
    assert "float32" in out.splitlines()[0]
    net = fastbp.load(tmp_path / "net32.npz")
    assert net.dtype == np.float32 and all(p.dtype == np.float32 for p in parameters(net))


def test_quiet_prints_only_the_test_accuracy(capsys):
    status, out, err = main(capsys, "train", "--epochs", 2, "--quiet")
    assert status == 0 and err == ""
    assert len(out.splitlines()) == 1 and out.startswith("test accuracy ")


def test_npz_data_is_split_deterministically(dataset, capsys):
    X, y, npz, _ = dataset
    status, out, err = main(capsys, "train", "--data", npz, "--epochs", 3)
    assert status == 0, err
    assert out.splitlines()[0] == ("data.npz: 160 training, 40 validation, 40 test "
                                   "examples; network [6, 30, 3], float64")
    first = train_net("--data", npz, "--epochs", 3)
    again = train_net("--data", npz, "--epochs", 3)
    for p, q in zip(parameters(first), parameters(again)):
        np.testing.assert_array_equal(p, q)


def test_npz_with_test_and_validation_sets(dataset, tmp_path, capsys):
    X, y, _, _ = dataset
    path = tmp_path / "sets.npz"
    np.savez(path, X=X[:200], y=y[:200], X_test=X[200:], y_test=y[200:])
    status, out, err = main(capsys, "train", "--data", path, "--epochs", 1)
    assert status == 0, err
    assert out.startswith("sets.npz: 167 training, 33 validation, 40 test")
    np.savez(path, X=X[:150], y=y[:150], X_val=X[150:200], y_val=y[150:200],
             X_test=X[200:], y_test=y[200:])
    status, out, err = main(capsys, "train", "--data", path, "--epochs", 1)
    assert status == 0, err
    assert out.startswith("sets.npz: 150 training, 50 validation, 40 test")


def test_csv_data_equals_npz_data(dataset, tmp_path):
    X, y, npz, csv = dataset
    from_npz = train_net("--data", npz, "--epochs", 3)
    from_csv = train_net("--data", csv, "--epochs", 3)
    assert from_csv.sizes == [6, 30, 3] and from_csv.evaluate(X, y) > 0.9
    for p, q in zip(parameters(from_npz), parameters(from_csv)):
        np.testing.assert_array_equal(p, q)
    gz = tmp_path / "data.csv.gz"  # without the header, gzipped
    with open(csv, "rb") as f, gzip.open(gz, "wb") as g:
        g.writelines(f.readlines()[1:])
    for p, q in zip(parameters(from_npz), parameters(train_net("--data", gz, "--epochs", 3))):
        np.testing.assert_array_equal(p, q)


def test_mnist_download_is_passed_on(monkeypatch, capsys):
    calls = []

    def fake_load_mnist(path=None, download=False, dtype="float64"):
        calls.append((path, download, dtype))
        return cli._digits_split(dtype)

    monkeypatch.setattr(cli.datasets, "load_mnist", fake_load_mnist)
    status, out, err = main(capsys, "train", "--mnist", "--download", "--dtype", "float32")
    assert status == 0, err
    assert calls == [(None, True, "float32")]
    assert out.startswith("MNIST: ") and out.count("\nepoch ") == 10  # MNIST's default
    main(capsys, "train", "--mnist", "some/dir", "--epochs", 1)
    assert calls[-1] == ("some/dir", False, "float64")


# -- progress bar and chunked epochs ----------------------------------------------

class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("option", [["--l2", "3", "--momentum", "0.4"],
                                    ["--optimizer", "adam", "--learning-rate", "0.01",
                                     "--l2", "1", "--batch-size", "16"]])
def test_chunked_epochs_train_like_whole_epochs(monkeypatch, option):
    args = ["--epochs", 3, "--seed", 2, *option]
    whole = train_net(*args)
    monkeypatch.setattr(cli, "_CHUNK_WORK", 0)  # chunk every epoch, as for big ones
    assert cli._chunk_size(whole.sizes, 1197, 10) == 30  # 120 batches -> 40 chunks
    chunked = train_net(*args)
    # The chunks are calls of one epoch of the training driver: the same steps.
    for p, q in zip(parameters(whole), parameters(chunked)):
        np.testing.assert_array_equal(p, q)
    for key in ("train_cost", "val_cost", "val_accuracy"):
        np.testing.assert_allclose(chunked.history[key], whole.history[key], rtol=1e-9)


def test_progress_bar_only_on_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_CHUNK_WORK", 0)
    monkeypatch.setattr(sys, "stdout", Terminal())
    cli.main(["train", "--epochs", "2"])
    out = sys.stdout.getvalue()
    assert out.count("\repoch   1/2 [") > 10 and "] 1,197/1,197" in out
    lines = out.replace("\r", "\n").splitlines()
    assert sum(line.startswith("epoch   2/2  cost ") for line in lines) == 1
    assert "test accuracy" in lines[-1]
    monkeypatch.undo()
    monkeypatch.setattr(cli, "_CHUNK_WORK", 0)
    status, out, _ = main(capsys, "train", "--epochs", 2)
    assert status == 0 and "\r" not in out and "1,197/" not in out


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_progress_bar_on_a_real_terminal(tmp_path):
    """A long epoch (examples x weights >= 4e9), run with stdout on a pseudo-terminal."""
    rng = np.random.default_rng(0)
    n = 24_000  # 16,000 for training x 287,000 weights = 4.6e9
    X = rng.uniform(0, 1, (n, 64)).astype(np.float32)
    np.savez(tmp_path / "big.npz", X=X, y=rng.integers(0, 10, n))
    sizes = [64, 500, 500, 10]
    assert n * 2 // 3 * sum(a * b for a, b in zip(sizes, sizes[1:])) >= cli._CHUNK_WORK
    master, slave = os.openpty()
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastbp", "train", "--data", str(tmp_path / "big.npz"),
         "--hidden", "500,500", "--epochs", "1", "--batch-size", "100",
         "--dtype", "float32", "--threads", "1"],
        stdout=slave, stderr=subprocess.PIPE, cwd=tmp_path, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    out = b"".join(chunks).decode()
    assert out.count("\repoch   1/1 [") >= 10 and "] 16,000/16,000" in out
    assert "test accuracy" in out


# -- plot -------------------------------------------------------------------------

def test_plot_writes_a_png_with_two_panels(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    figures = []
    real_plot = _io.write_curves
    monkeypatch.setattr(_io, "write_curves", lambda *a: figures.append(real_plot(*a)))
    path = tmp_path / "curves.png"
    status, out, err = main(capsys, "train", "--epochs", 4, "--plot", path)
    assert status == 0, err
    assert out.count("training accuracy") == 4 and f"learning curves in {path}" in out
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000
    (fig,) = figures
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert [line.get_label() for line in ax.get_lines()] == ["training", "validation"]
        assert all(len(line.get_xdata()) == 4 for line in ax.get_lines())


@pytest.mark.parametrize("suffix, magic", [(".jpg", b"\xff\xd8\xff"), (".pdf", b"%PDF"),
                                           (".svg", b"<?xml")])
def test_plot_writes_the_format_of_its_suffix(tmp_path, capsys, suffix, magic):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"curves{suffix}"
    status, out, err = main(capsys, "train", "--epochs", 1, "--plot", path, "-q")
    assert status == 0, err
    assert path.read_bytes().startswith(magic)


@pytest.mark.parametrize("name", ["curves", "curves.txt"])
def test_plot_refuses_a_suffix_that_is_no_image_format_before_training(tmp_path, capsys,
                                                                     name):
    pytest.importorskip("matplotlib")
    status, out, err = main(capsys, "train", "--plot", tmp_path / name)
    assert status == 2 and out == "" and "name the image format by the suffix" in err
    assert err.count("\n") == 1 and not (tmp_path / name).exists()


def test_plot_without_matplotlib_exits_2_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    status, out, err = main(capsys, "train", "--plot", tmp_path / "curves.png")
    assert status == 2 and out == ""
    assert err == 'fastbp: error: --plot needs matplotlib: pip install matplotlib\n'


# -- threads ----------------------------------------------------------------------

def test_threads_limit_blas_with_threadpoolctl(monkeypatch, capsys):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    seen = []
    real_train = cli.train

    def spy(args):
        seen.extend(info["num_threads"] for info in threadpoolctl.threadpool_info()
                    if info["user_api"] == "blas")
        return real_train(args)

    monkeypatch.setattr(cli, "train", spy)
    status, out, err = main(capsys, "train", "--epochs", 1, "--threads", 1)
    assert status == 0, err
    assert seen and set(seen) == {1}
    assert "1 BLAS thread" in out.splitlines()[0]


def test_threads_without_threadpoolctl_rerun_with_the_variables(tmp_path):
    # A threadpoolctl that cannot be imported, and records the variable it saw.
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "threadpoolctl.py").write_text(
        "import os\n"
        f"with open({str(tmp_path / 'seen.txt')!r}, 'a') as f:\n"
        "    f.write(os.environ.get('OPENBLAS_NUM_THREADS', '-') + '\\n')\n"
        "raise ImportError('not installed')\n")
    env = {k: v for k, v in os.environ.items() if k not in _threadpool.THREAD_VARIABLES}
    env["PYTHONPATH"] = str(fake)
    (tmp_path / "fastbp").mkdir()  # a decoy the child must not import from its cwd
    (tmp_path / "fastbp" / "__init__.py").write_text("raise ImportError('decoy')\n")
    # The fake goes first on sys.path, ahead of an installed threadpoolctl (which sits
    # beside an installed fastbp), then the real fastbp, ahead of the decoy in the cwd.
    result = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path[0:0] = sys.argv[1:3]; "
         "del sys.argv[1:3]; from fastbp.cli import main; sys.exit(main())",
         str(fake), PACKAGE_PARENT, "train", "--epochs", "1", "--threads", "1"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "1 BLAS thread" in result.stdout and result.stdout.count("test accuracy") == 1
    # The first process found no threadpoolctl and no variable set. (The re-run child
    # puts the real fastbp first on sys.path, so beside an installed threadpoolctl it
    # may import that one instead of the fake: only the first line is certain.)
    assert (tmp_path / "seen.txt").read_text().split()[0] == "-"


# -- predict ----------------------------------------------------------------------

def test_predict_round_trip(dataset, tmp_path):
    X, y, npz, csv = dataset
    model = tmp_path / "model.npz"
    assert run("train", "--data", csv, "--epochs", 3, "--save", model,
               cwd=tmp_path).returncode == 0
    net = fastbp.load(model)
    result = run("predict", model, csv, cwd=tmp_path)  # the label column is ignored
    assert result.returncode == 0, result.stderr
    assert [int(c) for c in result.stdout.split()] == net.predict(X).tolist()
    np.save(tmp_path / "X.npy", X[:7])
    result = run("predict", model, "X.npy", "--proba", "--output", "proba.csv",
                 cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == "", result.stderr
    proba = np.loadtxt(tmp_path / "proba.csv", delimiter=",")
    outputs = net.feedforward(X[:7])  # sigmoid outputs: one-vs-rest, normalised
    np.testing.assert_allclose(proba, outputs / outputs.sum(axis=1, keepdims=True),
                               rtol=1e-15)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-15)
    assert (proba.argmax(axis=1) == net.predict(X[:7])).all()
    result = run("predict", model, "X.npy", "--outputs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.loadtxt(io.StringIO(result.stdout), delimiter=","),
                                  outputs)


def test_predict_proba_of_softmax_and_of_other_outputs(dataset, tmp_path, capsys):
    X, y, npz, _ = dataset
    softmax = tmp_path / "softmax.npz"
    train_net("--data", npz, "--epochs", 2, "--cost", "log_likelihood").save(softmax)
    identity = tmp_path / "identity.npz"
    train_net("--data", npz, "--epochs", 2, "--output-activation", "identity",
              "--learning-rate", 0.1).save(identity)
    capsys.readouterr()
    status, out, err = main(capsys, "predict", softmax, npz, "--proba")
    assert status == 0, err
    np.testing.assert_array_equal(np.loadtxt(io.StringIO(out), delimiter=","),
                                  fastbp.load(softmax).feedforward(X))
    status, out, err = main(capsys, "predict", identity, npz, "--proba")
    assert status == 2 and out == "" and "--proba needs a sigmoid or softmax" in err
    status, out, err = main(capsys, "predict", identity, npz, "--proba", "--outputs")
    assert status == 2 and "not allowed with argument" in err


def test_csv_errors_name_the_line_of_the_file(tmp_path, capsys):
    (tmp_path / "header.csv").write_text("a,b,label\n0.1,0.2,1\n\n0.3,five,0\n")
    (tmp_path / "ragged.csv").write_text("0.1,0.2,1\n0.3,0.4,0\n0.5,1\n")
    status, out, err = main(capsys, "train", "--data", tmp_path / "header.csv")
    assert status == 2 and "line 4, column 2: 'five' is not a number" in err
    status, out, err = main(capsys, "train", "--data", tmp_path / "ragged.csv")
    assert status == 2 and "line 3: 2 columns where the first row has 3" in err


def test_predict_npz_and_float32(dataset, tmp_path, capsys):
    X, y, npz, _ = dataset
    model = tmp_path / "m32.npz"
    train_net("--data", npz, "--epochs", 2, "--dtype", "float32").save(model)
    capsys.readouterr()
    net = fastbp.load(model)
    status, out, err = main(capsys, "predict", model, npz)  # uses the array X
    assert status == 0, err
    assert [int(c) for c in out.split()] == net.predict(X).tolist()
    status, out, err = main(capsys, "predict", model, npz, "--outputs")
    rows = np.array([[np.float32(v) for v in line.split(",")] for line in out.splitlines()])
    np.testing.assert_array_equal(rows, net.feedforward(X.astype(np.float32)))


# -- bench ------------------------------------------------------------------------

def test_no_bench_command_in_the_installed_cli(capsys):
    """The benchmark suite is in the source repository, not in what `pip install .`
    installs: `python benchmarks/run.py` runs it, and the CLI does not offer it."""
    status, out, err = main(capsys, "bench", "--quick")
    assert status == 2 and "invalid choice: 'bench'" in err
    status, out, err = main(capsys, "--help")
    assert "bench" not in out


# -- help, version and bad arguments ------------------------------------------------

def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"fastbp {fastbp.__version__}"


@pytest.mark.parametrize("command, text", [
    ([], "COMMAND"), (["train"], "--threads N"), (["predict"], "--proba"),
])
def test_help_everywhere(capsys, command, text):
    status, out, err = main(capsys, *command, "--help")
    assert status == 0 and text in out and out.startswith("usage: fastbp")


@pytest.mark.parametrize("args, message", [
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--hidden", "30,x"], "--hidden"),
    (["train", "--hidden", "10,,5"], "an empty width"),
    (["train", "--hidden", "10,"], "an empty width"),
    (["train", "--learning-rate", "-1"], "argument --learning-rate: '-1'"),
    (["train", "--cost", "cross_entropy", "--activation", "relu"], "cross_entropy"),
    (["train", "--mnist", "/nonexistent/dir"], "nonexistent"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
    (["train", "--threads", "0"], "--threads"),
    (["predict", "/nonexistent/model.npz", "x.csv"], "nonexistent"),
    (["train", "--data", "/nonexistent/data.csv"], "no such file"),
])
def test_bad_arguments_exit_2_with_a_message(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["train", "--l2", "-1"], "argument --l2"),
    (["train", "--momentum", "1"], "argument --momentum"),
    (["train", "--dropout", "x"], "argument --dropout"),
    (["train", "--seed", "-3"], "argument --seed"),
    (["train", "--nesterov"], "--nesterov needs --momentum"),
    (["train", "--optimizer", "adam", "--momentum", "0.5"],
     "--momentum and --nesterov apply to --optimizer sgd"),
    (["train", "--mnist", "d", "--data", "f.csv"], "not allowed with argument"),
    (["train", "--download"], "--download needs --mnist"),
    (["train", "--data", "{tmp}/data.txt"], "expected a .npz or .csv file"),
    (["train", "--data", "{tmp}/bad.csv"], "not a table of comma-separated numbers"),
    (["train", "--data", "{tmp}/fraction.csv"], "labels must be integers"),
    (["train", "--data", "{tmp}/noy.npz"], "needs arrays X and y"),
    (["train", "--data", "{tmp}/broken.npz"], "not a readable .npz file"),
    (["train", "--data", "{tmp}/tiny.csv"], "too few"),
    (["train", "--save", "{tmp}/no/such/dir/net.npz"], "does not exist"),
    (["train", "--learning-rate", "10", "--activation", "identity"], "diverged"),
    (["predict", "{tmp}/model.npz", "{tmp}/wide.csv"], "takes 64 features"),
    (["predict", "{tmp}/data.txt", "{tmp}/wide.csv"], "not a readable fastbp network"),
    (["predict", "{tmp}/model.npz"], "required: DATA"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_more_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, message):
    (tmp_path / "data.txt").write_text("1,2,3\n")
    (tmp_path / "bad.csv").write_text("1,2,3\n4,five,6\n")
    (tmp_path / "fraction.csv").write_text("0.1,0.2,1.5\n" * 10)
    (tmp_path / "tiny.csv").write_text("0.1,0.2,1\n0.3,0.4,0\n")
    (tmp_path / "wide.csv").write_text(",".join(["0.5"] * 70) + "\n")
    np.savez(tmp_path / "noy.npz", X=np.zeros((10, 2)))
    (tmp_path / "broken.npz").write_bytes((tmp_path / "noy.npz").read_bytes()[:100])
    fastbp.Network([64, 5, 10]).save(tmp_path / "model.npz")
    args = [a.format(tmp=tmp_path) for a in args]
    status, out, err = main(capsys, *args)
    assert status == 2
    assert message in err
    assert err.endswith("\n") and "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith(("fastbp: error: ", "fastbp train: error: ",
                            "fastbp predict: error: ")) and message in last


@pytest.mark.parametrize("option, target", [
    ("--save", "/dev/null"), ("--save", "fifo.png"), ("--save", "link.png"),
    ("--plot", "fifo.png"), ("--plot", "link.png")])
def test_an_output_that_is_not_a_regular_file_is_refused_before_training(
        tmp_path, capsys, option, target):
    """A FIFO (or a link to one) or a device would block the write or be lost: said
    at once, naming the option, not after the training it would throw away."""
    if option == "--plot":
        pytest.importorskip("matplotlib")
    os.mkfifo(tmp_path / "fifo.png")
    os.symlink(tmp_path / "fifo.png", tmp_path / "link.png")
    path = target if target.startswith("/") else str(tmp_path / target)
    status, out, err = main(capsys, "train", option, path)
    assert status == 2 and out == "", (out, err)
    assert err.endswith(f"error: {option} {path}: exists and is not a regular file\n"), err
    assert err.count("\n") == 1


def test_splits_are_disjoint_and_cover_digits():
    parts = cli._digits_split("float64")
    assert [len(y) for _, y in parts] == [1197, 300, 300]
    X_all, _ = fastbp.datasets.load_digits()
    stacked = np.vstack([X for X, _ in parts])
    assert stacked.shape == X_all.shape
    assert len(np.unique(stacked, axis=0)) == len(np.unique(X_all, axis=0))


# -- every error is one line, exit 2 (issue 16, item 9) ------------------------------

def assert_one_line_error(status, err, what, prefixes=("fastbp: error: ",)):
    """Exit 2 and exactly one line on stderr, of the command's error format."""
    assert status == 2, (what, status, err)
    assert err.endswith("\n") and err.count("\n") == 1, (what, err)
    assert err.startswith(prefixes), (what, err)
    assert "Traceback" not in err and "allow_pickle" not in err, (what, err)


@pytest.mark.parametrize("args", [
    ["train", "--epochs", "0"], ["train", "--hidden", "30,x"], ["train", "--bogus"],
    ["train", "--l2", "-1"], ["train", "--dtype", "float16"], ["frobnicate"], [],
    ["train", "--mnist", "d", "--data", "f.csv"], ["predict", "model.npz"],
    ["predict", "--proba", "--outputs", "m.npz", "d.csv"], ["train", "--seed"],
])
def test_argument_errors_are_one_line(capsys, args):
    status, out, err = main(capsys, *args)
    command = f"fastbp {args[0]}" if args and args[0] in ("train", "predict") else "fastbp"
    assert_one_line_error(status, err, args, (f"{command}: error: ",))
    assert f"`{command} --help`" in err and "usage:" not in err


def test_argument_errors_are_one_line_in_a_real_run():
    result = run("train", "--epochs", "0")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("fastbp train: error: argument --epochs")


def small_csv_rows(rng, n=60, n_features=4, n_classes=3):
    X = rng.random((n, n_features))
    y = rng.integers(0, n_classes, n)
    return "".join(",".join(f"{v:.4f}" for v in row) + f",{label}\n"
                   for row, label in zip(X, y))


def hostile_data_files(tmp_path, rng):
    """(name, path) of damaged and hostile --data files, made by seeded mutation."""
    text = small_csv_rows(rng)
    packed = gzip.compress(text.encode())
    n = 0

    def write(suffix, blob):
        nonlocal n
        n += 1
        path = tmp_path / f"hostile{n}{suffix}"
        path.write_bytes(blob)
        return path

    for cut in sorted(set(rng.integers(1, len(packed), 25).tolist())):
        yield f"gzip cut at {cut}", write(".csv.gz", packed[:cut])
    for _ in range(25):
        b = bytearray(packed)
        for i in rng.integers(0, len(b), rng.integers(1, 5)):
            b[i] = int(rng.integers(256))
        yield "gzip bytes changed", write(".csv.gz", bytes(b))
    yield "not gzip", write(".csv.gz", text.encode())
    yield "empty gzip", write(".csv.gz", b"")
    for _ in range(10):
        yield "random bytes", write(".csv", rng.bytes(int(rng.integers(1, 400))))
    yield "binary csv", write(".csv", b"\xff\xfe\x00" + text.encode())
    for label in ("1e9", "1000000000", "4294967296", "1e18", "1e300", "-1", "inf",
                  "nan", "2.5"):
        yield f"label {label}", write(".csv", (text + f"0.1,0.2,0.3,0.4,{label}\n").encode())
    # .npz files whose arrays declare shapes far beyond what they hold.
    import io
    for shape in ((2**40, 4), (10**11, 4), (60, 2**40), (2**62,)):
        out = io.BytesIO()
        np.savez(out, X=np.zeros((60, 4)), y=np.zeros(60, int))
        blob = out.getvalue()
        X_header = "(60, 4)".encode()
        patched = blob.replace(X_header, repr(shape).replace(" ", "").encode()
                               .ljust(len(X_header)), 1) if len(repr(shape).replace(
                                   " ", "")) <= len(X_header) else None
        if patched is not None:
            yield f"npz X shape {shape}", write(".npz", patched)
        # Rebuilt with a header naming the shape (zipfile keeps the CRCs right).
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
        with zipfile_writer(io.BytesIO()) as (z, target):
            z.writestr("X.npy", buf.getvalue() + b"\0" * 64)
            y_buf = io.BytesIO()
            np.save(y_buf, np.zeros(60, int))
            z.writestr("y.npy", y_buf.getvalue())
        yield f"npz X declares {shape}", write(".npz", target.getvalue())
    for _ in range(20):
        out = io.BytesIO()
        np.savez_compressed(out, X=np.zeros((60, 4)), y=np.zeros(60, int))
        b = bytearray(out.getvalue())
        for i in rng.integers(0, len(b), rng.integers(1, 4)):
            b[i] = int(rng.integers(256))
        yield "npz bytes changed", write(".npz", bytes(b))
    out = io.BytesIO()
    np.savez(out, X=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3, int))
    yield "npz of objects", write(".npz", out.getvalue())


class zipfile_writer:
    """``with zipfile_writer(buffer) as (zipfile, buffer)``: a ZipFile writing there."""

    def __init__(self, target):
        import zipfile
        self.target, self.zip = target, zipfile.ZipFile(target, "w")

    def __enter__(self):
        return self.zip, self.target

    def __exit__(self, *exc):
        self.zip.close()


def test_hostile_data_files_exit_2_with_one_line(tmp_path, capsys, monkeypatch):
    """Truncated and corrupted .csv.gz, a .csv.gz that is not gzip, labels that would
    need a billion outputs, arrays that declare terabytes: each trains (it may be a
    valid file still) or exits 2 with one line, before allocating what it declares."""
    import resource
    # As on a machine of 8 GiB: whether a billion outputs fit must not decide the test.
    monkeypatch.setattr(_io, "memory_bytes", lambda: 8 * 2**30)
    rng = np.random.default_rng(91)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    outcomes = {0: 0, 2: 0}
    for what, path in hostile_data_files(tmp_path, rng):
        status, out, err = main(capsys, "train", "--data", path, "--epochs", 1,
                                "--hidden", 3, "--quiet")
        if status == 0:
            outcomes[0] += 1
            continue
        assert_one_line_error(status, err, what)
        assert path.name in err, (what, err)
        outcomes[2] += 1
    assert outcomes[2] > 80, outcomes
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown < 200_000, f"peak memory grew by {grown} KiB"


def test_a_label_of_a_billion_is_refused_before_the_network_is_built(tmp_path, capsys,
                                                                   monkeypatch):
    rng = np.random.default_rng(92)
    path = tmp_path / "big_label.csv"
    path.write_text(small_csv_rows(rng) + "0.1,0.2,0.3,0.4,1e9\n")

    network = cli.Network

    def refuse(sizes, *args, **kwargs):
        if max(sizes) > 1000:
            raise AssertionError(f"a network {sizes} was built")
        return network(sizes, *args, **kwargs)

    status, out, err = main(capsys, "train", "--data", path, "--epochs", 1)
    assert_one_line_error(status, err, "label 1e9")
    assert "1,000,000,001 outputs" in err and "largest label, 1000000000" in err
    assert "big_label.csv" in err
    monkeypatch.setattr(cli, "Network", refuse)
    status, out, err = main(capsys, "train", "--data", path, "--epochs", 1)
    assert status == 2 and "1,000,000,001 outputs" in err


@pytest.mark.parametrize("hidden", ["40000,40000", "1000,400000", "20000,20000,20000"])
def test_hidden_layers_too_big_for_memory_are_refused_before_allocating(
        capsys, monkeypatch, hidden):
    """--hidden 40000,40000 asked for tens of GiB (the kernel killed the process):
    the memory a network needs for training is compared with the machine's first."""
    monkeypatch.setattr(_io, "memory_bytes", lambda: 8 * 2**30)

    network = cli.Network

    def refuse(sizes, *args, **kwargs):
        if max(sizes) > 1000:
            raise AssertionError(f"a network {sizes} was built")
        return network(sizes, *args, **kwargs)

    monkeypatch.setattr(cli, "Network", refuse)
    status, out, err = main(capsys, "train", "--hidden", hidden, "--epochs", 1)
    assert_one_line_error(status, err, hidden)
    assert "--hidden" in err and "8.0 GiB of memory" in err


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_the_memory_check_uses_a_cgroup_limit_below_the_machines(tmp_path, capsys,
                                                                monkeypatch, version):
    """In a container the kernel kills the process at the cgroup's memory limit, so
    the CLI's check compares with that limit where it is lower than the RAM."""
    root, proc = tmp_path / "cgroup", tmp_path / "proc_self_cgroup"
    if version == "v2":
        proc.write_text("0::/job/step\n")
        (root / "job" / "step").mkdir(parents=True)
        (root / "job" / "step" / "memory.max").write_text(f"{2 * 2**30}\n")
        (root / "memory.max").write_text("max\n")
    else:
        proc.write_text("9:pids:/\n4:memory:/job\n1:cpu,cpuacct:/\n")
        (root / "memory" / "job").mkdir(parents=True)
        (root / "memory" / "job" / "memory.limit_in_bytes").write_text(f"{2 * 2**30}\n")
        (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    monkeypatch.setattr(_io, "_PROC_CGROUP", str(proc))
    monkeypatch.setattr(_io, "_CGROUP_ROOT", str(root))
    assert _io.cgroup_memory_limit() == 2 * 2**30
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert _io.memory_bytes() == min(physical, 2 * 2**30)
    # training [784, 20000, 20000, 10] needs 9.3 GiB: more than the cgroup's 2 GiB
    status, out, err = main(capsys, "train", "--hidden", "20000,20000", "--epochs", 1)
    assert_one_line_error(status, err, "20000,20000")
    assert "2.0 GiB of memory" in err
    # no limit (v2 "max", v1's huge number) or no cgroup files: the machine's memory
    for text in ("max\n", "9223372036854771712\n"):
        for limit in root.rglob("memory.*"):
            limit.write_text(text)
        assert _io.cgroup_memory_limit() is None
        assert _io.memory_bytes() == physical
    monkeypatch.setattr(_io, "_PROC_CGROUP", str(tmp_path / "missing"))
    assert _io.cgroup_memory_limit() is None


def test_hidden_layers_beyond_any_memory_in_a_real_run():
    result = run("train", "--hidden", "1000000,1000000", "--epochs", "1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "GiB, more than this machine's" in result.stderr


def hostile_npy_files(tmp_path, rng):
    """.npy files whose headers lie or hold what fastbp must not load."""
    import io
    good = io.BytesIO()
    np.save(good, rng.random((5, 64)))
    good = good.getvalue()
    header_end = good.index(b"\n") + 1
    n = 0

    def write(blob):
        nonlocal n
        n += 1
        path = tmp_path / f"hostile{n}.npy"
        path.write_bytes(blob)
        return path

    for shape in ((10**11, 64), (2**40, 64), (5, 2**40), (2**31, 64), (6, 64),
                  (2**62, 64)):
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
        yield f"shape {shape}", write(buf.getvalue() + good[header_end:])
    for cut in sorted(set(rng.integers(1, len(good), 20).tolist())):
        yield f"cut at {cut}", write(good[:cut])
    for _ in range(40):
        b = bytearray(good)
        for i in rng.integers(0, header_end, rng.integers(1, 4)):
            b[i] = int(rng.integers(256))
        yield "header bytes changed", write(bytes(b))
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    yield "objects", write(buf.getvalue())
    yield "deep header", write(b"\x93NUMPY\x01\x00" + (b"{'a':" * 5000).ljust(65000) + b"\n")


def test_hostile_npy_files_for_predict_exit_2_with_one_line(tmp_path, capsys):
    rng = np.random.default_rng(93)
    model = tmp_path / "model.npz"
    fastbp.Network([64, 5, 10]).save(model)
    refused = 0
    for what, path in hostile_npy_files(tmp_path, rng):
        status, out, err = main(capsys, "predict", model, path)
        if status == 0:
            continue
        assert_one_line_error(status, err, what)
        assert path.name in err
        refused += 1
    assert refused > 40


def test_hostile_model_files_for_predict_exit_2_with_one_line(tmp_path, capsys):
    """The damaged model files of test_reliability (deeply nested JSON headers, the
    zip encryption flag, unknown compression methods, lying sizes, flipped bytes)
    and files that are no fastbp model at all: exit 2, one line, never a hint at
    unsafe loading (allow_pickle)."""
    import pickle
    from test_reliability import zip_mutations
    rng = np.random.default_rng(94)
    net = fastbp.Network([6, 5, 3], seed=1)
    good_path = tmp_path / "good.npz"
    net.save(good_path)
    data = tmp_path / "x.csv"
    data.write_text("0.1,0.2,0.3,0.4,0.5,0.6\n")
    path = tmp_path / "model.npz"
    others = [("pickle", pickle.dumps({"weights": [1, 2]})), ("empty", b""),
              ("csv", b"1,2,3\n")]
    import io
    for arrays in ({"x": np.array([{}], dtype=object)},
                   {"meta": np.array([{"format": "fastbp.Network"}], dtype=object)},
                   {"meta": np.array("{}"), "w1": np.array([None])}):
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        others.append((f"npz {sorted(arrays)}", buf.getvalue()))
    buf = io.BytesIO()
    np.save(buf, np.array([{}], dtype=object), allow_pickle=True)
    others.append(("npy of objects", buf.getvalue()))
    # A header longer than NumPy parses by default (it then advises allow_pickle=True).
    for length in (20_000, 65_000):
        header = (b"{'descr': '<U10', 'fortran_order': False, 'shape': (), }"
                  .ljust(length) + b"\n")
        long_header = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
        with zipfile_writer(io.BytesIO()) as (z, target):
            z.writestr("meta.npy", long_header + "fastbp".encode("utf-32-le").ljust(40))
        others.append((f"header of {length} bytes", target.getvalue()))
    counts = {0: 0, 2: 0}
    for what, blob in list(zip_mutations(good_path.read_bytes(), rng)) + others:
        path.write_bytes(blob)
        status, out, err = main(capsys, "predict", path, data)
        if status == 0 and what not in dict(others):
            counts[0] += 1
            continue
        assert_one_line_error(status, err, what)
        assert "model.npz" in err, (what, err)
        counts[2] += 1
    assert counts[2] > 300, counts


def test_missing_mnist_names_the_download_option(tmp_path, capsys):
    for directory in (tmp_path / "nowhere", tmp_path):
        status, out, err = main(capsys, "train", "--mnist", directory)
        assert_one_line_error(status, err, directory)
        assert "--download" in err and "download=True" not in err, err


@pytest.mark.parametrize("exc, status", [
    (MemoryError(), 2), (RecursionError("maximum recursion depth"), 2),
    (EOFError("Compressed file ended"), 2), (ZeroDivisionError("x"), 2),
    (RuntimeError("y"), 2), (NotImplementedError("z"), 2), (OSError(28, "No space"), 1),
    (PermissionError(13, "denied"), 2), (KeyError("k"), 2),
])
def test_any_exception_is_one_line(capsys, monkeypatch, exc, status):
    def fail(args):
        raise exc

    monkeypatch.setattr(cli, "train", fail)
    got, out, err = main(capsys, "train")
    assert got == status and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("fastbp: error: ")


# -- Ctrl-C keeps what was trained (issue 16, item 9) --------------------------------

class Interrupt:
    """Raises KeyboardInterrupt at the ``at``-th call of the function it wraps."""

    def __init__(self, function, at):
        self.function, self.at, self.calls = function, at, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.function(*args, **kwargs)


@pytest.mark.parametrize("where", ["_train_epoch", "measure", "chunk"])
def test_ctrl_c_saves_the_whole_epochs_trained(tmp_path, capsys, monkeypatch, where):
    """Interrupts at seeded points (within a chunked epoch, between an epoch's training
    and its measurements): --save gets the network as after the last whole epoch,
    bit for bit a run of that many epochs, and stderr says so in one line."""
    rng = np.random.default_rng({"_train_epoch": 1, "measure": 2, "chunk": 3}[where])
    args = ["train", "--epochs", 20, "--seed", 4, "--hidden", 10]
    if where == "chunk":
        monkeypatch.setattr(cli, "_CHUNK_WORK", 0)  # 40 engine calls per epoch
    for at in sorted(set(rng.integers(1, 8 if where != "chunk" else 160, 4).tolist())):
        save = tmp_path / f"net{at}.npz"
        capsys.readouterr()  # the previous reference run's output
        with monkeypatch.context() as m:
            if where == "chunk":
                # The progress hook runs after each chunk: an interrupt there lands
                # between two engine calls of one epoch.
                original = cli.NoBar.update
                counter = Interrupt(lambda *a, **k: original(*a, **k), at)
                m.setattr(cli.NoBar, "update", lambda self, *a, **k: counter(self, *a, **k))
            else:  # in the engine's epoch, or in the validation monitor after it
                owner, name = ((_training._Run, "_train_epoch") if where == "_train_epoch"
                               else (_training.Monitor, "__call__"))
                counter = Interrupt(getattr(owner, name), at)
                m.setattr(owner, name, lambda self, *a, **k: counter(self, *a, **k))
            status, out, err = main(capsys, *args, "--save", save)
        done = out.count("\nepoch ") + out.startswith("epoch ")
        assert status == 130, err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith(f"fastbp: interrupted after {done} of 20 epochs"), err
        if done == 0:
            assert "nothing written" in err and not save.exists()
            continue
        assert f"saved to {save}" in err
        saved = fastbp.load(save)
        reference = train_net("--epochs", done, *args[3:])
        for p, q in zip(parameters(saved), parameters(reference)):
            np.testing.assert_array_equal(p, q)


def test_ctrl_c_in_a_real_run_writes_the_model_and_the_plot(tmp_path):
    """SIGINT to `fastbp train --save --plot` once two epochs are reported: exit 130,
    one line on stderr, and both files hold the epochs reported."""
    pytest.importorskip("matplotlib")
    import signal
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    save, plot = tmp_path / "net.npz", tmp_path / "curves.png"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastbp", "train", "--epochs", "100000", "--save",
         str(save), "--plot", str(plot)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while sum(line.startswith("epoch ") for line in lines) < 2:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        proc.send_signal(signal.SIGINT)
        # Not communicate(): with a timeout it reads the pipes' file descriptors and
        # would lose the lines readline() has already buffered. The rest is a few
        # lines, which the pipes hold while the process ends.
        proc.wait(timeout=120)
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    printed = sum(line.startswith("epoch ") for line in lines + out.splitlines())
    found = re.match(r"fastbp: interrupted after (\d+) of 100000 epochs; ", err)
    assert found and err.count("\n") == 1, err
    done = int(found.group(1))
    # The signal may land after an epoch is done and before its line is printed.
    assert 2 <= printed <= done <= printed + 1, (printed, err)
    assert "saved to" in err and "learning curves in" in err
    assert plot.read_bytes().startswith(b"\x89PNG")
    saved = fastbp.load(save)
    reference = train_net("--epochs", done)
    for p, q in zip(parameters(saved), parameters(reference)):
        np.testing.assert_array_equal(p, q)


# -- messages name the options ---------------------------------------------------

PYTHON_NAMES = ("learning_rate", "batch_size", "output_activation", "nesterov=",
                "momentum=", "optimizer=", "cost=", "path:")


@pytest.mark.parametrize("args, option", [
    *[(["--learning-rate", v], "--learning-rate") for v in ("-1", "0", "nan", "inf",
                                                             "-1e-300", "x")],
    (["--nesterov"], "--nesterov"),
    (["--momentum", "0", "--nesterov"], "--momentum"),
    (["--optimizer", "adam", "--nesterov"], "--optimizer sgd"),
    (["--optimizer", "adam", "--momentum", "0.3"], "--momentum"),
    *[(["--cost", cost, "--output-activation", out], "--output-activation")
      for cost, out in (("log_likelihood", "sigmoid"), ("log_likelihood", "relu"),
                        ("cross_entropy", "softmax"), ("cross_entropy", "tanh"))],
])
def test_errors_name_the_option_not_the_python_argument(capsys, args, option):
    status, out, err = main(capsys, "train", *args, "--epochs", 1, "--quiet")
    assert status == 2 and err.count("\n") == 1, err
    assert option in err, err
    assert not any(name in err for name in PYTHON_NAMES), err


def test_a_swapped_model_and_data_is_named_as_such(tmp_path, capsys):
    rng = np.random.default_rng(5)
    model = tmp_path / "net.npz"
    fastbp.Network([4, 3, 2], seed=0).save(model)
    for name, write in (("a.csv", lambda p: p.write_text("1,2,3,4\n")),
                        ("b.npy", lambda p: np.save(p, rng.random((3, 4)))),
                        ("c.npz", lambda p: np.savez(p, X=rng.random((3, 4)))),
                        ("d.csv.gz", lambda p: p.write_bytes(gzip.compress(b"1,2,3,4\n")))):
        data = tmp_path / name
        write(data)
        status, out, err = main(capsys, "predict", model, data)
        assert status == 0, err
        status, out, err = main(capsys, "predict", data, model)
        assert status == 2 and err.count("\n") == 1 and out == "", err
        assert f"DATA {model} is" in err and "swapped?" in err, err
        status, out, err = main(capsys, "predict", data, data)
        assert status == 2 and f"MODEL '{data}' is not" in err and "swapped?" not in err


# -- every example of the command-line guide runs as written ----------------------

GUIDE = ROOT / "docs" / "guide" / "cli.md"


def guide_examples():
    """The `fastbp ...` commands of the guide's bash blocks, as argument lists."""
    import shlex
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    commands = [shlex.split(line, comments=True) for line in lines]
    return [c[1:] for c in commands if c and c[0] == "fastbp"]


def guide_folder(tmp_path):
    """A working folder with the files the guide's examples name: my.csv (the
    digits with their labels), new.csv and new.npy (features only)."""
    X, y = fastbp.datasets.load_digits()
    np.savetxt(tmp_path / "my.csv", np.column_stack([X, y]), delimiter=",", fmt="%.6g")
    np.savetxt(tmp_path / "new.csv", X[:25], delimiter=",", fmt="%.6g")
    np.save(tmp_path / "new.npy", X[25:50])
    return tmp_path


def run_example(args, folder, env=None):
    result = run(*args, cwd=folder, env=env, timeout=900)
    assert result.returncode == 0 and result.stderr == "", (args, result.stderr)
    return result.stdout


def test_the_guides_examples_on_files_run_as_written(tmp_path):
    examples = [a for a in guide_examples() if "--mnist" not in a]
    assert len(examples) >= 3 and any("--data" in a for a in examples)
    folder = guide_folder(tmp_path)
    for args in examples:
        out = run_example(args, folder)
        if "--data" in args:
            # The example's L2 and η keep the accuracy steady, not swinging by 8 points.
            accuracy = [float(v) for v in re.findall(r"validation accuracy +([\d.]+)%", out)]
            assert len(accuracy) == int(args[args.index("--epochs") + 1])
            assert min(accuracy[2:]) >= 93, accuracy
        elif args[0] == "predict" and "--proba" in args:
            rows = np.loadtxt(folder / args[args.index("-o") + 1], delimiter=",")
            np.testing.assert_allclose(rows.sum(axis=1), 1, rtol=1e-12)
        elif args[0] == "predict":
            assert len(out.split()) == 25 and set(out.split()) <= set("0123456789")
    for name in ("net.npz", "curves.png"):
        assert (folder / name).stat().st_size > 0


def test_the_guides_mnist_examples_run_as_written(tmp_path, mnist_dir):
    examples = [a for a in guide_examples() if "--mnist" in a]
    assert len(examples) >= 2
    # --download fetches only the files missing from the cache: here, none.
    cache = tmp_path / "cache"
    (cache / "mnist").mkdir(parents=True)
    for name in os.listdir(mnist_dir):
        if "ubyte" in name:
            os.symlink(os.path.join(mnist_dir, name), cache / "mnist" / name)
    env = dict(os.environ, FASTBP_DATA=str(cache), FASTBP_MNIST_URL="http://127.0.0.1:9/")
    for args in examples:
        args = [mnist_dir if a == "DIR" else a for a in args]
        out = run_example(args, tmp_path, env)
        assert "MNIST: 50000 training" in out and "test accuracy" in out


@pytest.mark.parametrize("rate", ["1e5", "1e6", "1e7"])
def test_a_rate_that_saturates_the_neurons_is_reported(capsys, rate):
    """The guide: such a run keeps a finite cost, so it is not divergence (status 0),
    but it says that its accuracy is no better than a constant answer."""
    status, out, err = main(capsys, "train", "--learning-rate", rate, "--epochs", 3)
    accuracy = float(re.findall(r"validation accuracy +([\d.]+)%", out)[-1])
    assert status == 0 and err.count("\n") == 1, err
    assert err.startswith(f"fastbp: warning: validation accuracy {accuracy:.2f}% is no "
                          f"better than always answering the most frequent class"), err
    assert "--learning-rate" in err


def test_a_run_that_learns_gives_no_warning(capsys):
    status, out, err = main(capsys, "train", "--epochs", 2, "--quiet")
    assert status == 0 and err == "", err
