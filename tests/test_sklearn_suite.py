"""scikit-learn's own MLP tests, run against fastbp.sklearn.

The installed ``sklearn/neural_network/tests/test_mlp.py`` is copied with one change,
its import line, so that every test in it builds fastbp's MLPClassifier and
MLPRegressor; it then runs in a separate pytest process. Every test must pass except
those that read or write a private name of scikit-learn's implementation, each listed
in ``PRIVATE`` with the name it needs; those must still fail, and on that name (so a
failure for any other reason is caught too).
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

if os.environ.get("CI") == "true":
    import sklearn  # noqa: F401  (CI installs the extra: fail, don't skip)
else:
    pytest.importorskip("sklearn", minversion="1.9")

import sklearn.neural_network.tests.test_mlp as _sk_test_mlp  # noqa: E402

SK_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"
FASTBP_IMPORT = "from fastbp.sklearn import MLPClassifier, MLPRegressor\n"

# Tests that need scikit-learn's private implementation, with the private name each
# one touches (the failure message must mention it).
PRIVATE = {
    # The private loss-and-gradient method that scikit-learn's lbfgs calls.
    "test_gradient": "_loss_grad_lbfgs",
    # Sets scikit-learn's private training buffers (_coef_grads, _intercept_grads,
    # _coef_velocity, ...) on an unfitted estimator and edits the coefs_ list in
    # place before partial_fit; fastbp's coefs_ are views of a fitted network.
    "test_fit": "network_",
    # The learning rate as scikit-learn's private optimizer object holds it.
    "test_learning_rate_warmstart": "_optimizer",
    "test_adaptive_learning_rate": "_optimizer",
}

@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """{test id: (outcome, message)} of scikit-learn's test_mlp.py on fastbp."""
    source = open(_sk_test_mlp.__file__, encoding="utf-8").read()
    assert source.count(SK_IMPORT) == 1, "scikit-learn's test file changed its import"
    rewritten = source.replace(SK_IMPORT, FASTBP_IMPORT)
    assert "sklearn.neural_network import" not in rewritten
    directory = tmp_path_factory.mktemp("sklearn_suite")
    (directory / "test_mlp.py").write_text(rewritten, encoding="utf-8")
    report = directory / "report.xml"
    # Outside the repository, so the source tree cannot shadow the installed fastbp.
    proc = subprocess.run(
        # scikit-learn's conftest gives the file its fixtures (global_random_seed).
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "sklearn.conftest", f"--junitxml={report}", "test_mlp.py"],
        cwd=directory, capture_output=True, text=True, timeout=1800)
    assert report.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    results = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
                message = (child.get("message") or "") + "\n" + (child.text or "")
                break
        results[case.get("name")] = (outcome, message)
    return results


def test_the_whole_file_ran(suite):
    # scikit-learn 1.9's file holds 59 tests; a collection error would hold none.
    assert len(suite) >= 59
    for name in PRIVATE:
        assert name in suite, f"{name} is not in scikit-learn's test file any more"


def test_every_test_passes_but_the_private_ones(suite):
    unexpected = {name: outcome + ": " + message.strip().splitlines()[0]
                  for name, (outcome, message) in suite.items()
                  if outcome != "passed" and name not in PRIVATE}
    assert not unexpected, "\n".join(f"{k}: {v}" for k, v in unexpected.items())


@pytest.mark.parametrize("name", sorted(PRIVATE))
def test_private_tests_fail_on_their_private_name(suite, name):
    outcome, message = suite[name]
    assert outcome == "failure", f"{name} {outcome}: remove it from PRIVATE"
    assert PRIVATE[name] in message, message
