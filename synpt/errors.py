"""User-facing errors.

Why a dedicated type: the CLI prints a `SynptError` as one clear message (what is wrong, where, how to fix it)
instead of a traceback, while every other exception still shows its traceback because it is a bug.
"""


class SynptError(Exception):
    """An error caused by the user's input or environment; the message must say what to do about it."""
