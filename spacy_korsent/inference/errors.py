"""The error every way of loading a model raises, apart from the modules that raise it.

:mod:`.loading` and :mod:`.model_files` both raise it; the command line turns it into one line and
exit code 2.
"""


class ModelNotFoundError(OSError):
    """The model named in the component's config could not be loaded."""
