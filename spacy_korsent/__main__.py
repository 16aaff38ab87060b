"""``python -m spacy_korsent`` is the ``korsent`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
