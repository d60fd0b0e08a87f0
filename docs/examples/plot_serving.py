"""
Serving a trained network
=========================

A network trained with scikit-learn (or PyTorch, or read from ONNX) becomes a
``fastbp.Network``, which saves to a file without pickle and answers one request at a
time in a few microseconds. This example trains scikit-learn's own
``MLPClassifier``, moves it to fastbp, checks that both give the same probabilities,
and times one example through each.
"""
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.neural_network import MLPClassifier

import fastbp
from fastbp.datasets import load_digits

X, y = load_digits()
clf = MLPClassifier(hidden_layer_sizes=(30,), activation="logistic", max_iter=1000,
                    random_state=0).fit(X, y)

net = fastbp.Network.from_sklearn(clf)
print(net)
np.testing.assert_allclose(net.feedforward(X), clf.predict_proba(X), rtol=1e-12)

path = Path(tempfile.mkdtemp()) / "digits.npz"
net.save(path)                         # what the server loads; no pickle
server = fastbp.load(path)
x = X[0]                               # one request: a single example, shape (64,)
print("predicted digit:", clf.classes_[server.predict(x)])


# %%
# Time per request, one example at a time, as a server would call it. The figures
# are from the machine that built this page, which may have been busy; what
# matters is the ratio.
def per_call(function, argument, calls=2000, rounds=7):
    best = np.inf
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            function(argument)
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


row = X[:1]
timings = {"fastbp feedforward": per_call(server.feedforward, x),
           "scikit-learn predict_proba": per_call(clf.predict_proba, row)}
for name, microseconds in timings.items():
    print(f"{name}: {microseconds:.1f} µs per example")

fig, ax = plt.subplots(figsize=(6, 2.5), layout="constrained")
ax.barh(list(timings), list(timings.values()), color=["C0", "C1"])
ax.set(xlabel="µs per example (lower is better)", title="One example, [64, 30, 10]")
plt.show()
