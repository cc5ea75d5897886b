"""Moved to :mod:`dboost.render` (tables, figures, provenance).  These names stay importable here
only for the notebooks' first code cells, which still call ``report.X``; delete this module once
those cells import from :mod:`dboost.render`."""
from .render.figures import figure  # noqa: F401
from .render.provenance import partial_note, provenance, smoke_warning  # noqa: F401
