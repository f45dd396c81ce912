"""Text from the data made inert in a page: HTML-escaped (so `<script>` in a class name is text) after
its control characters are shown as \\xNN (core.formats.inert), and JSON that cannot end its <script>."""

from __future__ import annotations

import html
import json
from typing import Any

from labelaudit.core.formats import inert


def esc(value: Any) -> str:
    """A value as HTML text or attribute content."""
    return html.escape(inert(value), quote=True)


def script_json(value: Any) -> str:
    """JSON for a <script type="application/json"> element: `<`, `>` and `&` as \\u escapes (a name
    holding `</script>` or `<!--` cannot end or change the element), U+2028/9 escaped too; strict (NaN as
    null)."""
    from labelaudit.core.formats import _nan_to_null

    text = json.dumps(_nan_to_null(value), separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    for ch, code in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, code)
    return text
