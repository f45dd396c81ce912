"""One self-contained HTML page of an Overview (core.overview): inline CSS, JS and SVG, no network
resource, light and dark mode (prefers-color-scheme). Every number comes from the Reports.

The ranked issues can be millions of rows; a page that holds them all freezes the browser that opens it.
So the page embeds the first `rows` of them (default ROWS) as compact JSON, renders PAGE at a time and
filters the embedded rows with a search box, and says how many there are in all; the full list is a
`find-issues -o FILE` away.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

from labelaudit import __version__
from labelaudit.core.formats import inert
from labelaudit.core.overview import Overview
from labelaudit.core.report import Report, records
from labelaudit.html import svg
from labelaudit.html.text import esc, script_json

ROWS = 10_000  # issue rows embedded in the page
STATIC_ROWS = 100  # of them, rendered as HTML (readable without JS); the script renders the rest
HEATMAP_MAX_K = 40  # a heatmap up to this K; beyond, a table of the largest off-diagonal cells
AUDIT_ROWS = 10  # worst examples shown per audit issue type
FIXED_SHOWN = 200  # fixed baseline issues listed by key
CLASS_ROWS = 1_000  # classes listed (most problematic first): K = 20,000 would be megabytes of table

STYLE = (
    svg.CSS + "*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);"
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif}main{max-width:1320px;margin:0 auto;"
    "padding:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px "
    "solid var(--grid);padding-bottom:4px}.m,small{color:var(--muted)}code{font:12px ui-monospace,monospace}"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}.card{border:1px solid var(--grid);"
    "border-radius:8px;padding:10px 16px;min-width:150px}.card b{display:block;font-size:24px}"
    ".good{color:#1a7f37}.warn{color:#9a6700}.bad{color:#cf222e}@media (prefers-color-scheme:dark){"
    ".good{color:#3fb950}.warn{color:#d29922}.bad{color:#f85149}}table{border-collapse:collapse;"
    "margin:6px 0}th,td{padding:3px 10px;border-bottom:1px solid var(--grid);text-align:left;"
    "vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    "table.sortable th{cursor:pointer;user-select:none}table.sortable th:after{content:' \\2195';"
    "color:var(--muted)}.row{display:flex;flex-wrap:wrap;gap:28px;align-items:flex-start}"
    "input,select,button{font:inherit;color:inherit;background:var(--bg);border:1px solid var(--grid);"
    "border-radius:6px;padding:4px 8px}#q{width:320px}.new{font-weight:bold;color:var(--flag)}"
    ".scroll{overflow-x:auto}.tall{max-height:620px;overflow-y:auto}.tall thead th{position:sticky;top:0;"
    "background:var(--bg)}"
)

SCRIPT = r"""
(function(){
function sortable(t){var ths=t.tHead.rows[0].cells;for(var c=0;c<ths.length;c++)(function(c){
ths[c].addEventListener('click',function(){var b=t.tBodies[0],rs=Array.prototype.slice.call(b.rows),
d=ths[c].dataset.dir==='a'?-1:1;ths[c].dataset.dir=d>0?'a':'d';rs.sort(function(x,y){
var u=x.cells[c].dataset.v,v=y.cells[c].dataset.v;if(u!==undefined&&v!==undefined)return d*(u-v);
return d*x.cells[c].textContent.localeCompare(y.cells[c].textContent);});
rs.forEach(function(r){b.appendChild(r);});});})(c);}
document.querySelectorAll('table.sortable').forEach(sortable);
var el=document.getElementById('issues-data');if(!el)return;
var D=JSON.parse(el.textContent),names=D.names,rows=D.rows,body=document.getElementById('issues-body'),
q=document.getElementById('q'),st=document.getElementById('status'),info=document.getElementById('shown'),
more=document.getElementById('more'),PAGE=D.page,limit=PAGE,hits=rows,keys=null,timer=0;
function nm(c){return names?names[c]:String(c);}
function key(r){return (r[0]+' '+(D.ids?r[1]:'')+' '+nm(r[2])+' '+nm(r[3])).toLowerCase();}
function td(tr,text,cls){var c=document.createElement('td');c.textContent=text;if(cls)c.className=cls;
tr.appendChild(c);}
function draw(){var f=document.createDocumentFragment(),n=Math.min(limit,hits.length);
for(var i=0;i<n;i++){var r=hits[i],tr=document.createElement('tr');td(tr,r[0],'n');if(D.ids)td(tr,r[1]);
td(tr,nm(r[2]));td(tr,nm(r[3]),r[2]!==r[3]?'bad':'');td(tr,r[4],'n');
if(D.status)td(tr,r[5]?'new':'persisting',r[5]?'new':'');f.appendChild(tr);}
body.textContent='';body.appendChild(f);
info.textContent='showing '+n.toLocaleString()+' of '+hits.length.toLocaleString()+' matching rows';
more.hidden=n>=hits.length;}
function filter(){var s=q.value.trim().toLowerCase(),want=st?st.value:'';if(s&&!keys)keys=rows.map(key);
hits=[];for(var i=0;i<rows.length;i++){if(want&&(rows[i][5]?'new':'persisting')!==want)continue;
if(s&&keys[i].indexOf(s)<0)continue;hits.push(rows[i]);}limit=PAGE;draw();}
q.addEventListener('input',function(){clearTimeout(timer);timer=setTimeout(filter,120);});
if(st)st.addEventListener('change',filter);
more.addEventListener('click',function(){limit+=PAGE;draw();});draw();
})();
"""


def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else ""
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    return str(v)


def _cell(v: Any) -> str:
    """A table cell: numbers right-aligned with their value for sorting."""
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
        x = float(v)
        sort = repr(x) if np.isfinite(x) else "-1e308"
        return f'<td class="n" data-v="{sort}">{esc(_fmt(v))}</td>'
    return f"<td>{esc(_fmt(v))}</td>"


def table(
    heads: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    sortable: bool = False,
    ident: str = "",
    tall: bool = False,
) -> str:
    """An HTML table (values escaped; numbers right-aligned and sortable by value); `tall`: in a box of
    its own height that scrolls, its header kept in view."""
    attrs = (f' id="{ident}"' if ident else "") + (' class="sortable"' if sortable else "")
    head = "".join(f"<th>{esc(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    box = "scroll tall" if tall else "scroll"
    return (
        f'<div class="{box}"><table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def _name(names: Sequence[str] | None, c: int) -> str:
    return names[c] if names is not None else str(c)


def _card(label: str, value: str, cls: str = "", ident: str = "") -> str:
    attrs = (f' class="{cls}"' if cls else "") + (f' id="{ident}"' if ident else "")
    return f'<div class="card"><small>{esc(label)}</small><b{attrs}>{esc(value)}</b></div>'


def _summary(ov: Overview) -> str:
    h, iss = ov.health, ov.issues
    s = float(h.results["health_score"])
    tone = "good" if s >= 0.95 else "warn" if s >= 0.8 else "bad"
    cards = [
        _card("label health score", f"{s:.4f}", tone, "health-score"),
        _card("flagged label issues", f"{iss.results['n_issues']:,}", ident="n-issues"),
        _card("issue rate", f"{iss.results['issue_rate']:.2%}"),
        _card("examples (N)", f"{h.n:,}"),
        _card("classes (K)", f"{h.k:,}"),
    ]
    base = iss.results.get("baseline")
    if base is not None:
        cards.append(_card("new versus baseline", f"{base['n_new']:,}", "bad" if base["n_new"] else "good"))
    return f'<div class="cards">{"".join(cards)}</div><p>{esc(h.headline)}. {esc(iss.headline)}.</p>'


def _inputs(inputs: list[dict], ov: Overview) -> str:
    rows = [
        [f.get("role", ""), f.get("path", ""), int(f.get("bytes", 0)), f.get("sha256", "")] for f in inputs
    ]
    params = {**ov.issues.params, **{f"health {k}": v for k, v in ov.health.params.items() if v is not None}}
    prm = [
        [k, "" if v is None else str(v).lower() if isinstance(v, bool) else _fmt(v)]
        for k, v in params.items()
    ]
    return (
        "<h2>Dataset and inputs</h2>"
        + table(["role", "path", "bytes", "sha256"], rows)
        + f"<p>labelaudit {esc(__version__)}; parameters:</p>"
        + table(["parameter", "value"], prm)
    )


def _classes(ov: Overview) -> str:
    c, names = ov.health.tables["classes"], ov.health.class_names
    heads = ["class", "examples", "label issues", "inverse issues", "label noise", "inverse noise", "quality"]
    keys = ("n_examples", "label_issues", "inverse_label_issues", "label_noise", "inverse_label_noise")
    rows = [
        [_name(names, int(ci))] + [c[k][i] for k in keys] + [c["label_quality_score"][i]]
        for i, ci in enumerate(c["class_index"][:CLASS_ROWS])
    ]
    k = len(c["class_index"])
    held = f" The {len(rows):,} most problematic of {k:,} classes." if k > len(rows) else ""
    return (
        "<h2>Classes, most problematic first</h2><p class=m>Click a column to sort. Label noise: share of "
        "a class's given labels estimated wrong; inverse: share of its true members labelled otherwise."
        + f"{held}</p>"
        + table(heads, rows, sortable=True, ident="classes", tall=len(rows) > 20)
    )


def _noise(ov: Overview) -> str:
    h = ov.health
    matrix = h.results["noise_matrix"]
    intro = "<h2>Noise matrix P(given label | true label)</h2>"
    if h.k <= HEATMAP_MAX_K and not isinstance(matrix, dict):
        from labelaudit.core.health import largest_off_diagonal

        noise = np.asarray(matrix, dtype=np.float64)
        annotate = None
        if h.k > svg.ANNOTATE_ALL:
            top = largest_off_diagonal(noise, None, svg.ANNOTATE_TOP)
            annotate = [(int(g), int(t)) for g, t, v in zip(*top.values(), strict=True) if v > 0]
        note = (
            "<p class=m>In percent. The diagonal (labels that are right) is grey; off-diagonal cells "
            "(confusions) have a colour scale of their own, from 0 to the largest confusion.</p>"
        )
        return intro + note + svg.heatmap(noise, h.class_names, annotate)
    cells = h.tables["noise_cells"]
    rows = [[g, t, f"{100 * float(p):.2f}%"] for g, t, p in zip(*cells.values(), strict=True)]
    return (
        intro
        + f"<p class=m>K = {h.k:,}: too many classes for a heatmap; the largest off-diagonal cells.</p>"
        + table(["given label", "true label", "probability"], rows)
    )


def _quality(ov: Overview) -> str:
    hg = ov.histogram
    chart = svg.histogram(hg.edges, hg.all, hg.flagged, score=hg.score)
    o = ov.overlap
    p, names = o.tables["pairs"], o.class_names
    rows = [
        [_name(names, int(a)), _name(names, int(b)), n, j]
        for a, b, n, j in zip(
            p["class_a"], p["class_b"], p["n_overlapping"], p["joint_probability"], strict=True
        )
    ]
    pairs = table(["class a", "class b", "overlapping examples", "joint probability"], rows, ident="pairs")
    total = f" (the {len(rows)} largest of {o.total:,})" if (o.total or 0) > len(rows) else ""
    return (
        '<div class="row"><div><h2>Label quality</h2>'
        + f"<p class=m>Every example's score, flagged issues in red; {esc(hg.score)}.</p>{chart}</div>"
        + f"<div><h2>Overlapping class pairs</h2><p class=m>Pairs the labels confuse most{total}.</p>"
        + f"{pairs}</div></div>"
    )


def _baseline(ov: Overview) -> str:
    base = ov.issues.results.get("baseline")
    if base is None:
        return ""
    fixed = base["fixed"][:FIXED_SHOWN]
    more = f" (the first {len(fixed)} of {base['n_fixed']:,})" if base["n_fixed"] > len(fixed) else ""
    keys = ", ".join(esc(k) for k in fixed) or "none"
    return (
        "<h2>Versus the baseline</h2>"
        + table(
            ["baseline", "matched by", "new", "persisting", "fixed"],
            [[base["path"], base["matched_by"], base["n_new"], base["n_persisting"], base["n_fixed"]]],
            ident="baseline",
        )
        + f"<p>Fixed (flagged in the baseline, not now; by {esc(base['matched_by'])}){more}: "
        + f'<span id="fixed">{keys}</span></p><p class=m>New and persisting issues are marked in the list below.</p>'
    )


def _issues(ov: Overview, rows: int) -> str:
    iss = ov.issues
    cols, total, names = iss.listing, int(iss.results["n_issues"]), iss.class_names
    m = min(rows, len(cols.get("index", ())))
    has_id, has_status = "id" in cols, "status" in cols
    quality = [f"{q:.4g}" for q in np.asarray(cols["label_quality"][:m], dtype=np.float64)]
    data: list[list[Any]] = [
        np.asarray(cols["index"][:m]).tolist(),
        [inert(v) for v in cols["id"][:m]] if has_id else [None] * m,
        np.asarray(cols["given_label"][:m]).tolist(),
        np.asarray(cols["predicted_label"][:m]).tolist(),
        quality,
    ]
    if has_status:
        data.append([int(s == "new") for s in cols["status"][:m]])
    packed = [list(r) for r in zip(*data, strict=True)]
    doc = {
        "names": [inert(c) for c in names] if names is not None else None,
        "ids": has_id,
        "status": has_status,
        "page": 200,
        "rows": packed,
    }
    heads = ["index"] + (["id"] if has_id else []) + ["given", "predicted", "label quality"]
    heads += ["status"] if has_status else []
    static = []
    for r in packed[:STATIC_ROWS]:
        cells = [f'<td class="n">{r[0]}</td>'] + ([f"<td>{html.escape(r[1])}</td>"] if has_id else [])
        cells += [f"<td>{esc(_name(names, r[2]))}</td>"]
        cells += [f"<td{' class=bad' if r[2] != r[3] else ''}>{esc(_name(names, r[3]))}</td>"]
        cells += [f'<td class="n">{r[4]}</td>']
        if has_status:
            cells += ['<td class="new">new</td>' if r[5] else "<td>persisting</td>"]
        static.append("<tr>" + "".join(cells) + "</tr>")
    held = f"all {total:,}" if m == total else f"the first {m:,} of {total:,}"
    status = (
        '<select id="status"><option value="">new and persisting</option><option value="new">new</option>'
        '<option value="persisting">persisting</option></select>'
        if has_status
        else ""
    )
    return (
        f"<h2>Ranked label issues</h2><p>{total:,} flagged, most severe first; this page holds {held} "
        "(<code>labelaudit find-issues -o issues.csv</code> lists every one).</p>"
        + '<p><input id="q" type="search" placeholder="search index, id or class" aria-label="search issues">'
        + f' {status} <span id="shown" class="m"></span></p>'
        + '<div class="scroll tall"><table id="issues"><thead><tr>'
        + "".join(f"<th{' class=n' if h in ('index', 'label quality') else ''}>{esc(h)}</th>" for h in heads)
        + f'</tr></thead><tbody id="issues-body">{"".join(static)}</tbody></table></div>'
        + '<p><button id="more" type="button" hidden>show more</button></p>'
        + f'<script type="application/json" id="issues-data">{script_json(doc)}</script>'
    )


def audit_section(report: Report, rows: int = AUDIT_ROWS) -> str:
    """The `audit` command's Report (core.audit.audit) as a page section: its health score, the summary
    of every issue type that ran (tables["issue_summary"], in run order), the types that could not run on
    these data, and the worst flagged examples of each type (view_data["worst"], lowest score first)."""
    summary = report.tables.get("issue_summary", {})
    kinds = [str(t) for t in summary.get("issue_type", [])]
    health = report.results.get("health_score")
    out = ["<h2>Audit: every issue type</h2>"]
    if health is not None:
        out.append(f"<p>Audit health score (mean of the types' scores): <b>{float(health):.4f}</b></p>")
    out.append(
        table(
            ["issue type", "score", "issues"],
            [list(r.values()) for r in records(summary)],
            sortable=True,
            ident="audit-summary",
        )
    )
    for kind, why in dict(report.results.get("failed", {})).items():
        out.append(f"<p class=m>{esc(kind)} did not run: {esc(why)}</p>")
    worst = report.view_data.get("worst", {})
    for kind, n in zip(kinds, summary.get("num_issues", []), strict=True):
        cols = worst.get(kind)
        if not n or not cols or not len(cols["index"]):
            continue
        shown = records({k: list(v)[:rows] for k, v in cols.items()})
        out.append(f"<h3>{esc(kind)}: the worst {len(shown)} of {int(n):,} flagged examples</h3>")
        out.append(table(list(cols), [list(r.values()) for r in shown], ident=f"audit-{esc(kind)}"))
    return "".join(out)


def render(ov: Overview, inputs: list[dict], *, rows: int = ROWS, title: str = "labelaudit report") -> str:
    """The page of `ov` (inputs: the runs' input descriptions, as in the JSON document); at most `rows`
    issue rows embedded."""
    labels = next((f.get("path", "") for f in inputs if f.get("role") == "labels"), "")
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(title)}{' · ' + esc(labels) if labels else ''}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{esc(title)}</h1><p class=m>labelaudit {esc(__version__)} · confident learning on "
        f"{ov.health.n:,} examples, {ov.health.k:,} classes</p>",
        _summary(ov),
        _inputs(inputs, ov),
        _classes(ov),
        _noise(ov),
        _quality(ov),
        _baseline(ov),
        _issues(ov, rows),
        audit_section(ov.audit) if ov.audit is not None else "",
        f"</main><script>{SCRIPT}</script></body></html>\n",
    ]
    return "".join(parts)
