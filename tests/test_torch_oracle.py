"""fastbp against an implementation it shares no code with: PyTorch.

BP1-BP4 are checked against PyTorch's autograd of the same cost, and the optimisers
against ``torch.optim`` stepping the same parameters through the same mini-batches,
on generated networks (sizes, activations, output layer and cost, sample weights,
batch sizes that do not divide the data, L2). Everything in float64, so any
difference beyond rounding is a bug in one of the two. torch is not in the test
extra (see tests/test_interop.py): the tests skip without it on a developer machine
and fail under CI, which installs it.
"""
import os

import numpy as np
import pytest

import fastbp

IN_CI = os.environ.get("CI") == "true"
ACTS = ["sigmoid", "tanh", "relu", "identity"]


def need_torch():
    try:
        import torch
    except ImportError as exc:
        message = (f"torch is not installed ({exc}); pip install torch "
                   f"--index-url https://download.pytorch.org/whl/cpu (the CPU-only build)")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return torch


def torch_activation(torch, name):
    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
            "identity": lambda z: z, "softmax": lambda z: torch.softmax(z, dim=1)}[name]


def torch_cost(torch, cost, a, y):
    """Per-example cost C_x, (m,), of outputs a and targets y (both (m, n_L))."""
    if cost == "quadratic":
        return 0.5 * ((a - y) ** 2).sum(dim=1)
    if cost == "cross_entropy":
        return -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).sum(dim=1)
    return -(y * torch.log(a)).sum(dim=1)                        # log_likelihood


def random_case(rng):
    """A network, its data and targets, drawn from every supported pairing."""
    sizes = [int(n) for n in rng.integers(1, 12, size=rng.integers(2, 5))]
    cost = str(rng.choice(["quadratic", "cross_entropy", "log_likelihood"]))
    hidden = str(rng.choice(ACTS))
    if cost == "quadratic":
        output = str(rng.choice(ACTS + ["softmax"]))
    else:
        output = "sigmoid" if cost == "cross_entropy" else "softmax"
    if output == "softmax" or cost == "log_likelihood":
        sizes[-1] = max(sizes[-1], 2)
    m = int(rng.integers(1, 40))
    X = rng.normal(size=(m, sizes[0]))
    if cost == "log_likelihood":
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], m)]
    else:
        Y = rng.random((m, sizes[-1]))
    net = fastbp.Network(sizes, activation=hidden, output_activation=output, cost=cost,
                         seed=int(rng.integers(2**31)))
    return net, X, Y, hidden, output, cost


def torch_forward(torch, params, X, hidden, output):
    a = X
    layers = len(params) // 2
    for l in range(layers):
        w, b = params[2 * l], params[2 * l + 1]
        z = a @ w.T + b                                           # z^l = w^l a^{l-1} + b^l
        a = torch_activation(torch, output if l == layers - 1 else hidden)(z)
    return a


def as_torch(torch, net):
    """The network's parameters as torch leaves, in the order w^1, b^1, w^2, ..."""
    params = []
    for w, b in zip(net.weights, net.biases):
        params += [torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)]
    return params


@pytest.mark.parametrize("seed", range(40))
def test_backprop_equals_torch_autograd(seed):
    """``Network.backprop`` (BP1-BP4) is the gradient autograd finds for the mean cost,
    weighted by ``sample_weight`` when it is given."""
    torch = need_torch()
    rng = np.random.default_rng(seed)
    net, X, Y, hidden, output, cost = random_case(rng)
    S = rng.random(len(X)) + 0.1 if seed % 2 else None
    nabla_b, nabla_w = net.backprop(X, Y, sample_weight=S)

    params = as_torch(torch, net)
    per_example = torch_cost(torch, cost, torch_forward(torch, params, torch.tensor(X),
                                                        hidden, output), torch.tensor(Y))
    weights = torch.ones(len(X), dtype=torch.float64) if S is None else torch.tensor(S)
    ((per_example * weights).sum() / weights.sum()).backward()
    for l in range(len(net.weights)):
        for got, want in [(nabla_w[l], params[2 * l].grad), (nabla_b[l], params[2 * l + 1].grad)]:
            want = want.numpy()
            scale = max(np.abs(want).max(), 1e-300)
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * scale,
                                       err_msg=f"layer {l + 1}: {hidden}/{output}/{cost}")


OPTIMIZERS = [
    # (fastbp's fit options, torch.optim's class and options, given the learning rate)
    ("sgd", dict(optimizer="sgd"), lambda torch, lr: (torch.optim.SGD, dict(lr=lr))),
    ("momentum", dict(optimizer="sgd", momentum=0.9),
     lambda torch, lr: (torch.optim.SGD, dict(lr=lr, momentum=0.9))),
    ("nesterov", dict(optimizer="sgd", momentum=0.8, nesterov=True),
     lambda torch, lr: (torch.optim.SGD, dict(lr=lr, momentum=0.8, nesterov=True))),
    # fastbp's (and scikit-learn's) Adam adds epsilon to √v before the bias correction,
    # torch's after it: with a negligible epsilon the two rules are the same.
    ("adam", dict(optimizer="adam", beta_1=0.85, beta_2=0.99, epsilon=1e-300),
     lambda torch, lr: (torch.optim.Adam, dict(lr=lr, betas=(0.85, 0.99), eps=1e-300))),
]


@pytest.mark.parametrize("name, options, make", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
@pytest.mark.parametrize("seed", range(6))
def test_fit_steps_like_torch_optim(name, options, make, seed):
    """Three epochs of ``fit`` without shuffling equal torch.optim stepping the same
    parameters through the same mini-batches (the last one short), with L2 as torch's
    weight decay λ/n on the weights only."""
    torch = need_torch()
    rng = np.random.default_rng(100 + seed)
    net, X, Y, hidden, output, cost = random_case(rng)
    n = len(X)
    batch = int(rng.integers(1, n + 1))
    l2 = float(rng.choice([0.0, 0.5]))
    lr = float(rng.choice([0.01, 0.1]))
    params = as_torch(torch, net)
    cls, kwargs = make(torch, lr)
    opt = cls([{"params": params[0::2], "weight_decay": l2 / n},
               {"params": params[1::2], "weight_decay": 0.0}], **kwargs)
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    for _ in range(3):
        for start in range(0, n, batch):
            opt.zero_grad()
            a = torch_forward(torch, params, Xt[start:start + batch], hidden, output)
            torch_cost(torch, cost, a, Yt[start:start + batch]).mean().backward()
            opt.step()

    net.fit(X, Y, epochs=3, batch_size=batch, learning_rate=lr, shuffle=False, l2=l2,
            **options)
    for l in range(len(net.weights)):
        for got, want in [(net.weights[l], params[2 * l]), (net.biases[l], params[2 * l + 1])]:
            want = want.detach().numpy()
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11 * max(1, np.abs(want).max()),
                                       err_msg=f"{name}, layer {l + 1}: {hidden}/{output}/{cost}")
