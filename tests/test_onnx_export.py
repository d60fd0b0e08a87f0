"""``to_onnx``: atomic and safe targets, and graph names that cannot collide.

Without onnx and onnxruntime these tests skip on a developer machine and fail under
CI=true (the test extra installs both).
"""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import fastbp
from test_interop import need

onnx = need("onnx")
ort = need("onnxruntime")
from fastbp.onnx import to_onnx  # noqa: E402


def run_onnx(model, X):
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})


# -- item 2: a kill during the write leaves the old model or the new, whole -------

WRITER = textwrap.dedent("""
    import sys
    import fastbp
    path = sys.argv[1]
    nets = [fastbp.Network([256, 1024, 512, 10], seed=s) for s in (1, 2)]
    nets[0].to_onnx(path)
    print("ready", flush=True)
    i = 0
    while True:
        nets[i % 2].to_onnx(path)
        i += 1
""")


def test_a_kill_during_to_onnx_leaves_a_whole_model(tmp_path):
    path = tmp_path / "model.onnx"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    wanted = [fastbp.Network([256, 1024, 512, 10], seed=s).to_onnx().SerializeToString()
              for s in (1, 2)]
    rng = np.random.default_rng(27)
    seen = set()
    for kill in range(8):
        child = subprocess.Popen([sys.executable, str(script), str(path)],
                                 stdout=subprocess.PIPE, cwd=tmp_path)
        try:
            assert child.stdout.readline().strip() == b"ready"
            time.sleep(float(rng.uniform(0.0, 0.6)))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
            child.stdout.close()
        data = path.read_bytes()
        assert data in wanted, f"kill {kill}: {len(data)} bytes, a torn model"
        seen.add(wanted.index(data))
        net = fastbp.Network.from_onnx(path)
        assert net.sizes == [256, 1024, 512, 10]
    # Temporary files of killed writers stay behind; none replaced the model.
    assert all(p.name.startswith(".fastbp-") for p in tmp_path.iterdir()
               if p.name not in ("model.onnx", "writer.py"))


def test_to_onnx_keeps_the_mode_and_follows_links(tmp_path):
    net = fastbp.Network([3, 2], seed=0)
    target = tmp_path / "real.onnx"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.onnx"
    link.symlink_to(target)
    net.to_onnx(link)
    assert link.is_symlink() and os.stat(target).st_mode & 0o777 == 0o640
    np.testing.assert_allclose(
        fastbp.Network.from_onnx(target).feedforward(np.ones((1, 3))),
        net.feedforward(np.ones((1, 3))), rtol=1e-15)


# -- item 3: special targets are refused at once --------------------------------


def test_to_onnx_refuses_special_targets_without_blocking(tmp_path):
    net = fastbp.Network([3, 2], seed=0)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "to-fifo"
    link.symlink_to(fifo)
    (tmp_path / "dir.onnx").mkdir()
    targets = [fifo, link, tmp_path / "dir.onnx", tmp_path, "/dev/null"]
    outcome = {}

    def export_all():
        for target in targets:
            try:
                net.to_onnx(target)
            except ValueError as exc:
                outcome[str(target)] = str(exc)

    worker = threading.Thread(target=export_all, daemon=True)
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive():  # unblock the FIFO so the test process can end
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        pytest.fail("to_onnx blocked on a special file")
    assert sorted(outcome) == sorted(map(str, targets))
    assert all("not a regular file" in message for message in outcome.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.onnx", "fifo", "to-fifo"]


@pytest.mark.parametrize("path", [b"", "", 3.5, object()])
def test_to_onnx_refuses_bad_paths(path):
    with pytest.raises((TypeError, ValueError), match="path"):
        fastbp.Network([3, 2], seed=0).to_onnx(path)


# -- item 6: names that collide are refused; the rest give a correct model ---------


def candidate_names(rng, n_layers):
    inner = [f"{k}{l}" for k in "wbza" for l in range(1, n_layers + 2)]
    special = ["", "input", "output", "label", "classes", "label_index", "x", "y",
               "W1", "w 1", "w1 ", "layer1", "sigmoid1", "ä", "a" * 300]
    pool = inner + special
    for _ in range(40):
        yield str(rng.choice(pool)), str(rng.choice(pool))


def test_colliding_graph_names_are_refused_and_the_rest_compute_the_network():
    from fastbp.sklearn import MLPClassifier
    rng = np.random.default_rng(6)
    X = rng.standard_normal((30, 4))
    refused = accepted = 0
    for trial in range(4):
        L = trial % 3 + 1
        net = fastbp.Network([4] + [5] * (L - 1) + [3], activation="tanh",
                             cost="log_likelihood", seed=trial)
        clf = MLPClassifier(hidden_layer_sizes=(5,) * (L - 1), max_iter=3,
                            random_state=trial).fit(X, rng.integers(0, 3, 30))
        for model in (net, clf):
            for input_name, output_name in candidate_names(rng, L):
                try:
                    exported = to_onnx(model, input_name=input_name,
                                       output_name=output_name)
                except ValueError as exc:
                    assert "_name" in str(exc), exc
                    refused += 1
                    continue
                accepted += 1
                outputs = run_onnx(exported, X)
                reference = model.feedforward(X) if model is net else \
                    model.predict_proba(X)
                np.testing.assert_allclose(outputs[0], reference, rtol=1e-12,
                                           atol=1e-15)
                if model is clf:
                    np.testing.assert_array_equal(outputs[1], model.predict(X))
    assert refused > 20 and accepted > 20, (refused, accepted)


@pytest.mark.parametrize("name", [3, None.__class__, b"input"])
def test_graph_names_must_be_strings(name):
    with pytest.raises(TypeError, match="input_name"):
        fastbp.Network([3, 2], seed=0).to_onnx(input_name=name)
