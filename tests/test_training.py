"""Training options beyond plain SGD: each checked against its formula, step by step."""
import numpy as np
import pytest

import fastbp


def make(seed=0, sizes=(4, 6, 3), **kwargs):
    net = fastbp.Network(list(sizes), seed=seed, **kwargs)
    rng = np.random.default_rng(seed + 100)
    X = rng.normal(size=(12, sizes[0]))
    y = rng.integers(0, sizes[-1], 12)
    return net, X, y


def params(net):
    return [p.copy() for p in net.weights + net.biases]


def grads(net, X, y):
    nabla_b, nabla_w = net.backprop(X, y)
    return nabla_w + nabla_b


def assert_params(net, expected, rtol=1e-12):
    for got, want in zip(net.weights + net.biases, expected):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-13)


def full_batch(net, X, y, epochs=1, **kwargs):
    return net.fit(X, y, epochs=epochs, batch_size=len(X), learning_rate=0.5,
                   shuffle=False, **kwargs)


def test_l2_is_weight_decay_on_weights_only():
    net, X, y = make()
    lam, eta, n = 3.0, 0.5, len(X)
    L = len(net.weights)
    expected = [((1 - eta * lam / n) * p if i < L else p) - eta * g
                for i, (p, g) in enumerate(zip(params(net), grads(net, X, y)))]
    history = full_batch(net, X, y, l2=lam)
    assert_params(net, expected)
    # The reported cost includes the (λ/2n) Σ‖w‖² term, like network2.
    assert history["train_cost"][0] > 0


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_two_steps(nesterov):
    net, X, y = make()
    mu, eta = 0.9, 0.5
    p = params(net)
    v = [np.zeros_like(q) for q in p]
    for _ in range(2):
        twin = fastbp.Network(net.sizes, seed=0)
        twin.weights, twin.biases = [q.copy() for q in p[:2]], [q.copy() for q in p[2:]]
        g = grads(twin, X, y)
        v = [mu * vi - eta * gi for vi, gi in zip(v, g)]
        p = [pi + (mu * vi - eta * gi if nesterov else vi) for pi, vi, gi in zip(p, v, g)]
    full_batch(net, X, y, epochs=2, momentum=mu, nesterov=nesterov)
    assert_params(net, p, rtol=1e-10)


def test_adam_two_steps_and_state_carries_over_partial_fit():
    net, X, y = make()
    twin = fastbp.Network(net.sizes, seed=0)
    b1, b2, eps, eta = 0.9, 0.999, 1e-8, 0.5
    p = params(net)
    m = [np.zeros_like(q) for q in p]
    v = [np.zeros_like(q) for q in p]
    for t in (1, 2):
        probe = fastbp.Network(net.sizes, seed=0)
        probe.weights, probe.biases = [q.copy() for q in p[:2]], [q.copy() for q in p[2:]]
        g = grads(probe, X, y)
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
        eta_t = eta * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        p = [pi - eta_t * mi / (np.sqrt(vi) + eps) for pi, mi, vi in zip(p, m, v)]
    full_batch(net, X, y, epochs=2, optimizer="adam")
    assert_params(net, p, rtol=1e-10)
    for _ in range(2):
        twin.partial_fit(X, y, batch_size=len(X), learning_rate=0.5, shuffle=False,
                         optimizer="adam")
    assert_params(twin, p, rtol=1e-10)
    assert len(twin.history["train_cost"]) == 2


