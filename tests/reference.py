"""A plain NumPy implementation of the book's equations: the test oracle.

Written independently of the engine on purpose: it keeps z^l and computes σ'(z) from
z, and BP1 always uses the general form ∇_a C ⊙ σ'(z^L) (a Jacobian product for the
softmax), never the simplified δ^L = a^L - y that the engine uses for the
cross-entropy and log-likelihood pairings. Examples are rows.
"""
import numpy as np


def sigma(name, z):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "identity":
        return z.copy()
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


def sigma_prime_times(name, z, g):
    """J_σ(z)ᵀ g for each row: σ'(z) ⊙ g for element-wise σ."""
    if name == "sigmoid":
        s = sigma("sigmoid", z)
        return g * s * (1 - s)
    if name == "tanh":
        return g * (1 - np.tanh(z) ** 2)
    if name == "relu":
        return g * (z > 0)
    if name == "identity":
        return g
    if name == "softmax":
        a = sigma("softmax", z)
        return a * (g - (g * a).sum(axis=1, keepdims=True))
    raise ValueError(name)


def cost_per_example(cost, A, Y):
    if cost == "quadratic":
        return 0.5 * ((Y - A) ** 2).sum(axis=1)
    if cost == "cross_entropy":
        return -(Y * np.log(A) + (1 - Y) * np.log(1 - A)).sum(axis=1)
    if cost == "log_likelihood":
        return -(Y * np.log(A)).sum(axis=1)
    raise ValueError(cost)


def cost_gradient(cost, A, Y):
    """∇_a C_x for each row."""
    if cost == "quadratic":
        return A - Y
    if cost == "cross_entropy":
        return (A - Y) / (A * (1 - A))
    if cost == "log_likelihood":
        return -Y / A
    raise ValueError(cost)


def forward(weights, biases, X, hidden, output):
    """Return (zs, activations): z^l for l = 1..L and a^l for l = 0..L."""
    a = X
    zs, activations = [], [X]
    for l, (w, b) in enumerate(zip(weights, biases), start=1):
        z = a @ w.T + b
        a = sigma(output if l == len(weights) else hidden, z)
        zs.append(z)
        activations.append(a)
    return zs, activations


def feedforward(weights, biases, X, hidden, output):
    return forward(weights, biases, X, hidden, output)[1][-1]


def total_cost(weights, biases, X, Y, hidden, output, cost):
    A = feedforward(weights, biases, X, hidden, output)
    return cost_per_example(cost, A, Y).mean()


def backprop(weights, biases, X, Y, hidden, output, cost):
    """(nabla_b, nabla_w) of the mean cost over the rows of X, by BP1–BP4."""
    m = X.shape[0]
    zs, activations = forward(weights, biases, X, hidden, output)
    L = len(weights)
    nabla_b, nabla_w = [None] * L, [None] * L
    delta = sigma_prime_times(output, zs[-1], cost_gradient(cost, activations[-1], Y))  # BP1
    for l in range(L, 0, -1):
        nabla_b[l - 1] = delta.sum(axis=0) / m                    # BP3
        nabla_w[l - 1] = delta.T @ activations[l - 1] / m         # BP4
        if l > 1:
            delta = sigma_prime_times(hidden, zs[l - 2], delta @ weights[l - 1])  # BP2
    return nabla_b, nabla_w


def sgd(weights, biases, X, Y, batch_size, eta, hidden, output, cost, orders):
    """Mini-batch SGD over the row orders given (one per epoch); returns new parameters."""
    weights = [w.copy() for w in weights]
    biases = [b.copy() for b in biases]
    for order in orders:
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            nb, nw = backprop(weights, biases, X[rows], Y[rows], hidden, output, cost)
            weights = [w - eta * g for w, g in zip(weights, nw)]
            biases = [b - eta * g for b, g in zip(biases, nb)]
    return weights, biases


def one_hot(labels, n):
    Y = np.zeros((len(labels), n))
    Y[np.arange(len(labels)), labels] = 1
    return Y
