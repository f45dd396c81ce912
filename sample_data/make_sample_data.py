"""Regenerate everything under sample_data/.

Usage:
    python sample_data/make_sample_data.py [REAL_DATA_DIR]

REAL_DATA_DIR defaults to /work/shared/data/real and must contain cifar10/ with
labels.npy, pred_probs.npy, class_names.txt and mturk_reviews.csv.

Writes (next to this script):
    cifar10/labels.npy, cifar10/pred_probs.npy, cifar10/class_names.txt, cifar10/mturk_reviews.csv
        copied byte for byte from REAL_DATA_DIR/cifar10/
    cifar10/cifar10.csv, cifar10/cifar10.parquet
        the same data as one table: id, label (class name), one float64 column per class
    synthetic/labels.npy, synthetic/pred_probs.npy, synthetic/true_labels.npy, synthetic/class_names.txt
        a small generated set (N=2000, K=4) with about 10% of labels flipped

The script is deterministic: running it twice gives byte-identical files (for the same
numpy/pandas/pyarrow versions).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_REAL = Path("/work/shared/data/real")
CIFAR_FILES = ("labels.npy", "pred_probs.npy", "class_names.txt", "mturk_reviews.csv")

SYNTH_N = 2000
SYNTH_K = 4
SYNTH_NOISE = 0.10
SYNTH_CLASSES = ("class_0", "class_1", "class_2", "class_3")


def _read_class_names(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def make_cifar10(real_dir: Path, out_dir: Path) -> None:
    import pandas as pd

    src = real_dir / "cifar10"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in CIFAR_FILES:
        shutil.copyfile(src / name, out_dir / name)

    labels = np.load(out_dir / "labels.npy")
    pred_probs = np.load(out_dir / "pred_probs.npy")
    class_names = _read_class_names(out_dir / "class_names.txt")
    n, k = pred_probs.shape
    if labels.shape != (n,) or len(class_names) != k:
        raise SystemExit(
            f"inconsistent cifar10 inputs: labels {labels.shape}, pred_probs {pred_probs.shape}, "
            f"{len(class_names)} class names"
        )

    table = pd.DataFrame(
        {"id": np.arange(n, dtype=np.int64), "label": np.asarray(class_names, dtype=object)[labels]}
    )
    for j, name in enumerate(class_names):
        table[name] = pred_probs[:, j]

    # pandas writes floats with Python's repr (shortest string that round-trips), so
    # reading the CSV back gives bit-identical float64 values; checked below.
    csv_path = out_dir / "cifar10.csv"
    table.to_csv(csv_path, index=False, lineterminator="\n")
    pq_path = out_dir / "cifar10.parquet"
    table.to_parquet(pq_path, index=False, engine="pyarrow")

    for path, back in ((csv_path, pd.read_csv(csv_path)), (pq_path, pd.read_parquet(pq_path))):
        got = back[class_names].to_numpy(dtype=np.float64)
        if not np.array_equal(got.view(np.int64), pred_probs.view(np.int64)):
            raise SystemExit(f"{path}: probabilities do not round-trip bit for bit")
        if not (back["label"].to_numpy() == table["label"].to_numpy()).all():
            raise SystemExit(f"{path}: labels do not round-trip")
        if not np.array_equal(back["id"].to_numpy(), table["id"].to_numpy()):
            raise SystemExit(f"{path}: ids do not round-trip")


def make_synthetic(out_dir: Path) -> None:
    rng = np.random.default_rng(0)
    n, k = SYNTH_N, SYNTH_K
    true_labels = rng.integers(0, k, size=n).astype(np.int64)

    # A "model" that is usually right about the true class: Dirichlet with the true
    # class's concentration boosted, so the argmax is the true class most of the time.
    alpha = np.full((n, k), 0.5)
    alpha[np.arange(n), true_labels] = 4.0
    # Dirichlet(alpha_i) per row, sampled as normalised Gamma(alpha_i) draws because
    # Generator.dirichlet takes one alpha vector for all rows.
    gam = rng.standard_gamma(alpha)
    pred_probs = gam / gam.sum(axis=1, keepdims=True)

    # Flip about 10% of the given labels to a different, uniformly chosen class.
    flip = rng.random(n) < SYNTH_NOISE
    offset = rng.integers(1, k, size=n)
    labels = np.where(flip, (true_labels + offset) % k, true_labels).astype(np.int64)

    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "labels.npy", labels)
    np.save(out_dir / "pred_probs.npy", pred_probs.astype(np.float64))
    np.save(out_dir / "true_labels.npy", true_labels)
    (out_dir / "class_names.txt").write_text("".join(f"{c}\n" for c in SYNTH_CLASSES))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "real_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_REAL,
        help=f"directory holding cifar10/ (default: {DEFAULT_REAL})",
    )
    args = ap.parse_args(argv)
    make_cifar10(args.real_dir, HERE / "cifar10")
    make_synthetic(HERE / "synthetic")
    print(f"wrote {HERE / 'cifar10'} and {HERE / 'synthetic'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
