"""Errors a user can act on. The CLI prints them as one line and exits 2 (no traceback without --debug)."""


class CodetuneError(Exception):
    """Bad input or an unusable environment: the message says what and where."""
