"""labelaudit simulate: a noisy-label dataset with known errors, streamed to disk."""

from __future__ import annotations

from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import app, command, err
from labelaudit.cli.common import number_list
from labelaudit.errors import InputError

FILES = ("pred_probs.npy", "labels.npy", "true_labels.npy", "noise_matrix.npy", "prior.npy")


@app.command("simulate")
@command
def simulate(
    out_dir: o.OutDir,
    n: o.SimN = 10000,
    k: o.SimK = 10,
    noise_rate: o.NoiseRate = None,
    trace: o.Trace = None,
    frac_zero_noise_rates: o.FracZero = 0.0,
    prior: o.Prior = "uniform",
    sharpness: o.Sharpness = 4.0,
    dtype: o.Dtype = "float32",
    seed: o.Seed = 0,
    batch_size: o.BatchSize = None,
    fmt: o.Format = None,
    quiet: o.Quiet = False,
) -> None:
    """Write a noisy-label dataset with known errors, streamed to disk in bounded memory."""
    import os

    import numpy as np

    from labelaudit.core.simulate import simulate as draw
    from labelaudit.io import write_npy
    from labelaudit.io.writers import NpyStreamWriter

    if dtype not in ("float32", "float64"):
        raise InputError(f"--dtype must be float32 or float64, got {dtype!r}")
    if not os.path.isdir(out_dir):
        raise InputError(f"{out_dir}: output folder does not exist (create it first: mkdir -p {out_dir})")
    weights = prior if prior in ("uniform", "random") else number_list(prior, "--prior", float)
    sim = draw(
        n,
        k,
        noise_rate=noise_rate,
        trace=trace,
        frac_zero_noise_rates=frac_zero_noise_rates,
        prior=weights or prior,
        seed=seed,
    )
    path = dict(zip(FILES, (os.path.join(out_dir, name) for name in FILES), strict=True))
    with NpyStreamWriter(path["pred_probs.npy"], (n, k), dtype) as w:
        for block in sim.pred_probs_blocks(sharpness, dtype, batch_size or max(1, (1 << 20) // k)):
            w.write(block)
    write_npy(path["labels.npy"], sim.labels.astype(np.int64))
    write_npy(path["true_labels.npy"], sim.true_labels.astype(np.int64))
    write_npy(path["noise_matrix.npy"], sim.noise_matrix)
    write_npy(path["prior.npy"], sim.prior)
    summary = {**sim.summary(seed), "out_dir": out_dir}
    if render.resolve_format(fmt) == "json":
        render.print_json({"command": "simulate", **summary})
    elif not quiet:
        err(
            f"wrote {n} examples x {k} classes to {out_dir}: {summary['n_label_errors']} wrong labels "
            f"({summary['error_rate']:.2%}), noise matrix trace {summary['trace']:.4g}"
        )
