"""The one exception type for input a user can fix."""


class UsageError(ValueError):
    """Bad arguments, recipe, data or environment: the message says what is wrong and what to do. The `oger-trl` CLI
    prints it alone and exits with status 1; any other exception keeps its traceback. A `ValueError`, so callers of
    the Python API catch it as before."""
