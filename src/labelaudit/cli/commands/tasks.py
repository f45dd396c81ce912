"""find-issues, rank and health for --task multilabel and --task token."""

from __future__ import annotations

import numpy as np

from labelaudit.cli import render
from labelaudit.cli.app import err
from labelaudit.cli.commands._shared import issue_gates, raise_failed_gate, stdout_listing
from labelaudit.errors import InputError


def _names(class_names, idx) -> list:
    return [class_names[i] for i in idx] if class_names else [int(i) for i in idx]


def _write(output, columns: dict, npy, fmt_name) -> None:
    from labelaudit.io import write_npy, write_rows

    if output.lower().endswith(".npy"):
        write_npy(output, npy)
    else:
        write_rows(output, columns, fmt_name)


def _show(fmt, fmt_name, output, doc, columns, title, quiet, summary) -> None:
    if stdout_listing(output, fmt):
        if fmt_name == "json":
            render.print_json(doc)
        elif fmt_name == "csv":
            render.print_csv(columns)
        else:
            render.print_plain_table(title, columns, limit=render.TERMINAL_ROWS)
    elif output != "-" and not quiet:
        err(f"{summary}; wrote {output}")


# ---------------------------------------------------------------------------- multi-label


def load_ml(labels, pred_probs, label_column, prob_columns, class_names):
    from labelaudit.io.multilabel import load_multilabel

    if len(pred_probs) != 1:
        raise InputError("--task multilabel takes one --pred-probs model")
    return load_multilabel(
        labels,
        pred_probs[0],
        label_column=label_column,
        prob_columns=prob_columns,
        class_names_path=class_names,
    )


def ml_rows(ds, rows, scores) -> dict:
    y, p = ds.labels, ds.pred_probs
    return {
        "index": rows.astype(np.int64),
        "given_labels": [_names(ds.class_names, np.flatnonzero(y[i])) for i in rows],
        "predicted_labels": [_names(ds.class_names, np.flatnonzero(p[i] >= 0.5)) for i in rows],
        "label_quality": np.asarray(scores[rows], dtype=np.float64),
        "is_label_issue": np.ones(len(rows), dtype=bool),
    }


def ml_find(ds, params, *, per_class, output, fmt, fmt_name, top, max_issues, max_issue_rate, quiet) -> None:
    from labelaudit.core import multilabel as ml

    kw = {
        k: params[k] for k in ("filter_by", "frac_noise", "num_to_remove_per_class", "min_examples_per_class")
    }
    if per_class:
        if kw["filter_by"] in ("low_self_confidence", "low_normalized_margin"):
            raise InputError("--per-class does not support the low_* filters")
        mask = ml.find_issues_per_class(ds.labels, ds.pred_probs, **kw)
        s = ml.per_class_scores(
            ds.labels, ds.pred_probs, method=params["rank_by"], adjust_pred_probs=params["adjust_pred_probs"]
        )
        ex, cl = np.nonzero(mask)
        order = np.lexsort((cl, ex, s[ex, cl]))
        ex, cl = ex[order], cl[order]
        n_issues = len(ex)
        ex_l, cl_l = (ex[:top], cl[:top]) if top is not None else (ex, cl)
        cols = {
            "index": ex_l.astype(np.int64),
            "class": cl_l.astype(np.int64),
            "class_name": _names(ds.class_names, cl_l),
            "given": ds.labels[ex_l, cl_l].astype(bool),
            "predicted_probability": ds.pred_probs[ex_l, cl_l].astype(np.float64),
            "label_quality": s[ex_l, cl_l],
        }
        npy = mask
        counted = int(mask.any(axis=1).sum())
    else:
        scores = ml.get_label_quality_scores(
            ds.labels, ds.pred_probs, method=params["rank_by"], adjust_pred_probs=params["adjust_pred_probs"]
        )
        ranked = ml.find_label_issues(
            ds.labels,
            ds.pred_probs,
            return_indices_ranked_by=params["rank_by"],
            adjust_pred_probs=params["adjust_pred_probs"],
            scores=scores,
            **kw,
        )
        n_issues = counted = len(ranked)
        listed = ranked[:top] if top is not None else ranked
        cols = ml_rows(ds, listed, scores)
        npy = listed.astype(np.int64)
    gates = issue_gates(counted, ds.n, max_issues, max_issue_rate)
    summary = f"{counted} examples with label issues in {ds.n} ({counted / ds.n:.2%})"
    if output:
        _write(output, cols, npy, fmt_name)
    doc = render.report(
        "find-issues",
        {**params, "task": "multilabel", "per_class": per_class},
        ds,
        n_issues=n_issues,
        issue_rate=counted / ds.n,
        gates=gates,
        issues=render.records(cols),
    )
    _show(fmt, fmt_name, output, doc, cols, summary, quiet, summary)
    raise_failed_gate(gates)


