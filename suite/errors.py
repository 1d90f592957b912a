"""Errors the CLI turns into one line on stderr and exit code 2 (bad input, not a bug)."""


class UserError(Exception):
    """Something the user asked for cannot be done; the message says why."""
