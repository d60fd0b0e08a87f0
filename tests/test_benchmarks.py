"""The benchmark harness: benchmarks/run.py times the implementations' epochs in
rounds, each implementation in a ``worker.py serve`` process of its own."""
import importlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def run_py(monkeypatch):
    """benchmarks/run.py as a module, without its pause before each epoch."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module("run")
    assert Path(module.__file__).resolve() == BENCHMARKS / "run.py"
    monkeypatch.setattr(module, "SETTLE_S", 0)
    return module


class FakeServer:
    """Records the requests it gets; ``broken`` ones fail their prepare request."""

    def __init__(self, impl, log, broken=False):
        self.impl, self.log, self.broken = impl, log, broken

    def ask(self, op, **request):
        self.log.append((self.impl, op))
        if op == "prepare" and self.broken:
            return None
        return {"rows": [{"impl": self.impl}]} if op == "rows" else {}


def repeats(log):
    return [impl for impl, op in log if op == "repeat"]


def test_rounds_rotate_through_the_implementations(run_py):
    log, results = [], {"rows": []}
    servers = [FakeServer(name, log) for name in "abc"]
    run_py.interleaved(servers, {s: {} for s in servers}, 4, results)
    assert log[:3] == [("a", "prepare"), ("b", "prepare"), ("c", "prepare")]
    # Each round times one repeat of every implementation, starting one further on.
    assert repeats(log) == list("abc" "bca" "cab" "abc")
    assert [r["impl"] for r in results["rows"]] == list("abc")


def test_rounds_skip_what_does_not_run_the_workload_or_failed(run_py):
    log, results = [], {"rows": []}
    ok, broken, other = (FakeServer("ok", log), FakeServer("broken", log, broken=True),
                         FakeServer("other", log))
    run_py.interleaved([ok, broken, other], {ok: {}, broken: {}}, 3, results)
    assert ("other", "prepare") not in log and "other" not in repeats(log)
    assert repeats(log) == ["ok"] * 3
    assert [r["impl"] for r in results["rows"]] == ["ok"]


def test_serve_answers_run_py_requests(run_py, mnist_dir, monkeypatch):
    monkeypatch.setenv("FASTBP_MNIST_DIR", mnist_dir)
    server = run_py.Server("numpy-matrix", 1, quick=True, repeats=3)
    try:
        assert server.ask("prepare", workload="W1", n=200) == {}
        walls = [server.ask("repeat")["wall"] for _ in range(3)]
        (row,) = server.ask("rows")["rows"]
        assert server.ask("prepare", workload="W4") == {}
        for _ in range(2):
            assert server.ask("repeat")["wall"] > 0
        w4 = server.ask("rows")["rows"]
        info = server.ask("info")
        # An unknown request stops the worker; the harness records why, not a crash.
        assert server.ask("no such request") is None
    finally:
        server.close()
    assert all(w > 0 for w in walls)
    assert (row["workload"], row["impl"], row["threads"], row["n"]) == \
        ("W1", "numpy-matrix", 1, 200)
    assert (row["min"], row["median"], row["max"]) == \
        (min(walls), sorted(walls)[1], max(walls))
    assert row["unit"] == "s/epoch" and row["flops"] == 200 * 95_880
    assert [(r["workload"], r["unit"], r["n"]) for r in w4] == [
        ("W4 single", "us/call", 1), ("W4 single float32", "us/call", 1),
        ("W4 batch", "ms/call", 10_000), ("W4 batch float32", "ms/call", 10_000)]
    for r in w4:
        assert 0 < r["min"] <= r["median"] <= r["max"]
    # a single-example repeat is a loop of calls, reported per call
    assert w4[0]["calls"] == 500 and w4[0]["max"] < w4[2]["min"]
    assert info["loader"] == "fastbp.datasets.load_mnist"
    assert server.error.startswith("worker stopped (exit code 1")


def test_missing_mnist_exits_1_with_one_line(run_py, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FASTBP_MNIST_DIR", str(tmp_path))
    for argv in (["--quick"], ["--check"]):
        assert run_py.main(argv) == 1
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1
        assert err.startswith(f"run.py: error: MNIST not found: {tmp_path} lacks ")


def test_mnist_defaults_to_the_download_cache(run_py, tmp_path, monkeypatch, capsys):
    """Without FASTBP_MNIST_DIR: where `fastbp train --mnist --download` puts MNIST."""
    import common
    monkeypatch.delenv("FASTBP_MNIST_DIR", raising=False)
    monkeypatch.setenv("FASTBP_DATA", str(tmp_path))
    assert common.mnist_dir() == str(tmp_path / "mnist")
    monkeypatch.delenv("FASTBP_DATA")
    assert common.mnist_dir() == str(Path("~/.cache/fastbp/mnist").expanduser())


def test_results_go_to_a_new_file_unless_one_is_named(run_py, tmp_path, monkeypatch):
    """The committed benchmarks/results.md is rewritten only when named."""
    assert run_py.parse_args(["--quick"]).output is None
    assert run_py.parse_args(["--output", "x.md"]).output == "x.md"
    first = run_py.fresh_output_path(tmp_path)
    assert first.parent == tmp_path and first.name.startswith("benchmark-results-")
    first.write_text("taken")
    second = run_py.fresh_output_path(tmp_path)
    assert second != first and not second.exists()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_onnxruntime_peer_computes_the_network(run_py, dtype):
    """The W4 peer's own ONNX graph gives fastbp's outputs for the same parameters
    (one example and a batch), so the suite times the same computation."""
    import numpy as np
    import fastbp
    if any(importlib.util.find_spec(name) is None for name in ("onnx", "onnxruntime")):
        message = "onnx or onnxruntime is not installed: pip install '.[integration]'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    peers = importlib.import_module("peers")
    rng = np.random.default_rng(4)
    net = fastbp.Network([20, 7, 3], dtype=dtype, seed=1)
    peer = peers.get("onnxruntime")(net.sizes, dtype, net.weights, net.biases, 10, 1.0)
    X = rng.random((33, 20)).astype(dtype)
    tol = {"float64": 1e-12, "float32": 1e-5}[dtype]
    np.testing.assert_allclose(peer.feedforward(X), net.feedforward(X), rtol=tol)
    np.testing.assert_allclose(peer.feedforward(X[0]), net.feedforward(X[0]), rtol=tol)
    assert peer.feedforward(X).dtype == np.dtype(dtype)


def test_w5_fits_both_estimators_and_reports_them(run_py, mnist_dir, monkeypatch):
    """W5's worker fits each MLPClassifier for the epochs asked (both run them all),
    and the report puts the two side by side with their ratio."""
    monkeypatch.setenv("FASTBP_MNIST_DIR", mnist_dir)
    report = importlib.import_module("report")
    runs = [run_py.run_worker("w5", 1, ["--impl", impl, "--config", "defaults", "--n", "600",
                                        "--epochs", "2"], f"W5 {impl}")
            for impl in ("fastbp", "sklearn")]
    for impl, r in zip(("fastbp", "sklearn"), runs):
        assert "error" not in r, r
        assert (r["impl"], r["epochs"], r["n"]) == (impl, 2, 600)
        assert r["wall"] > 0 and 0.1 < r["accuracy"] <= 1
    text = report.section_w5({"w5": runs})
    expected = f"{runs[1]['wall'] / runs[0]['wall']:.2f}x"
    assert "| defaults | 1 | 2 |" in text and expected in text, text


def test_without_mnist_the_benchmarks_run_on_data_of_its_shapes(run_py, tmp_path,
                                                                monkeypatch, capsys):
    """No FASTBP_MNIST_DIR and an empty download cache: a seeded stand-in of MNIST's
    shapes, named as such in the results, and a note on stderr; the peers still agree
    on it (--check)."""
    import common
    monkeypatch.delenv("FASTBP_MNIST_DIR", raising=False)
    monkeypatch.setenv("FASTBP_DATA", str(tmp_path))
    assert common.synthetic_instead_of_mnist()
    for dtype in ("float64", "float32"):
        train, validation, test, loader = common.load_mnist(dtype)
        assert loader == common.SYNTHETIC_LOADER and loader.startswith("synthetic")
        for (X, y), n in zip((train, validation, test), (50_000, 10_000, 10_000)):
            assert X.shape == (n, 784) and X.dtype == dtype and y.shape == (n,)
            assert 0 <= X.min() and X.max() <= 1 and set(np.unique(y)) == set(range(10))
    again = common.load_mnist("float64")[0][0]
    np.testing.assert_array_equal(again, common.load_mnist("float64")[0][0])
    assert run_py.main(["--check"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("run.py: note: MNIST not found") and "synthetic" in err


def test_sklearn_jobs_counts_the_products_of_an_lbfgs_fit(monkeypatch):
    """The dgemm share's numerator: the flops of the loss evaluations scipy asked
    for, each the forward, BP2 and BP4 products of all the rows, counted here by
    NumPy's oracle itself (one matmul per product)."""
    pytest.importorskip("sklearn")
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    jobs = importlib.import_module("sklearn_jobs")
    from reference import backprop
    rng = np.random.default_rng(0)
    sizes, m = [5, 7, 4, 3], 11
    W = [rng.normal(size=(b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    B = [rng.normal(size=b) for b in sizes[1:]]
    X, Y = rng.normal(size=(m, 5)), np.eye(3)[rng.integers(0, 3, m)]
    flops = []
    real = np.ndarray.__matmul__

    class Counting(np.ndarray):
        def __matmul__(self, other):
            out = real(self, other)
            flops.append(2 * self.shape[0] * self.shape[1] * np.shape(other)[-1])
            return out.view(Counting)

        def __rmatmul__(self, other):
            return Counting.__matmul__(np.asarray(other).view(Counting), self)

    backprop([w.view(Counting) for w in W], B, X.view(Counting), Y, "tanh", "softmax",
             "log_likelihood")
    assert jobs._gradient_flops(m, sizes) == sum(flops)
    import scipy.optimize
    minimize = scipy.optimize.minimize
    with jobs._count_evaluations() as count:
        res = scipy.optimize.minimize(lambda x: (x @ x, 2 * x), np.ones(3), jac=True,
                                      method="L-BFGS-B")
    assert count == [res.nfev] and scipy.optimize.minimize is minimize


def test_busy_machine_prints_its_fits_and_their_ratio():
    """busy_machine.py with one spinning neighbour and one short fit of each kind: the
    markdown row's medians and ratio are those of the fits it printed, and the
    neighbour is gone afterwards."""
    import re
    import subprocess
    import sys
    out = subprocess.run([sys.executable, str(BENCHMARKS / "busy_machine.py"), "--others",
                          "1", "--pairs", "1", "--settle", "0", "--rows", "5000"],
                         check=True, capture_output=True, text=True, timeout=300).stdout
    walls = {kind: float(t) for kind, t in re.findall(
        r"^(default|1 thread): ([\d.]+) s wall", out, re.M)}
    assert set(walls) == {"default", "1 thread"}, out
    [row] = [line for line in out.splitlines()
             if line.startswith("| W1, one epoch of 5,000 rows")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[1].split()[0]) == pytest.approx(walls["default"], abs=1e-3)
    assert float(cells[2].split()[0]) == pytest.approx(walls["1 thread"], abs=1e-3)
    assert float(cells[3].rstrip("x")) == pytest.approx(
        walls["default"] / walls["1 thread"], rel=0.1)
    spinners = subprocess.run(["pgrep", "-f", "^" + re.escape(sys.executable)
                               + " -c while True: pass$"], capture_output=True, text=True)
    assert spinners.stdout == "", spinners.stdout
