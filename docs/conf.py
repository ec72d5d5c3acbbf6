"""Sphinx configuration of the flambeau docs (Markdown through myst-parser).

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (needs sphinx and myst-parser).
``ops.md`` is generated: ``python -m flambeau.tensor.opref > docs/ops.md``.
"""

project = "flambeau"
author = "the flambeau authors"
copyright = "2024, the flambeau authors"
release = version = "0.1.0"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# Links like [`add`](ops.md#add) and [`sub_view`](#sub_view) resolve to the generated heading slugs.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

html_theme = "alabaster"
html_title = "flambeau"
