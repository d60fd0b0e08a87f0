"""Single-example latency of one fitted model served three ways, on one thread.

A scikit-learn MLPClassifier [784, 30, 10] (logistic hidden layer, softmax output) is
fitted briefly on random data, then one example at a time goes through

- fastbp: ``Network.from_sklearn(clf).feedforward(x)`` (x of shape (784,));
- onnxruntime: ``fastbp.onnx.to_onnx(net)`` in an InferenceSession, 1 intra-op
  thread, input (1, 784);
- torch: the same weights in ``nn.Sequential(Linear, Sigmoid, Linear, Softmax)``
  under ``torch.inference_mode()``, ``torch.set_num_threads(1)``, input (1, 784);

in float64 and float32. Each is timed as the median over ``--repeats`` rounds of the
mean of ``--calls`` back-to-back calls (time.perf_counter), after a warm-up.
Outputs are checked to agree first. Run from the repository root:

    python benchmarks/serving_latency.py [--repeats 21] [--calls 2000]

Thread limits (OMP/OpenBLAS/MKL_NUM_THREADS=1) are set here before numpy loads.
"""
import argparse
import os
import platform
import statistics
import time
import warnings

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402


def timed(fn, x, repeats, calls):
    for _ in range(max(100, calls // 10)):
        fn(x)
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn(x)
        rounds.append((time.perf_counter() - start) / calls)
    return statistics.median(rounds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    import onnxruntime as ort
    import sklearn
    import torch
    from sklearn.neural_network import MLPClassifier

    import fastbp
    from fastbp.onnx import to_onnx

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.random((500, 784))
    y = rng.integers(0, 10, 500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden_layer_sizes=(30,), activation="logistic",
                            max_iter=3, random_state=0).fit(X, y)
    print(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, onnxruntime "
          f"{ort.__version__}, torch {torch.__version__}, python "
          f"{platform.python_version()}, {platform.machine()}")
    print(f"{'dtype':8} {'fastbp feedforward':>20} {'onnxruntime':>14} {'torch':>10}"
          f"   (microseconds per example, [784, 30, 10], 1 thread)")
    for dtype in ("float64", "float32"):
        net = fastbp.Network.from_sklearn(clf, dtype=dtype)
        x = np.ascontiguousarray(X[0], dtype=dtype)
        x2 = x.reshape(1, -1)

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        sess = ort.InferenceSession(to_onnx(net).SerializeToString(), options,
                                    providers=["CPUExecutionProvider"])
        feed_name = sess.get_inputs()[0].name

        def run_ort(x2, sess=sess, name=feed_name):
            return sess.run(None, {name: x2})[0]

        tdtype = getattr(torch, dtype)
        module = torch.nn.Sequential(torch.nn.Linear(784, 30), torch.nn.Sigmoid(),
                                     torch.nn.Linear(30, 10), torch.nn.Softmax(dim=-1))
        module = module.to(tdtype).eval()
        with torch.no_grad():
            for i, w, b in ((0, net.weights[0], net.biases[0]),
                            (2, net.weights[1], net.biases[1])):
                module[i].weight.copy_(torch.from_numpy(w))
                module[i].bias.copy_(torch.from_numpy(b))
        tx = torch.from_numpy(x2)

        def run_torch(tx, module=module):
            with torch.inference_mode():
                return module(tx)

        expected = clf.predict_proba(X[:1])[0]
        tol = 1e-12 if dtype == "float64" else 1e-5
        for got in (net.feedforward(x), run_ort(x2)[0], run_torch(tx).numpy()[0]):
            np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)

        t_fastbp = timed(net.feedforward, x, args.repeats, args.calls)
        t_ort = timed(run_ort, x2, args.repeats, args.calls)
        t_torch = timed(run_torch, tx, args.repeats, args.calls)
        print(f"{dtype:8} {t_fastbp * 1e6:20.2f} {t_ort * 1e6:14.2f} "
              f"{t_torch * 1e6:10.2f}")


if __name__ == "__main__":
    main()
