"""No NaN or inf handed back as an answer from finite input, on every inference path.

Parameters edited in place to NaN or inf (which no assignment check sees), and finite
parameters whose output overflows, are generated over layer, position, value, dtype,
activations and the shape of X; every path must raise ValueError and leave the
network as it was.
"""
import re

import numpy as np
import pytest

import fastbp
from fastbp import cli
from test_interop import need

need("sklearn")
from fastbp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

HIDDEN = ("sigmoid", "tanh", "relu", "identity")
HIDDEN_SKLEARN = ("logistic", "tanh", "relu", "identity")


def networks(count, seed):
    rng = np.random.default_rng(seed)
    for case in range(count):
        sizes = [int(n) for n in rng.integers(1, 9, size=rng.integers(2, 5))]
        cost = ("quadratic", "log_likelihood", "cross_entropy")[case % 3]
        output = {"log_likelihood": "softmax", "cross_entropy": "sigmoid"}.get(
            cost, str(rng.choice(HIDDEN)))
        dtype = ("float64", "float32")[(case // 3) % 2]
        yield rng, fastbp.Network(sizes, activation=str(rng.choice(HIDDEN)),
                                  output_activation=output, cost=cost, dtype=dtype,
                                  seed=case)


def spoil(net, rng):
    """Set one parameter (a weight or a bias of some layer) to NaN or ±inf in place."""
    l = int(rng.integers(len(net.weights)))
    arrays = net.weights if rng.random() < 0.7 else net.biases
    flat = arrays[l].reshape(-1)
    flat[int(rng.integers(flat.size))] = rng.choice([np.nan, np.inf, -np.inf])
    return l


def inference_paths(net, X, rng):
    y = rng.integers(0, net.sizes[-1], len(X))
    return {
        "feedforward": lambda: net.feedforward(X),
        "feedforward(x)": lambda: net.feedforward(X[0]),
        "predict": lambda: net.predict(X),
        "predict(x)": lambda: net.predict(X[0]),
        "evaluate": lambda: net.evaluate(X, y),
    }


def test_parameters_spoiled_in_place_are_refused_on_every_network_path():
    refused = answered = 0
    for rng, net in networks(60, seed=8):
        X = rng.standard_normal((int(rng.integers(1, 300)), net.sizes[0]))
        spoil(net, rng)
        for path, call in inference_paths(net, X, rng).items():
            try:
                out = call()
            except ValueError as exc:
                assert re.search(r"(weights|biases)\[\d+\] contains NaN", str(exc)), \
                    (path, exc)
                refused += 1
            else:
                # A spoiled value can be masked (ReLU gives 0 for -inf and NaN): the
                # answer is then finite, and an answer.
                assert np.isfinite(out).all(), (path, net, out)
                answered += 1
    assert refused > 4 * answered, (refused, answered)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_overflow_of_finite_parameters_is_refused(dtype):
    rng = np.random.default_rng(3)
    big = np.finfo(dtype).max
    for trial in range(20):
        n = int(rng.integers(2, 7))
        net = fastbp.Network([n, n, 2], activation="identity", dtype=dtype, seed=trial)
        for w in net.weights:
            w[...] = big / 4 * np.sign(rng.standard_normal(w.shape))
        X = rng.uniform(1, 4, (int(rng.integers(1, 50)), n))
        before = [w.copy() for w in net.weights]
        for path, call in inference_paths(net, X, rng).items():
            with pytest.raises(ValueError, match="overflowed"):
                call()
        for w, old in zip(net.weights, before):
            np.testing.assert_array_equal(w, old)


def test_estimators_refuse_a_nan_answer():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 4))
    refused = answered = 0
    for trial in range(8):
        activation = HIDDEN_SKLEARN[trial % 4]
        classifier = MLPClassifier(hidden_layer_sizes=(5,), max_iter=2,
                                   activation=activation, random_state=trial
                                   ).fit(X, rng.integers(0, 3, 60))
        regressor = MLPRegressor(hidden_layer_sizes=(5,), max_iter=2,
                                 activation=activation, random_state=trial
                                 ).fit(X, rng.standard_normal(60))
        for est in (classifier, regressor):
            spoil(est.network_, rng)
            outputs = est.predict_proba if est is classifier else est.predict
            try:
                out = outputs(X)
            except ValueError as exc:
                assert "contains NaN" in str(exc), exc
                refused += 1
                for call in [est.predict] + ([est.predict_log_proba]
                                             if est is classifier else []):
                    with pytest.raises(ValueError, match="contains NaN"):
                        call(X)
            else:  # masked by a ReLU: a finite answer
                assert np.isfinite(out).all(), (est, out)
                answered += 1
    assert refused > 2 * answered, (refused, answered)


def test_cli_predict_refuses_an_overflowing_network(tmp_path, capsys):
    net = fastbp.Network([3, 3, 2], activation="identity", seed=0)
    for w in net.weights:
        w[...] = 1e300
    net.save(tmp_path / "big.npz")
    np.savetxt(tmp_path / "X.csv", np.full((4, 3), 1e10), delimiter=",")
    for extra in ([], ["--outputs"], ["--proba"]):
        status = cli.main(["predict", str(tmp_path / "big.npz"), str(tmp_path / "X.csv"),
                           *extra])
        captured = capsys.readouterr()
        assert status != 0 and captured.out == "", (extra, captured)
        assert "overflowed" in captured.err, captured.err
