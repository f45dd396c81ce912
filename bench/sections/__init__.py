"""The report's sections, in report order; each module declares one Section."""

from __future__ import annotations

from .audit import SECTION as AUDIT
from .base import Section
from .batched import SECTION as BATCHED
from .find import SECTION as FIND
from .health import SECTION as HEALTH
from .njobs import SECTION as NJOBS

SECTIONS: dict[str, Section] = {s.name: s for s in (FIND, HEALTH, BATCHED, NJOBS)}
SECTIONS[AUDIT.name] = AUDIT

__all__ = ["SECTIONS", "Section"]
