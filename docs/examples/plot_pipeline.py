"""
An estimator in a scikit-learn pipeline
=======================================

``fastbp.sklearn.MLPClassifier`` takes scikit-learn's parameters and works anywhere a
scikit-learn classifier does. Here it is in a pipeline with a scaler, in a grid
search over the L2 penalty ``alpha`` and the initial learning rate, on the 8×8 digits
that ship with fastbp.
"""
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastbp.datasets import load_digits
from fastbp.sklearn import MLPClassifier

# The grid's slower learning rate does not converge within max_iter for every alpha,
# and scikit-learn's rule warns about each such fit; the search still compares them.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

pipe = make_pipeline(StandardScaler(),
                     MLPClassifier(hidden_layer_sizes=(64,), max_iter=300, random_state=0))
search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2, 1.0],
                             "mlpclassifier__learning_rate_init": [1e-3, 1e-2]}, cv=3)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"test accuracy: {search.score(X_test, y_test):.2%}")

# %%
# Mean cross-validated accuracy for each pair of parameters.
results = search.cv_results_
scores = np.array(results["mean_test_score"]).reshape(3, 2)
fig, ax = plt.subplots(figsize=(4.5, 3.5), layout="constrained")
image = ax.imshow(100 * scores, cmap="viridis")
ax.set(xticks=[0, 1], xticklabels=["1e-3", "1e-2"], yticks=[0, 1, 2],
       yticklabels=["1e-4", "1e-2", "1"], xlabel="learning_rate_init", ylabel="alpha",
       title="Cross-validated accuracy (%)")
for (i, j), value in np.ndenumerate(100 * scores):
    ax.text(j, i, f"{value:.1f}", ha="center", va="center", color="w")
fig.colorbar(image)

# %%
# The errors of the best pipeline on the held-out digits.
ConfusionMatrixDisplay.from_estimator(search.best_estimator_, X_test, y_test)
plt.show()
