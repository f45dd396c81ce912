"""Options shared by several commands, defined once (Annotated Typer options)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    junit = "junit"
    github = "github"


class FilterBy(str, Enum):
    prune_by_noise_rate = "prune_by_noise_rate"
    prune_by_class = "prune_by_class"
    both = "both"
    confident_learning = "confident_learning"
    predicted_neq_given = "predicted_neq_given"
    low_normalized_margin = "low_normalized_margin"
    low_self_confidence = "low_self_confidence"


class EstimationMethod(str, Enum):
    off_diagonal = "off_diagonal"
    off_diagonal_calibrated = "off_diagonal_calibrated"


class ScoreMethod(str, Enum):
    self_confidence = "self_confidence"
    normalized_margin = "normalized_margin"
    confidence_weighted_entropy = "confidence_weighted_entropy"


INPUTS = "Inputs"
OUTPUT = "Output"

Labels = Annotated[
    str,
    typer.Option(
        "--labels",
        "-l",
        help="Given labels: .npy of ints, or a .csv/.tsv/.parquet table.",
        rich_help_panel=INPUTS,
    ),
]
PredProbs = Annotated[
    str,
    typer.Option(
        "--pred-probs",
        "-p",
        help="Out-of-sample predicted probabilities (N, K): .npy or a table.",
        rich_help_panel=INPUTS,
    ),
]
LabelColumn = Annotated[
    str | None,
    typer.Option(
        help="Table column holding the labels (default: 'label', else the only column).",
        rich_help_panel=INPUTS,
    ),
]
ProbColumns = Annotated[
    str | None,
    typer.Option(
        help="Probability columns: a comma list or a glob such as 'prob_*' (default: every numeric column "
        "except the label and id columns).",
        rich_help_panel=INPUTS,
    ),
]
ClassNames = Annotated[
    str | None,
    typer.Option(help="File with one class name per line, in column order.", rich_help_panel=INPUTS),
]
IdColumn = Annotated[
    str | None,
    typer.Option(
        help="Table column with example ids, reported beside the row index (default: 'id' if present).",
        rich_help_panel=INPUTS,
    ),
]
FromLogits = Annotated[
    bool,
    typer.Option(
        "--from-logits",
        help="pred_probs holds logits: apply a softmax to each row first.",
        rich_help_panel=INPUTS,
    ),
]
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="Write results: .npy, .csv, .tsv, .parquet, .json, .jsonl, or '-' for stdout.",
        rich_help_panel=OUTPUT,
    ),
]
Format = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        "-f",
        help="stdout format: table (default on a terminal), csv (default otherwise), json (one report document), "
        "junit (JUnit XML for CI) or github (workflow annotations).",
        rich_help_panel=OUTPUT,
    ),
]
Top = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Keep only the N most severe examples in every listing (counts and gates use all).",
        rich_help_panel=OUTPUT,
    ),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="No warnings or progress on stderr.", rich_help_panel=OUTPUT)
]
BatchSize = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Rows per batch when reading pred_probs (never changes results).",
        rich_help_panel="Performance",
    ),
]
Baseline = Annotated[
    str | None,
    typer.Option(
        help="An earlier --format json report: show new, fixed and persisting issues; gates count only new ones.",
        rich_help_panel="Gates (exit 1 when one fails)",
    ),
]
NJobs = Annotated[
    int,
    typer.Option(
        min=-1,
        help="Worker threads for the passes over pred_probs (-1: one per core). Never changes results.",
        rich_help_panel="Performance",
    ),
]
PredProbsMany = Annotated[
    list[str],
    typer.Option(
        "--pred-probs",
        "-p",
        help="Out-of-sample predicted probabilities (N, K): .npy or a table. Repeat it (or give a glob) for an "
        "ensemble of models.",
        rich_help_panel=INPUTS,
    ),
]


class WeightBy(str, Enum):
    accuracy = "accuracy"
    uniform = "uniform"
    log_loss_search = "log_loss_search"
    custom = "custom"


WeightByOpt = Annotated[
    WeightBy,
    typer.Option(help="Ensembles: how member scores are weighted.", rich_help_panel="Ensembles"),
]
Weights = Annotated[
    str | None,
    typer.Option(
        help="Ensembles: a comma list of one weight per model (custom weighting, not normalised).",
        rich_help_panel="Ensembles",
    ),
]


class Task(str, Enum):
    multiclass = "multiclass"
    multilabel = "multilabel"
    token = "token"


TASKS = "Multi-label and token tasks"
TaskOpt = Annotated[
    Task,
    typer.Option(
        help="Kind of data: one label per row, several per row, or one per token.", rich_help_panel=TASKS
    ),
]
PerClass = Annotated[
    bool, typer.Option("--per-class", help="multilabel: per (example, class) results.", rich_help_panel=TASKS)
]
SentenceLengths = Annotated[
    str | None, typer.Option(help="token: .npy of tokens per sentence (flat inputs).", rich_help_panel=TASKS)
]
TokensColumn = Annotated[
    str | None,
    typer.Option("--tokens", help="token: the table column of token strings.", rich_help_panel=TASKS),
]
