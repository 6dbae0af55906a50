"""SNPCNNClassifier (two classes, the default model) against a logistic regression on a
simulated additive case/control trait: 300 samples x 60 SNPs, 6 additive loci, the top 40 % of
a liability are cases; the first 200 train, the last 100 are scored (ROC AUC).  Run once per
code tree to compare versions:

    PYTHONPATH=OLD_CHECKOUT python benchmarks/bench_classifier.py old
    python benchmarks/bench_classifier.py new
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from snpcnn.estimator import SNPCNNClassifier


def main(label: str) -> None:
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(3)
    X = rng.integers(0, 3, size=(300, 60)).astype(np.int8)
    liability = X[:, :6] @ rng.normal(size=6) + rng.normal(scale=1.0, size=300)
    y = np.where(liability > np.quantile(liability, 0.6), "case", "control")
    truth = y[200:] == "control"
    for epochs in (2, 30):
        est = SNPCNNClassifier(epochs=epochs, random_state=0).fit(X[:200], y[:200])
        auc = roc_auc_score(truth, est.predict_proba(X[200:])[:, 1])
        print(f"{label}: SNPCNNClassifier, {epochs} epochs: test AUC {auc:.3f}")
    lr = LogisticRegression(max_iter=1000).fit(X[:200], y[:200])
    print(
        f"logistic regression: test AUC {roc_auc_score(truth, lr.predict_proba(X[200:])[:, 1]):.3f}"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "this tree")
