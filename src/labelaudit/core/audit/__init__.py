"""Multi-issue data audit (the data-centric workflow): per example a score in [0, 1] (lower is worse) and a
flag for each issue type, per type a dataset score. See /work/shared/spec/audit.md for the definitions."""
