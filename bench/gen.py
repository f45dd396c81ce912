"""Generate benchmark inputs: labels.npy (int64, N) and pred_probs.npy (float32, N x K).

Usage:
    python bench/gen.py 1Mx10 [10Mx10 ...] [--data-dir bench/.work/data] [--seed 0] [--force]

Each size goes to DATA_DIR/<N>x<K>/ (default bench/.work/data, git-ignored). Rows are written in
chunks straight into memory-mapped .npy files, so generating 10M x 10 needs far less memory than
the file.

The data imitate a real classifier's out-of-sample probabilities on noisily labelled data:
  - every row has a true class, uniform over K;
  - the "model" favours the true class on 90% of rows and some other class on the rest
    (its mistakes); the favoured class gets a boosted Dirichlet concentration;
  - the given label equals the true class on 90% of rows and is flipped to a different
    uniformly chosen class on the other 10%.
Probabilities are mixed with a tiny uniform floor (no exact zeros), cast to float32 and
renormalised in float32, so each row sums to 1 within float32 rounding.

Output is deterministic for a given (N, K, seed), independent of the chunk size.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / ".work" / "data"  # git-ignored (bench/.gitignore)
GEN_VERSION = 1
LABEL_NOISE = 0.10
MODEL_ERROR = 0.10
ALPHA_FAVOURED = 10.0
ALPHA_OTHERS_TOTAL = 10.0  # concentration spread over the K-1 other classes
FLOOR = 1e-4  # weight of the uniform mixture, keeps every probability > 0
BLOCK = 65536  # rows per independently seeded block (fixes determinism, not memory)


def parse_size(text: str) -> tuple[int, int]:
    """'1Mx10' -> (1_000_000, 10); accepts k/M/G suffixes on N and K."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)([kKmMgG]?)\s*[xX]\s*(\d+)([kK]?)\s*", text)
    if not m:
        raise ValueError(f"bad size {text!r}; expected e.g. 1Mx10, 200kx1000")
    mult = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
    n = int(round(float(m.group(1)) * mult[m.group(2).lower()]))
    k = int(m.group(3)) * mult[m.group(4).lower()]
    if n < 1 or k < 2:
        raise ValueError(f"bad size {text!r}: need N >= 1 and K >= 2")
    return n, k


def size_name(n: int, k: int) -> str:
    for div, suf in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if n >= div and n % div == 0:
            return f"{n // div}{suf}x{k}"
    return f"{n}x{k}"


def _block(n_rows: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(n_rows)
    true = rng.integers(0, k, size=n_rows)

    # Which class the model favours: the true one, or (its mistakes) another one.
    wrong = rng.random(n_rows) < MODEL_ERROR
    favoured = np.where(wrong, (true + rng.integers(1, k, size=n_rows)) % k, true)

    # Dirichlet with a boosted favoured class, drawn as normalised Gamma variates.
    g = rng.standard_gamma(ALPHA_OTHERS_TOTAL / (k - 1), size=(n_rows, k))
    g[rows, favoured] = rng.standard_gamma(ALPHA_FAVOURED, size=n_rows)
    p = g / g.sum(axis=1, keepdims=True)
    p = (1.0 - FLOOR) * p + FLOOR / k
    p32 = p.astype(np.float32)
    p32 /= p32.sum(axis=1, keepdims=True, dtype=np.float32)

    flip = rng.random(n_rows) < LABEL_NOISE
    labels = np.where(flip, (true + rng.integers(1, k, size=n_rows)) % k, true).astype(np.int64)
    return labels, p32


def generate(n: int, k: int, out_dir: Path, seed: int = 0, force: bool = False, verbose: bool = True) -> Path:
    """Write out_dir/labels.npy and out_dir/pred_probs.npy; skip when already there with the same meta."""
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {"n": n, "k": k, "seed": seed, "gen_version": GEN_VERSION}
    meta_path = out_dir / "meta.json"
    lp, pp = out_dir / "labels.npy", out_dir / "pred_probs.npy"
    if not force and meta_path.exists() and lp.exists() and pp.exists():
        try:
            if json.loads(meta_path.read_text()) == meta:
                return out_dir
        except ValueError:
            pass
    meta_path.unlink(missing_ok=True)

    t0 = time.perf_counter()
    labels = np.lib.format.open_memmap(lp, mode="w+", dtype=np.int64, shape=(n,))
    probs = np.lib.format.open_memmap(pp, mode="w+", dtype=np.float32, shape=(n, k))
    # Fixed-size blocks, each with its own child seed, so the bytes never depend on memory
    # settings; a block of 65536 x 1000 float64 is ~0.5 GB of temporaries at worst.
    block = max(1, min(BLOCK, (64 * 2**20) // (8 * k)))
    seeds = np.random.SeedSequence([seed, n, k]).spawn((n + block - 1) // block)
    for i, ss in enumerate(seeds):
        lo, hi = i * block, min(n, (i + 1) * block)
        lab, pr = _block(hi - lo, k, np.random.default_rng(ss))
        labels[lo:hi] = lab
        probs[lo:hi] = pr
    labels.flush()
    probs.flush()
    del labels, probs
    meta_path.write_text(json.dumps(meta) + "\n")
    if verbose:
        print(f"generated {out_dir} ({n} x {k}) in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return out_dir


def ensure(size: str, data_dir: Path, seed: int = 0, force: bool = False) -> tuple[Path, Path]:
    n, k = parse_size(size)
    d = generate(n, k, data_dir / size_name(n, k), seed=seed, force=force)
    return d / "labels.npy", d / "pred_probs.npy"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate labelaudit benchmark inputs.")
    ap.add_argument("sizes", nargs="+", help="sizes like 1Mx10 200kx1000 (or one comma list)")
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="regenerate even if the files exist")
    args = ap.parse_args(argv)
    for arg in args.sizes:
        for size in filter(None, arg.split(",")):
            lp, pp = ensure(size, args.data_dir, seed=args.seed, force=args.force)
            print(lp.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