def test_sample_weight_equals_repeating_rows():
    net, X, y = make()
    twin = fastbp.Network(net.sizes, seed=0)
    counts = np.array([1, 2, 3, 1, 1, 2, 1, 1, 4, 1, 1, 2])
    nabla_b, nabla_w = net.backprop(X, y, sample_weight=counts)
    rep_b, rep_w = twin.backprop(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    for a, b in zip(nabla_b + nabla_w, rep_b + rep_w):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    full_batch(net, X, y, sample_weight=counts)
    twin.fit(np.repeat(X, counts, axis=0), np.repeat(y, counts), epochs=1,
             batch_size=counts.sum(), learning_rate=0.5, shuffle=False)
    assert_params(net, params(twin), rtol=1e-12)


@pytest.mark.parametrize("bad, message", [
    (np.ones(5), "shape"), (-np.ones(12), "non-negative"), (np.zeros(12), "positive sum"),
    (np.full(12, np.nan), "NaN"), (np.array(["a"] * 12), "real numbers"),
])
def test_bad_sample_weight_is_refused(bad, message):
    net, X, y = make()
    before = params(net)
    with pytest.raises((ValueError, TypeError), match=message):
        full_batch(net, X, y, sample_weight=bad)
    assert_params(net, before, rtol=0)


def test_dropout_trains_reproducibly_and_leaves_inference_alone():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    nets = [fastbp.Network([2, 32, 2], cost="cross_entropy", seed=1) for _ in range(3)]
    for net, p in zip(nets, (0.2, 0.2, 0.0)):
        net.fit(X, y, epochs=60, batch_size=10, learning_rate=1.0, dropout=p, seed=5)
    assert_params(nets[0], params(nets[1]), rtol=0)          # same seed, same masks
    assert not np.allclose(nets[0].weights[0], nets[2].weights[0])  # masks did something
    assert nets[0].evaluate(X, y) > 0.85
    np.testing.assert_array_equal(nets[0].feedforward(X), nets[0].feedforward(X))


def test_vanishing_dropout_is_plain_sgd():
    """With p → 0 every mask entry is 1/(1 - p) = 1: the masked forward pass, BP2 and
    BP4 must then reduce exactly to the unmasked ones."""
    net, X, y = make()
    twin = fastbp.Network(net.sizes, seed=0)
    full_batch(net, X, y, dropout=1e-300)
    full_batch(twin, X, y)
    assert_params(net, params(twin), rtol=0)


def test_invscaling_schedule():
    net, X, y = make()
    history = full_batch(net, X, y, epochs=3, schedule="invscaling", power_t=0.5)
    np.testing.assert_allclose(history["learning_rate"],
                               [0.5, 0.5 / np.sqrt(13), 0.5 / np.sqrt(25)])


def test_plateau_schedule_halves_and_stops_at_one_128th():
    net, X, y = make()
    # A rate too small to change any prediction: the validation score never improves.
    history = net.fit(X, y, epochs=100, batch_size=4, learning_rate=1e-12,
                      validation_data=(X, y), schedule="plateau", n_iter_no_change=2)
    rates = history["learning_rate"]
    assert rates[:3] == [1e-12] * 3
    assert rates[-1] == pytest.approx(1e-12 / 64)
    assert len(rates) == 1 + 2 * 7


def test_early_stopping_restores_best_parameters():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)   # noise: val accuracy wanders
    Xv, yv = rng.normal(size=(40, 4)), rng.integers(0, 3, 40)
    net = fastbp.Network([4, 16, 3], seed=0)
    snapshots = []
    history = net.fit(X, y, epochs=200, batch_size=5, learning_rate=2.0,
                      validation_data=(Xv, yv), early_stopping=True, n_iter_no_change=5,
                      callback=lambda n, e, h: snapshots.append(params(n)))
    scores = history["val_accuracy"]
    assert len(scores) < 200
    best = int(np.argmax(scores))
    assert len(scores) == best + 1 + 5
    assert_params(net, snapshots[best], rtol=0)
    assert net.evaluate(Xv, yv) == pytest.approx(max(scores))


def test_early_stopping_holds_out_a_validation_fraction():
    net, X, y = make()
    X, y = np.tile(X, (10, 1)), np.tile(y, 10)
    history = net.fit(X, y, epochs=3, batch_size=10, learning_rate=0.5,
                      early_stopping=True, validation_fraction=0.25)
    assert len(history["val_accuracy"]) == 3