def ml_rank(
    ds, params, *, per_class, aggregator, alpha, temperature, output, fmt, fmt_name, top, quiet
) -> None:
    from labelaudit.core import multilabel as ml

    s = ml.per_class_scores(
        ds.labels, ds.pred_probs, method=params["method"], adjust_pred_probs=params["adjust_pred_probs"]
    )
    scores = ml.aggregate(s, aggregator, alpha=alpha, temperature=temperature)
    flagged = ml.find_label_issues(ds.labels, ds.pred_probs)
    ranked = np.flatnonzero(flagged)[np.argsort(scores[flagged], kind="stable")]
    listed = ranked[:top] if top is not None else ranked
    cols = ml_rows(ds, listed, scores)
    if output:
        _write(
            output,
            ml_rows(ds, np.arange(ds.n), scores)
            if not per_class
            else {f"class_{c}": s[:, c] for c in range(ds.k)},
            s if per_class else scores,
            fmt_name,
        )
    params = {
        **params,
        "task": "multilabel",
        "aggregator": aggregator,
        "alpha": alpha,
        "temperature": temperature,
    }
    doc = render.report(
        "rank",
        params,
        ds,
        n_issues=len(ranked),
        issue_rate=len(ranked) / ds.n,
        issues=render.records(cols),
        scores=scores.tolist(),
        **({"per_class_scores": s.tolist()} if per_class else {}),
    )
    _show(
        fmt,
        fmt_name,
        output,
        doc,
        cols,
        f"{len(ranked)} flagged examples by aggregated score",
        quiet,
        f"scored {ds.n} examples",
    )


def ml_health(ds, *, output, fmt, fmt_name, fail_under, quiet) -> None:
    from labelaudit.core import multilabel as ml

    classes = ml.class_table(ds.labels, ds.pred_probs)
    common = ml.common_issues(ds.labels, ds.pred_probs)
    score = ml.health_score(ds.labels, ds.pred_probs)
    if ds.class_names:
        classes = {"class_name": _names(ds.class_names, classes["class_index"]), **classes}
        common = {"class_name": _names(ds.class_names, common["class_index"]), **common}
    gates = []
    if fail_under is not None:
        gates.append(
            {
                "gate": "fail_under",
                "what": "health score",
                "limit": fail_under,
                "value": score,
                "passed": score >= fail_under,
            }
        )
    doc = render.report(
        "health",
        {"task": "multilabel", "fail_under": fail_under},
        ds,
        health_score=score,
        gates=gates,
        classes=render.records(classes),
        common_issues=render.records(common),
    )
    if output:
        from labelaudit.io import write_json, write_rows

        write_json(output, doc) if output.lower().endswith(".json") else write_rows(output, classes, fmt_name)
    summary = f"multi-label health score {score:.4f}"
    if stdout_listing(output, fmt):
        if fmt_name == "json":
            render.print_json(doc)
        elif fmt_name == "csv":
            render.print_csv(classes)
        else:
            from rich.console import Console

            Console().print(f"Multi-label health score: [bold]{score:.4f}[/bold]")
            render.print_plain_table("Classes, most problematic first", classes)
            render.print_plain_table(
                "Common issues (class in given label -> in suggested label)", common, limit=10
            )
    elif not quiet:
        err(f"{summary}; wrote {output}")
    if gates and not gates[0]["passed"]:
        raise_failed_gate([{**gates[0], "what": "health score below"}])


# ---------------------------------------------------------------------------- token


def load_tok(labels, pred_probs, sentence_lengths, label_column, tokens_column, class_names):
    from labelaudit.io.token import load_tokens

    if len(pred_probs) != 1:
        raise InputError("--task token takes one --pred-probs model")
    return load_tokens(
        labels,
        pred_probs[0],
        sentence_lengths=sentence_lengths,
        label_column=label_column,
        tokens_column=tokens_column,
        class_names_path=class_names,
    )


