"""A run's optional products (the ``--html`` page, a ``--plot``, a ``--json`` or ``--report``
file): one that fails never costs the run what it was for.

The rows of ``korsent analyze``, the figures of ``evaluate`` and the model of ``calibrate`` are
written whatever happens to a product; the product that failed is named in one line on standard
error, and the command exits with :data:`PRODUCT_FAILED`.
"""

from __future__ import annotations

import sys
from typing import Callable, Optional, TypeVar

PRODUCT_FAILED = 3
"""The exit code of a run that did its work but could not make an optional product."""

T = TypeVar("T")


class Products:
    """The optional products of one command's run, and which of them failed."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.failed: list[str] = []

    def make(self, name: str, step: Callable[[], T]) -> Optional[T]:
        """Run a step of the product ``name`` (e.g. "the --html page"); None, once it failed.

        A failure is said once and the product's later steps are skipped; an interrupt
        (Ctrl-C, SIGTERM) is not a failure and goes on up.
        """
        if name in self.failed:
            return None
        try:
            return step()
        except Exception as err:
            self.failed.append(name)
            reason = " ".join(str(err).split()) or type(err).__name__
            print(
                f"korsent {self.command}: error: {name} failed and was not written "
                f"({type(err).__name__}: {reason}); everything else was.",
                file=sys.stderr,
            )
            return None

    @property
    def exit_code(self) -> int:
        """0, or :data:`PRODUCT_FAILED` when a product failed."""
        return PRODUCT_FAILED if self.failed else 0
