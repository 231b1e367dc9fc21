"""MkDocs hook: render the Sphinx roles in the docstrings as code and cross-references.

The docstrings are numpydoc and cite other objects with Sphinx roles
(``:class:`~cerebellar.control.RolloutController```), which mkdocstrings leaves as
text. This turns each into its name in code, linked by mkdocs-autorefs when the
object is on the site (``~`` keeps only the last component, as Sphinx does). A name
without a module is looked up in the module the page documents. The links are
optional, so a name that is not documented stays plain code instead of failing the
strict build.
"""

from __future__ import annotations

import html
import re

ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|data|attr|mod|obj|exc|const):<code>(?P<short>~?)(?P<path>[\w.]+)"
    r"(?P<call>\(\))?</code>"
)
DIRECTIVE = re.compile(r"^:::\s*([\w.]+)", re.MULTILINE)


def on_page_content(content: str, page, **kwargs) -> str:
    """Replace the Sphinx roles in one rendered page."""
    documented = DIRECTIVE.search(page.markdown or "")
    module = documented[1] if documented else None

    def replace(match: re.Match) -> str:
        path = match["path"]
        title = (path.rsplit(".", 1)[-1] if match["short"] else path) + (match["call"] or "")
        identifier = path if "." in path or module is None else f"{module}.{path}"
        return (f'<autoref optional identifier="{html.escape(identifier)}">'
                f"<code>{html.escape(title)}</code></autoref>")

    return ROLE.sub(replace, content)
