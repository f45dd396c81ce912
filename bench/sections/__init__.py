"""The report's sections, in report order; each module declares one Section."""

from __future__ import annotations

from .annotators import SECTION as ANNOTATORS
from .audit import SECTION as AUDIT
from .base import Section
from .batched import SECTION as BATCHED
from .cross_val import SECTION as CROSS_VAL
from .dask import SECTION as DASK
from .find import SECTION as FIND
from .health import SECTION as HEALTH
from .many_classes import SECTION as MANY_CLASSES
from .njobs import SECTION as NJOBS
from .report import SECTION as REPORT

SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (FIND, HEALTH, BATCHED, NJOBS, DASK, REPORT, CROSS_VAL, ANNOTATORS, AUDIT, MANY_CLASSES)
}

__all__ = ["SECTIONS", "Section"]
