"""labelaudit health: dataset-level label health, per-class quality and the noise matrices."""

from __future__ import annotations

from typing import Annotated

import typer

from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import GateFailed, app, command, err
from labelaudit.cli.commands._shared import emit_ci, load, stdout_listing
from labelaudit.errors import InputError

HEALTH_OUTPUTS = (".json", ".csv", ".tsv", ".parquet", ".jsonl")


@app.command("health")
@command
def health(
    labels: o.Labels,
    pred_probs: o.PredProbs,
    num_examples: Annotated[
        int | None, typer.Option(min=1, help="Scale issue counts to this many examples (default: N).")
    ] = None,
    fail_under: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Fail (exit 1) when the health score is below SCORE.",
            rich_help_panel="Gates (exit 1 when one fails)",
        ),
    ] = None,
    plot: Annotated[
        str | None,
        typer.Option(
            help="Write a noise-matrix heatmap and a histogram of label quality scores (.png or .svg; needs labelaudit[plot]).",
            rich_help_panel=o.OUTPUT,
        ),
    ] = None,
    task: o.TaskOpt = o.Task.multiclass,
    sentence_lengths: o.SentenceLengths = None,
    tokens: o.TokensColumn = None,
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
    """Overall label health score, per-class label quality, and the joint and noise matrices.

    The health score is 1 - (number of label issues) / N; the class table is sorted most problematic
    class first. A .json output holds the full report; .csv/.parquet outputs hold the class table.
    """
    from labelaudit.core import Context, HealthReport
    from labelaudit.io import check_output_path

    fmt_name = render.resolve_format(fmt)
    if output:
        check_output_path(output, HEALTH_OUTPUTS)
    if plot:
        _check_plot(plot)
    if task != o.Task.multiclass:
        from labelaudit.cli.commands import tasks

        common = {
            "output": output,
            "fmt": fmt,
            "fmt_name": fmt_name,
            "fail_under": fail_under,
            "quiet": quiet,
        }
        if task == o.Task.multilabel:
            tasks.ml_health(
                tasks.load_ml(labels, [pred_probs], label_column, prob_columns, class_names), **common
            )
        else:
            ds = tasks.load_tok(labels, [pred_probs], sentence_lengths, label_column, tokens, class_names)
            tasks.tok_health(ds, **common)
        return
    ds = load(labels, pred_probs, label_column, prob_columns, class_names, id_column, from_logits)
    ctx = Context(ds.labels, ds.pred_probs, batch_size, n_jobs, ds.self_conf)
    rep = HealthReport(ctx, num_examples)
    classes = render.named_classes(rep.classes, ds.class_names)
    gates = []
    if fail_under is not None:
        gates.append(
            {
                "gate": "fail_under",
                "limit": fail_under,
                "value": rep.health_score,
                "passed": rep.health_score >= fail_under,
            }
        )
    doc = render.report(
        "health",
        {"num_examples": num_examples, "fail_under": fail_under},
        ds,
        n_issues=rep.num_issues,
        issue_rate=rep.num_issues / ds.n,
        health_score=rep.health_score,
        gates=gates,
        classes=render.records(classes),
        confident_joint=rep.confident_joint.tolist(),
        joint=rep.joint.tolist(),
        noise_matrix=rep.noise_matrix.tolist(),
        inverse_noise_matrix=rep.inverse_noise_matrix.tolist(),
        prior=rep.prior.tolist(),
    )
    if output:
        from labelaudit.io import write_json, write_rows

        if output.lower().endswith(".json"):
            write_json(output, doc)
        else:
            write_rows(output, classes, fmt_name)
    if plot:
        from labelaudit.core import scores_for_rows
        from labelaudit.io.plots import write_health_plot

        scores = scores_for_rows(ctx, None, "self_confidence")
        write_health_plot(plot, rep.noise_matrix, scores, ds.class_names)
    if stdout_listing(output, fmt):
        if emit_ci(
            fmt_name,
            "health",
            gates,
            [],
            labels,
            f"label health score {rep.health_score:.4f} ({rep.num_issues} issues in {ds.n} examples)",
        ):
            pass
        elif fmt_name == "json":
            render.print_json(doc)
        elif fmt_name == "csv":
            render.print_csv(classes)
        else:
            score_style = (
                "green" if rep.health_score >= 0.95 else "yellow" if rep.health_score >= 0.8 else "red"
            )
            from rich.console import Console

            Console().print(
                f"Label health score: [bold {score_style}]{rep.health_score:.4f}[/bold {score_style}] "
                f"({rep.num_issues} estimated label issues in {ds.n} examples, K={ds.k})"
            )
            render.print_class_table(rep.classes, ds.class_names, "Classes, most problematic first")
            render.print_heatmap(rep.noise_matrix, ds.class_names, "Noise matrix P(given | true)")
    elif output != "-" and not quiet:
        err(f"label health score {rep.health_score:.4f}; wrote {output}")
    failed = [g for g in gates if not g["passed"]]
    if failed:
        score, limit = render.gate_numbers(rep.health_score, fail_under)
        raise GateFailed(f"fail_under: health score {score} is below {limit}")


def _check_plot(path: str) -> None:
    if not path.lower().endswith((".png", ".svg")):
        raise InputError(f"{path}: --plot needs a .png or .svg file name")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'labelaudit[plot]'") from None
