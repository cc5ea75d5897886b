"""Markdown the pages share: links to the glossary, and the notes that state the ± and the verdict
rule once."""
from __future__ import annotations


def term(text: str, target: str | None = None) -> str:
    """``text`` linked to the glossary entry ``target`` (default: ``text``) in generated Markdown:
    the MyST {term} role (the book parses displayed Markdown as MyST, ``nb_render_markdown_format``).
    Only for Markdown; a table cell (HTML) shows it verbatim."""
    return f"{{term}}`{text} <{target}>`" if target else f"{{term}}`{text}`"


VERDICT_RULE = "{ref}`the verdict rule <verdict-rule>`"  # the glossary's section that states it
PM_NOTE = (f"± is the sample standard deviation over seeds (n − 1 in the denominator; {term('mean ± std')}). "
           f"Verdicts follow {VERDICT_RULE}: a paired t interval of the difference over {term('paired seeds')}, "
           "Holm-adjusted across each profile's family of comparisons in the summary (unadjusted 95 % in a page's own "
           "tables); *supported* / *contradicted* when it excludes 0 on the claimed / the other side, else *inconclusive*.")