"""The ``fastbp`` command line, run as a user would run it."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from fastbp import cli


def run(*args):
    """Run ``python -m fastbp`` in a subprocess, outside the repository."""
    return subprocess.run([sys.executable, "-m", "fastbp", *args], capture_output=True,
                          text=True, cwd=os.path.dirname(os.path.abspath(fastbp.__file__)) + "/..",
                          timeout=300)


def test_train_on_shipped_digits(tmp_path):
    result = run("train", "--epochs", "5", "--save", str(tmp_path / "net.npz"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("UCI digits (8x8): 1197 training, 300 validation, 300 test")
    assert sum(line.startswith("epoch ") for line in lines) == 5
    accuracy = float(lines[-2].split()[-1].rstrip("%"))
    assert lines[-2].startswith("test accuracy") and accuracy > 80
    net = fastbp.load(tmp_path / "net.npz")
    assert net.sizes == [64, 30, 10]


def test_default_run_reaches_high_accuracy(capsys):
    net = cli.train(cli.build_parser().parse_args(["train"]))
    out = capsys.readouterr().out
    assert out.count("\nepoch ") == 30
    X, y = fastbp.datasets.load_digits()
    assert net.evaluate(X, y) > 0.93


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"fastbp {fastbp.__version__}"


@pytest.mark.parametrize("args, message", [
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--hidden", "30,x"], "--hidden"),
    (["train", "--learning-rate", "-1"], "learning_rate"),
    (["train", "--cost", "cross_entropy", "--activation", "relu"], "cross_entropy"),
    (["train", "--mnist", "/nonexistent/dir"], "nonexistent"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_arguments_exit_2_with_a_message(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_splits_are_disjoint_and_cover_digits():
    parts = cli._digits_split("float64")
    X_all, _ = fastbp.datasets.load_digits()
    stacked = np.vstack([X for X, _ in parts])
    assert stacked.shape == X_all.shape
    assert len(np.unique(stacked, axis=0)) == len(np.unique(X_all, axis=0))
