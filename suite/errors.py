"""The engine's name for :class:`workloads.errors.UserError` (one type, defined in the lowest layer)."""
from workloads.errors import UserError

__all__ = ["UserError"]
