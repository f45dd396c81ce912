"""labelaudit overlap: pairs of classes that the labels confuse most."""

from __future__ import annotations

from typing import Annotated

import typer

from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import GateFailed, app, command, err
from labelaudit.cli.commands._shared import emit_ci, load, stdout_listing

OVERLAP_OUTPUTS = (".json", ".csv", ".tsv", ".parquet", ".jsonl")


@app.command("overlap")
@command
def overlap(
    labels: o.Labels,
    pred_probs: o.PredProbs,
    asymmetric: Annotated[
        bool, typer.Option("--asymmetric", help="Report (given a, true b) and (given b, true a) separately.")
    ] = False,
    num_examples: Annotated[
        int | None, typer.Option(min=1, help="Scale overlap counts to this many examples (default: N).")
    ] = None,
    fail_over: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Fail (exit 1) when the largest joint probability exceeds FRACTION.",
            rich_help_panel="Gates (exit 1 when one fails)",
        ),
    ] = None,
    top: o.Top = None,
    output: o.Output = None,
    fmt: o.Format = None,
    label_column: o.LabelColumn = None,
    prob_columns: o.ProbColumns = None,
    class_names: o.ClassNames = None,
    id_column: o.IdColumn = None,
    from_logits: o.FromLogits = False,
    batch_size: o.BatchSize = None,
    n_jobs: o.NJobs = 1,
    quiet: o.Quiet = False,
) -> None:
    """Class pairs the labels confuse most: overlapping examples and joint probability, largest first."""
    from labelaudit.core import Context, HealthReport
    from labelaudit.io import check_output_path

    fmt_name = render.resolve_format(fmt)
    if output:
        check_output_path(output, OVERLAP_OUTPUTS)
    ds = load(labels, pred_probs, label_column, prob_columns, class_names, id_column, from_logits)
    rep = HealthReport(Context(ds.labels, ds.pred_probs, batch_size, n_jobs, ds.self_conf), num_examples)
    pairs = rep.pairs(asymmetric)
    largest = float(pairs["joint_probability"][0]) if len(pairs["joint_probability"]) else 0.0
    if top is not None:
        pairs = {k: v[:top] for k, v in pairs.items()}
    named = _named_pairs(pairs, ds.class_names)
    gates = []
    if fail_over is not None:
        gates.append(
            {"gate": "fail_over", "limit": fail_over, "value": largest, "passed": largest <= fail_over}
        )
    doc = render.report(
        "overlap",
        {"asymmetric": asymmetric, "num_examples": num_examples, "top": top, "fail_over": fail_over},
        ds,
        largest_joint_probability=largest,
        gates=gates,
        pairs=render.records(named),
    )
    if output:
        from labelaudit.io import write_json, write_rows

        if output.lower().endswith(".json"):
            write_json(output, doc)
        else:
            write_rows(output, named, fmt_name)
    if stdout_listing(output, fmt):
        if emit_ci(fmt_name, "overlap", gates, [], labels, f"largest joint probability {largest:.6f}"):
            pass
        elif fmt_name == "json":
            render.print_json(doc)
        elif fmt_name == "csv":
            render.print_csv(named)
        else:
            shown = pairs if top is not None else {k: v[: render.TERMINAL_ROWS] for k, v in pairs.items()}
            kind = "ordered" if asymmetric else "unordered"
            render.print_pairs(shown, ds.class_names, f"Most confused {kind} class pairs")
    elif output != "-" and not quiet:
        err(f"largest joint probability {largest:.6f}; wrote {output}")
    if gates and not gates[0]["passed"]:
        value, limit = render.gate_numbers(largest, fail_over)
        raise GateFailed(f"fail_over: largest joint probability {value} exceeds {limit}")


def _named_pairs(pairs: dict, class_names: list[str] | None) -> dict:
    out = {"class_a": pairs["class_a"], "class_b": pairs["class_b"]}
    if class_names is not None:
        import numpy as np

        names = np.asarray(class_names, dtype=object)
        out["name_a"], out["name_b"] = names[pairs["class_a"]], names[pairs["class_b"]]
    out["n_overlapping"] = pairs["n_overlapping"]
    out["joint_probability"] = pairs["joint_probability"]
    return out
