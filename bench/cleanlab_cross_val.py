"""The reference side of the cross-val benchmark: what a user would write with cleanlab.

Usage:
    python bench/cleanlab_cross_val.py FEATURES.npy LABELS.npy OUT.npy FOLDS SEED

Imports cleanlab and scikit-learn, loads both inputs, calls
cleanlab.count.estimate_cv_predicted_probabilities(X, y, clf=LogisticRegression(), cv_n_folds=FOLDS,
seed=SEED) and saves the (N, K) pred_probs, as `labelaudit cross-val -o OUT.npy` does. bench/run.py times
the whole process and reads its peak RSS.
"""

import sys
import warnings

import numpy as np
from cleanlab.count import estimate_cv_predicted_probabilities
from sklearn.linear_model import LogisticRegression

warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning, once per fold
x = np.load(sys.argv[1])
y = np.load(sys.argv[2])
folds, seed = int(sys.argv[4]), int(sys.argv[5])
p = estimate_cv_predicted_probabilities(x, y, clf=LogisticRegression(), cv_n_folds=folds, seed=seed)
np.save(sys.argv[3], p)
