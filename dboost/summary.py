"""Moved to :mod:`dboost.render.summary` and :mod:`dboost.render.conclusions`.  These names stay
importable here only for the summary notebook's first code cell, which still calls ``summary.X``;
delete this module once that cell imports from :mod:`dboost.render.summary`."""
from .render.summary import answer_html, at_a_glance, headline_profiles, headline_table, scale_note  # noqa: F401
