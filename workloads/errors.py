"""Errors the CLI turns into one line on stderr and exit code 2 (bad input, not a bug).

It lives in the lowest layer (workloads) so that workloads, targets and the engine all raise the
same type without importing upwards; `suite.errors` re-exports it."""


class UserError(Exception):
    """Something the user asked for cannot be done; the message says why."""
