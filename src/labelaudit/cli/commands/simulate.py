"""labelaudit simulate and evaluate: datasets with known label errors, and scoring a detector on them."""

from __future__ import annotations

from typing import Annotated

import typer

from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import app, command, err
from labelaudit.errors import InputError


@app.command("simulate")
@command
def simulate(
    out_dir: Annotated[
        str,
        typer.Option(
            "--out-dir",
            "-o",
            help="Folder for labels.npy, true_labels.npy, pred_probs.npy, noise_matrix.npy, prior.npy.",
        ),
    ],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of examples.")] = 10000,
    k: Annotated[int, typer.Option("--k", min=2, help="Number of classes.")] = 10,
    noise_rate: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="Average share of wrong labels (sets the trace to K x (1 - rate))."
        ),
    ] = None,
    trace: Annotated[
        float | None, typer.Option(help="Trace of the noise matrix (overrides --noise-rate).")
    ] = None,
    frac_zero_noise_rates: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of off-diagonal noise rates that are exactly zero.")
    ] = 0.0,
    prior: Annotated[
        str,
        typer.Option(
            help="Class prior P(true): 'uniform', 'random' (Dirichlet), or a comma list of K values."
        ),
    ] = "uniform",
    sharpness: Annotated[
        float,
        typer.Option(
            min=0.01,
            help="pred_probs model: Dirichlet concentration on the true class (mean true-class probability s/(s+1)).",
        ),
    ] = 4.0,
    dtype: Annotated[str, typer.Option(help="pred_probs dtype: float32 or float64.")] = "float32",
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives byte-identical files.")] = 0,
    batch_size: o.BatchSize = None,
    fmt: o.Format = None,
    quiet: o.Quiet = False,
) -> None:
    """Write a noisy-label dataset with known errors, streamed to disk in bounded memory."""
    import os

    import numpy as np

    from labelaudit.core import simulate as sim
    from labelaudit.io import write_npy
    from labelaudit.io.writers import NpyStreamWriter

    if dtype not in ("float32", "float64"):
        raise InputError(f"--dtype must be float32 or float64, got {dtype!r}")
    if not os.path.isdir(out_dir):
        raise InputError(f"{out_dir}: output folder does not exist")
    rng = np.random.default_rng(seed)
    if prior == "uniform":
        py = np.full(k, 1.0 / k)
    elif prior == "random":
        py = rng.dirichlet(np.full(k, 5.0))
    else:
        try:
            py = np.array([float(v) for v in prior.split(",")])
        except ValueError:
            raise InputError(f"--prior must be 'uniform', 'random' or K numbers, got {prior!r}") from None
        if len(py) != k or py.min() <= 0:
            raise InputError(f"--prior needs K={k} positive numbers, got {prior!r}")
        py = py / py.sum()
    if trace is None:
        trace = k * (1 - (0.2 if noise_rate is None else noise_rate))
    nm = sim.noise_matrix_from_trace(k, trace, py=py, frac_zero_noise_rates=frac_zero_noise_rates, seed=seed)
    true_labels = rng.choice(k, size=n, p=py)
    labels = sim.noisy_labels(rng, true_labels, nm)
    rows = batch_size or max(1, (1 << 20) // k)
    path = lambda name: os.path.join(out_dir, name)  # noqa: E731
    with NpyStreamWriter(path("pred_probs.npy"), (n, k), dtype) as w:
        for start in range(0, n, rows):
            w.write(sim.pred_probs_block(rng, true_labels[start : start + rows], k, sharpness, dtype))
    write_npy(path("labels.npy"), labels.astype(np.int64))
    write_npy(path("true_labels.npy"), true_labels.astype(np.int64))
    write_npy(path("noise_matrix.npy"), nm)
    write_npy(path("prior.npy"), py)
    n_wrong = int(np.count_nonzero(labels != true_labels))
    summary = {
        "n": n,
        "k": k,
        "trace": float(np.trace(nm)),
        "n_label_errors": n_wrong,
        "error_rate": n_wrong / n,
        "noise_matrix_valid": sim.noise_matrix_is_valid(nm, py),
        "seed": seed,
        "out_dir": out_dir,
    }
    if render.resolve_format(fmt) == "json":
        render.print_json({"command": "simulate", **summary})
    elif not quiet:
        err(
            f"wrote {n} examples x {k} classes to {out_dir}: {n_wrong} wrong labels ({n_wrong / n:.2%}), "
            f"noise matrix trace {np.trace(nm):.4g}"
        )
