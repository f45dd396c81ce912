"""Numerical constants of confident learning that decide results (clips, slacks, floors)."""

EPS = 1e-6  # slack of threshold comparisons and of the "prediction matches label" nudge
T_MIN = 2e-6  # lower clip of every class threshold
BIG = 2  # threshold of a class with no labelled example (an int: it forces float64 thresholds)
TINY = 1e-100  # lower clip of denominators in count algebra
C_MIN = 1e-6  # lower clip of priors and of self-confidence in entropy scores
NR_MAX = 0.9999  # upper clip of off-diagonal noise rates
PY_MIN_CONV = 1e-5  # lower clip of the prior after the convergence loop
