"""The corpus report: ``korsent analyze``'s output at a glance, on one self-contained page.

:mod:`.reading` reads the analysed file with the project's readers, :mod:`.columns` finds what it
holds, :mod:`.aggregate` counts it in one pass in bounded memory (with :mod:`.words` and
:mod:`.dates`), and :mod:`.page` draws the page with :mod:`.svg` charts.
"""

from .aggregate import Corpus, Settings
from .columns import Columns, find_columns
from .page import render_report

__all__ = ["Columns", "Corpus", "Settings", "find_columns", "render_report"]
