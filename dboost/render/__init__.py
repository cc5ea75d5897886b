"""What the book's pages display, rendered from the rows in ``runs/`` (no torch, no training).

Where to find a piece:

- :mod:`~dboost.render.provenance` -- a page's header: what produced its rows, what rerunning them
  costs, the banners of a partial or a smoke run (and which profile a page shows);
- :mod:`~dboost.render.tables` -- the result pages' tables (gap 0 vs gap m0, the grid, boosting,
  training length) and their unadjusted verdicts;
- :mod:`~dboost.render.figures` -- the result pages' figures and their numbered captions;
- :mod:`~dboost.render.summary` -- the summary and landing pages: the headline and per-profile claim
  tables, the answer box, the scale of the runs;
- :mod:`~dboost.render.conclusions` -- each page's findings in sentences, the studies' verdicts
  (training length, data size, calibration) and the caveats;
- :mod:`~dboost.render.markdown` -- glossary links and the notes pages share.

The claims, their statistics and verdicts themselves are in :mod:`dboost.analysis`.
"""
