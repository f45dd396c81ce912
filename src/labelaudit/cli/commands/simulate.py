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
    fmt: o.SimFmt = None,
    quiet: o.Quiet = False,
) -> None:
    """Write a noisy-label dataset with known errors, streamed to disk in bounded memory."""
    import os

    from labelaudit.core.formats import document
    from labelaudit.core.simulate import simulate as draw
    from labelaudit.io.writers import check_simulation_room, write_simulation

    if dtype not in ("float32", "float64"):
        raise InputError(f"--dtype must be float32 or float64, got {dtype!r}")
    if not os.path.isdir(out_dir):
        raise InputError(f"{out_dir}: output folder does not exist (create it first: mkdir -p {out_dir})")
    check_simulation_room(out_dir, n, k, dtype)
    weights = prior if prior in ("uniform", "random") else number_list(prior, "--prior", float)
    drawn = dict(noise_rate=noise_rate, trace=trace, frac_zero_noise_rates=frac_zero_noise_rates, seed=seed)
    sim = draw(n, k, prior=weights or prior, **drawn)  # type: ignore[arg-type]
    with render.PassProgress(n, render.progress_enabled(quiet)) as bar:
        write_simulation(out_dir, sim, sharpness, dtype, batch_size or max(1, (1 << 20) // k), bar)
    params = {"n": n, "k": k, **drawn, "prior": prior, "sharpness": sharpness, "dtype": dtype}
    report = sim.report(params, out_dir, list(FILES))
    if fmt == o.SimFormat.json:
        render.print_json(document(report, []))
    elif not quiet:
        err(report.headline)