def test_callback_can_stop_and_sees_history():
    net, X, y = make()
    seen = []

    def callback(network, epoch, history):
        seen.append((network is net, epoch, len(history["train_cost"])))
        return epoch == 3

    history = full_batch(net, X, y, epochs=10, callback=callback)
    assert seen == [(True, 1, 1), (True, 2, 2), (True, 3, 3)]
    assert len(history["train_cost"]) == 3


def test_monitor_training_recomputes_cost_and_accuracy():
    net, X, y = make()
    history = full_batch(net, X, y, epochs=2, monitor_training=True, l2=1.0)
    assert history["train_cost"][-1] == pytest.approx(net.total_cost(X, y, l2=1.0), rel=1e-12)
    assert history["train_accuracy"][-1] == net.evaluate(X, y)


@pytest.mark.parametrize("kwargs, message", [
    ({"l2": -1.0}, "l2"), ({"l2": float("nan")}, "l2"), ({"optimizer": "rmsprop"}, "optimizer"),
    ({"momentum": 1.0}, "momentum"), ({"momentum": -0.1}, "momentum"),
    ({"nesterov": True}, "nesterov"), ({"optimizer": "adam", "momentum": 0.9}, "momentum"),
    ({"beta_1": 1.0}, "beta_1"), ({"beta_2": -0.5}, "beta_2"), ({"epsilon": 0.0}, "epsilon"),
    ({"schedule": "cosine"}, "schedule"), ({"power_t": -1.0}, "power_t"),
    ({"early_stopping": "yes"}, "early_stopping"), ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"tol": -1.0}, "tol"), ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"early_stopping": True, "validation_fraction": 0.0}, "validation_fraction"),
    ({"dropout": 1.0}, "dropout"), ({"dropout": -0.2}, "dropout"),
    ({"callback": 3}, "callback"), ({"monitor_training": 1}, "monitor_training"),
])
def test_bad_training_options_are_refused(kwargs, message):
    net, X, y = make()
    before = params(net)
    with pytest.raises((ValueError, TypeError), match=message):
        full_batch(net, X, y, **kwargs)
    assert_params(net, before, rtol=0)


def test_seed_reproduces_every_optimizer():
    for opts in ({}, {"momentum": 0.9}, {"optimizer": "adam"}, {"dropout": 0.3}):
        runs = []
        for _ in range(2):
            net, X, y = make(seed=4)
            net.fit(X, y, epochs=3, batch_size=5, learning_rate=0.1, seed=9, **opts)
            runs.append(params(net))
        for a, b in zip(*runs):
            np.testing.assert_array_equal(a, b)


# -- the driver (fastbp._training.train) --------------------------------------------

@pytest.mark.parametrize("options", [
    {}, {"l2": 0.5}, {"momentum": 0.9, "nesterov": True}, {"optimizer": "adam"},
    {"sample_weight": np.linspace(0.5, 2, 50)}, {"dropout": 0.3, "momentum": 0.5}])
def test_an_epoch_in_chunks_trains_as_one_call(options):
    """``train(chunk=...)`` (the CLI's progress display) takes the same steps as one
    engine call per epoch, bit for bit, and reports each chunk's end."""
    from fastbp import _training
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(50, 4)), rng.integers(0, 3, 50)
    options = dict(options)
    sample_weight = options.pop("sample_weight", None)
    whole, chunked = (fastbp.Network([4, 6, 3], seed=0) for _ in range(2))
    for _ in range(2):
        want = whole.fit(X, y, epochs=1, batch_size=4, learning_rate=0.1,
                         sample_weight=sample_weight, **options)
        done = []
        got = _training.train(chunked, X, y, 1, 4, 0.1, sample_weight=sample_weight,
                              options=_training.check_options(**options),
                              observers=[Progress(done.append)], chunk=10)
        assert done == [12, 24, 36, 48, 50]  # chunks of whole batches of 4
        for p, q in zip(whole.weights + whole.biases, chunked.weights + chunked.biases):
            np.testing.assert_array_equal(p, q)
        np.testing.assert_allclose(got["train_cost"], want["train_cost"], rtol=1e-14)


