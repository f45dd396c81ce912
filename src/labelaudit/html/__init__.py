"""HTML rendering of typed Reports: strings only (io writes them). `render(overview, inputs)` is the
`labelaudit report` page; `audit_section(report)` the part for the audit command's Report."""

from labelaudit.html.page import audit_section, render

__all__ = ["audit_section", "render"]