def tok_rows(ds, pairs, flat, scores) -> dict:
    pred = ds.pred_probs[flat].argmax(axis=1) if len(flat) else np.empty(0, dtype=np.int64)
    cols = {
        "sentence": pairs[:, 0],
        "token": pairs[:, 1],
        "given_label": ds.labels[flat].astype(np.int64),
        "predicted_label": pred.astype(np.int64),
        "label_quality": np.asarray(scores[flat], dtype=np.float64),
        "is_label_issue": np.ones(len(flat), dtype=bool),
    }
    if ds.class_names:
        cols["given_name"] = _names(ds.class_names, cols["given_label"])
        cols["predicted_name"] = _names(ds.class_names, cols["predicted_label"])
    if ds.tokens is not None:
        cols["text"] = [ds.tokens[i] for i in flat]
    return cols


def _flat(ds, pairs) -> np.ndarray:
    starts = np.concatenate(([0], np.cumsum(ds.lengths)[:-1]))
    return (starts[pairs[:, 0]] + pairs[:, 1]).astype(np.int64) if len(pairs) else np.empty(0, dtype=np.int64)


def tok_find(ds, params, *, by, output, fmt, fmt_name, top, max_issues, max_issue_rate, quiet) -> None:
    from labelaudit.core import token as tk
    from labelaudit.core.context import Context
    from labelaudit.core.rank import scores_for_rows

    ctx = Context(ds.labels, ds.pred_probs)
    pairs = tk.issue_pairs(
        ctx,
        ds.lengths,
        return_indices_ranked_by=params["rank_by"],
        adjust_pred_probs=params["adjust_pred_probs"],
        filter_by=params["filter_by"],
        frac_noise=params["frac_noise"],
        num_to_remove_per_class=params["num_to_remove_per_class"],
        min_examples_per_class=params["min_examples_per_class"],
    )
    scores = scores_for_rows(ctx, None, params["rank_by"], params["adjust_pred_probs"])
    n_issues = len(pairs)
    if by == "sentence":
        sent, first = (
            np.unique(pairs[:, 0], return_index=True) if n_issues else (np.empty(0, int), np.empty(0, int))
        )
        order = np.argsort(first, kind="stable")  # sentences in order of their most severe token
        sent = sent[order]
        counts = np.bincount(pairs[:, 0], minlength=len(ds.lengths))[sent] if n_issues else sent
        listed = sent[:top] if top is not None else sent
        cols = {
            "sentence": listed.astype(np.int64),
            "n_issues": np.asarray(counts[: len(listed)], dtype=np.int64),
        }
        npy = listed.astype(np.int64)
        counted = len(sent)
    else:
        listed = pairs[:top] if top is not None else pairs
        cols = tok_rows(ds, listed, _flat(ds, listed), scores)
        npy = listed.astype(np.int64)
        counted = n_issues
    gates = issue_gates(counted, ds.n if by != "sentence" else len(ds.lengths), max_issues, max_issue_rate)
    unit = "sentences" if by == "sentence" else "tokens"
    total = len(ds.lengths) if by == "sentence" else ds.n
    summary = f"{counted} {unit} with label issues in {total} {unit} ({counted / total:.2%})"
    if output:
        _write(output, cols, npy, fmt_name)
    doc = render.report(
        "find-issues",
        {**params, "task": "token", "by": by},
        ds,
        n_issues=counted,
        issue_rate=counted / total,
        n_sentences=len(ds.lengths),
        gates=gates,
        issues=render.records(cols),
    )
    if stdout_listing(output, fmt) and fmt_name == "table" and by != "sentence":
        render.print_token_issues(ds, listed, _flat(ds, listed), scores, summary)
    else:
        _show(fmt, fmt_name, output, doc, cols, summary, quiet, summary)
    raise_failed_gate(gates)