class Progress:
    """An observer of the loop that hears only of the chunks of an epoch."""

    def __init__(self, hook):
        self.hook = hook

    def epoch_start(self, run, epoch):
        pass

    def progress(self, run, done):
        self.hook(done)

    def epoch_end(self, run, epoch):
        return False


def test_an_interrupt_in_the_progress_hook_undoes_the_epoch():
    from fastbp import _training
    net, X, y = make()
    before = params(net)

    def progress(done):
        if done > 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _training.train(net, X, y, 3, 2, 0.1, observers=[Progress(progress)], chunk=4)
    assert_params(net, before, rtol=0)
    assert net.history["train_cost"] == []
    twin, _, _ = make()
    net.fit(X, y, epochs=1, batch_size=2, learning_rate=0.1, seed=5)
    twin.fit(X, y, epochs=1, batch_size=2, learning_rate=0.1, seed=5)
    assert_params(net, params(twin), rtol=0)


def test_work_buffers_are_built_once_per_shape():
    """The engine keeps its work buffers between epochs and calls (fit, partial_fit)
    while the batch size, dropout and the need for gradient buffers stay; reusing
    them gives the bits of fresh ones."""
    import copy
    from fastbp._backprop import _workspaces_built
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, 30)
    net = fastbp.Network([4, 6, 3], seed=0)
    start = _workspaces_built()
    net.fit(X, y, epochs=4, batch_size=4, learning_rate=0.1)
    assert _workspaces_built() == start + 1
    for _ in range(3):
        net.partial_fit(X, y, batch_size=4, learning_rate=0.1)
    net.fit(X, y, epochs=2, batch_size=40, learning_rate=0.1)  # 40 rows > n: batch 30
    assert _workspaces_built() == start + 2
    net.fit(X, y, epochs=2, batch_size=4, learning_rate=0.1, optimizer="adam")
    assert _workspaces_built() == start + 3  # a new batch size, and gradient buffers
    for _ in range(2):
        net.partial_fit(X, y, batch_size=4, learning_rate=0.1, optimizer="adam")
        net.partial_fit(X, y, batch_size=4, learning_rate=0.1, momentum=0.5)
    net.partial_fit(X, y, batch_size=4, learning_rate=0.1)  # plain SGD: a subset
    assert _workspaces_built() == start + 3
    net.partial_fit(X, y, batch_size=4, learning_rate=0.1, dropout=0.5)
    assert _workspaces_built() == start + 4

    # Kept buffers (7 steps an epoch, the last short: the gather-ahead's swap of
    # buffers ends on the other one) against fresh ones: a copy has a new engine.
    for options in ({}, {"optimizer": "adam"}, {"dropout": 0.3},
                    {"momentum": 0.9, "sample_weight": np.linspace(0.1, 1, 30)}):
        kept = fastbp.Network([4, 6, 3], seed=1)
        kept.partial_fit(X, y, batch_size=4, learning_rate=0.1, seed=0, **options)
        fresh = copy.deepcopy(kept)
        for net_ in (kept, fresh):
            net_.partial_fit(X, y, batch_size=4, learning_rate=0.1, seed=1, **options)
        assert kept.compiled().matches(kept.weights, kept.biases)
        for p, q in zip(kept.weights + kept.biases, fresh.weights + fresh.biases):
            np.testing.assert_array_equal(p, q)