def tok_rank(ds, params, *, sentence_method, temperature, output, fmt, fmt_name, top, quiet) -> None:
    from labelaudit.core import token as tk

    sent, tokens = tk.get_label_quality_scores(
        ds.labels,
        ds.pred_probs,
        ds.lengths,
        token_score_method=params["method"],
        sentence_score_method=sentence_method,
        temperature=temperature,
    )
    order = np.argsort(np.where(np.isnan(sent), np.inf, sent), kind="stable")
    listed = order[:top] if top is not None else order
    cols = {
        "sentence": listed.astype(np.int64),
        "n_tokens": ds.lengths[listed],
        "sentence_quality": np.asarray(sent[listed], dtype=np.float64),
    }
    if output:
        _write(
            output,
            {"sentence": np.arange(len(sent)), "sentence_quality": sent.astype(np.float64)},
            sent.astype(np.float64),
            fmt_name,
        )
    params = {**params, "task": "token", "sentence_method": sentence_method, "temperature": temperature}
    doc = render.report(
        "rank",
        params,
        ds,
        n_sentences=len(sent),
        sentence_scores=sent.astype(float).tolist(),
        token_scores=np.asarray(tokens, dtype=float).tolist(),
        issues=render.records(cols),
    )
    _show(
        fmt,
        fmt_name,
        output,
        doc,
        cols,
        "Sentences, lowest quality first",
        quiet,
        f"scored {len(sent)} sentences",
    )


def tok_health(ds, *, output, fmt, fmt_name, fail_under, quiet) -> None:
    from labelaudit.core import HealthReport
    from labelaudit.core import token as tk
    from labelaudit.core.context import Context

    ctx = Context(ds.labels, ds.pred_probs)
    rep = HealthReport(ctx)
    pairs = tk.issue_pairs(ctx, ds.lengths)  # the same Context as the health report: no second pass
    pred = ctx.predicted()
    flat = _flat(ds, pairs)
    codes = ds.labels[flat] * ds.k + pred[flat]
    cells = np.bincount(codes, minlength=ds.k * ds.k).reshape(ds.k, ds.k)
    g, pr = np.nonzero(cells)
    order = np.argsort(-cells[g, pr], kind="stable")
    common = {"given_label": g[order], "predicted_label": pr[order], "n_issues": cells[g, pr][order]}
    if ds.class_names:
        common["given_name"] = _names(ds.class_names, common["given_label"])
        common["predicted_name"] = _names(ds.class_names, common["predicted_label"])
    extra = {}
    if ds.tokens is not None:
        rows = tk.common_label_issues(pairs, ds.tokens, lengths=ds.lengths)
        extra["tokens"] = [{"token": r[0], "n_issues": r[1]} for r in rows]
    classes = render.named_classes(rep.classes, ds.class_names)
    gates = []
    if fail_under is not None:
        gates.append(
            {
                "gate": "fail_under",
                "what": "health score",
                "limit": fail_under,
                "value": rep.health_score,
                "passed": rep.health_score >= fail_under,
            }
        )
    doc = render.report(
        "health",
        {"task": "token", "fail_under": fail_under},
        ds,
        health_score=rep.health_score,
        n_issues=len(pairs),
        gates=gates,
        classes=render.records(classes),
        common_issues=render.records(common),
        **extra,
    )
    if output:
        from labelaudit.io import write_json, write_rows

        write_json(output, doc) if output.lower().endswith(".json") else write_rows(output, common, fmt_name)
    if stdout_listing(output, fmt):
        if fmt_name == "json":
            render.print_json(doc)
        elif fmt_name == "csv":
            render.print_csv(common)
        else:
            from rich.console import Console

            Console().print(
                f"Token label health score: [bold]{rep.health_score:.4f}[/bold] "
                f"({len(pairs)} token issues in {ds.n} tokens, {len(ds.lengths)} sentences)"
            )
            render.print_plain_table("Most common issues (given tag -> predicted tag)", common, limit=15)
            if "tokens" in extra:
                render.print_plain_table(
                    "Tokens most often flagged",
                    {
                        "token": [r["token"] for r in extra["tokens"]],
                        "n_issues": [r["n_issues"] for r in extra["tokens"]],
                    },
                    limit=15,
                )
            render.print_class_table(rep.classes, ds.class_names, "Tags, most problematic first")
    elif not quiet:
        err(f"token label health score {rep.health_score:.4f}; wrote {output}")
    if gates and not gates[0]["passed"]:
        raise_failed_gate([{**gates[0], "what": "health score below"}])