def test_large_work_buffers_are_not_kept_after_fit(monkeypatch):
    """Buffers over KEEP_WORKSPACE_BYTES (a batch of a whole large data set would keep
    a copy of X) are let go when fit returns; smaller ones stay for the next call."""
    from fastbp import _training
    from fastbp._backprop import _workspaces_built
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(2000, 50)), rng.integers(0, 3, 2000)
    net = fastbp.Network([50, 20, 3], seed=0)
    # 10 rows: ~20 KB of buffers; 2000 rows: ~2 MB
    monkeypatch.setattr(_training, "KEEP_WORKSPACE_BYTES", 1 << 20)
    for batch_size, built in ((10, 1), (2000, 2)):
        start = _workspaces_built()
        for _ in range(2):
            net.fit(X, y, epochs=2, batch_size=batch_size, learning_rate=0.1)
        assert _workspaces_built() - start == built
    # Let go after a fit that a bad row stopped, too.
    bad = X.copy()
    bad[-1, 0] = np.nan
    start = _workspaces_built()
    for _ in range(2):
        with pytest.raises(ValueError, match="NaN"):
            net.fit(bad, y, epochs=1, batch_size=2000, learning_rate=0.1)
    assert _workspaces_built() - start == 2


def test_optimizer_state_is_one_object_that_copies_and_pickles():
    import pickle
    net, X, y = make()
    net.fit(X, y, epochs=2, batch_size=5, learning_rate=0.1, optimizer="adam")
    state = net.training_state.optimizer
    assert state.kind == "adam" and state.step == 2 * 3
    assert [a.shape for a in state.s1w] == [w.shape for w in net.weights]
    twin = pickle.loads(pickle.dumps(state))
    copied = state.copy()
    for a, b, c in zip(state.arrays(), twin.arrays(), copied.arrays()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
        assert not np.shares_memory(a, c)
    assert twin.step == copied.step == state.step
    net.partial_fit(X, y, batch_size=5, learning_rate=0.1, optimizer="adam")
    assert state.step == 9
    state.restore(copied)
    assert state.step == 6
    np.testing.assert_array_equal(state.s2b[0], copied.s2b[0])
    with pytest.raises(ValueError, match="kind"):
        type(state)("rmsprop")
    with pytest.raises(ValueError, match="s1w"):
        type(state)("momentum")


# -- what a diverged fit keeps -----------------------------------------------------

def diverging_cases(count=24, seed=0):
    """Seeded configurations that diverge, with huge inputs and rates."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        activation, cost = [("identity", "log_likelihood"), ("relu", "log_likelihood"),
                            ("identity", "quadratic"), ("relu", "quadratic"),
                            ("tanh", "log_likelihood")][i % 5]
        n = int(rng.integers(20, 80))
        X = rng.random((n, 4)) * 10.0 ** rng.integers(1, 4)
        y = np.arange(n) % 3
        opts = [{}, {"momentum": 0.9}, {"optimizer": "adam"}][int(rng.integers(3))]
        rate = 10.0 ** rng.integers(2, 8) if not opts else 10.0 ** rng.integers(3, 7)
        yield (dict(sizes=[4, int(rng.integers(3, 12)), 3], activation=activation,
                    output_activation="softmax" if cost == "log_likelihood"
                    else "identity", cost=cost,
                    dtype=["float64", "float32"][i % 2], seed=i),
               X, y, int(rng.integers(1, 12)), float(rate), opts)


def test_after_divergence_the_kept_parameters_answer_finite_and_are_whole_epochs():
    """The parameters kept after FloatingPointError give finite outputs and a finite
    cost on the training rows, and are those of the epochs the history holds: a
    twin trained for that many epochs has them bit for bit."""
    diverged = 0
    for kwargs, X, y, batch_size, rate, opts in diverging_cases():
        net = fastbp.Network(**kwargs)
        try:
            net.fit(X, y, 8, batch_size, rate, seed=1, **opts)
        except FloatingPointError as exc:
            message = str(exc)
        else:
            continue
        diverged += 1
        out = net.feedforward(X)
        assert np.isfinite(out).all(), (kwargs, rate, message)
        assert "keeps the parameters" in message
        assert np.isfinite(net.total_cost(X, y))
        net.predict(X)
        kept = len(net.history.get("train_cost", []))
        assert net.training_state.examples_seen == kept * len(X)
        twin = fastbp.Network(**kwargs)
        if kept:
            twin.fit(X, y, kept, batch_size, rate, seed=1, **opts)
        for p, q in zip(net.weights + net.biases, twin.weights + twin.biases):
            np.testing.assert_array_equal(p, q)
        # and it trains on from there at a sane rate
        net.fit(X / X.max(), y, 1, batch_size, 1e-3, seed=2)
    assert diverged >= 8


def test_a_diverged_estimator_fit_keeps_whole_epochs_and_finite_answers():
    sk = pytest.importorskip("fastbp.sklearn")
    rng = np.random.default_rng(5)
    diverged = 0
    for trial in range(10):
        X = rng.random((60, 4)) * 10.0 ** rng.integers(2, 4)
        y = X @ rng.random(4) * 10.0 ** rng.integers(0, 3)
        est = sk.MLPRegressor(hidden_layer_sizes=(int(rng.integers(3, 9)),),
                              activation=["identity", "relu"][trial % 2], solver="sgd",
                              momentum=0.0, learning_rate_init=float(
                                  10.0 ** rng.integers(0, 4)), max_iter=20,
                              random_state=trial)
        try:
            est.fit(X, y)
        except ValueError as exc:  # scikit-learn's error for a diverged fit
            assert "Solver produced non-finite parameter weights" in str(exc)
            diverged += 1
        else:
            continue
        if "network_" not in est.__dict__:
            continue  # diverged in its first epoch: the refused fit left it unfitted
        assert np.isfinite(est.predict(X)).all()
        assert len(est.loss_curve_) == est.n_iter_
        assert est.t_ == est.n_iter_ * len(X)
    assert diverged >= 4


# -- a schedule object ---------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_a_schedule_object_takes_the_steps_of_the_named_schedule_it_mirrors(seed):
    """An object computing invscaling's rate trains bit for bit as
    schedule="invscaling" (over partial_fit calls too), and its rates are the
    history's."""
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, 40)
    eta0, power_t = float(rng.uniform(0.05, 1)), float(rng.uniform(0, 1))

    class InvScaling:
        def rate(self, run):
            return run.eta0 / (run.examples_seen + 1) ** power_t

    named, mine = fastbp.Network([4, 5, 3], seed=seed), fastbp.Network([4, 5, 3],
                                                                     seed=seed)
    for _ in range(2):
        a = named.fit(X, y, 3, 7, eta0, schedule="invscaling", power_t=power_t)
        b = mine.fit(X, y, 3, 7, eta0, schedule=InvScaling())
        assert a["learning_rate"] == b["learning_rate"]
        assert_params(mine, params(named), rtol=0)


@pytest.mark.parametrize("rate, error", [(0.0, ValueError), (-1.0, ValueError),
                                         (float("nan"), ValueError), (float("inf"), ValueError),
                                         ("0.1", TypeError), (None, TypeError),
                                         (True, TypeError)])
def test_a_schedule_that_gives_a_bad_rate_is_refused_naming_it(rate, error):
    net, X, y = make()
    net.fit(X, y, epochs=1, batch_size=2, learning_rate=0.1, momentum=0.5)
    before, state, history = params(net), net.training_state.optimizer, net.history

    class Bad:
        def rate(self, run):
            return rate

    with pytest.raises(error, match="schedule"):
        net.fit(X, y, epochs=2, batch_size=2, learning_rate=0.1, schedule=Bad(),
                optimizer="adam")
    assert_params(net, before, rtol=0)
    assert net.training_state.optimizer is state and net.history is history
    with pytest.raises(TypeError, match="schedule"):
        net.fit(X, y, epochs=1, batch_size=2, learning_rate=0.1, schedule=object())
