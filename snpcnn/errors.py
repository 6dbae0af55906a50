"""Errors that the CLI turns into one clear line (never a traceback)."""

from __future__ import annotations

__all__ = ["SnpcnnError", "InputError", "InputWarning"]


class SnpcnnError(Exception):
    """Base class for errors that carry a user-facing, one-line message.

    The message should name the file (and line or sample where known), say what
    was wrong, and say how to fix it.
    """


class InputError(SnpcnnError, ValueError):
    """A user's input file or argument is malformed or inconsistent."""


class InputWarning(UserWarning):
    """An input was read, but something in it deserves a look (the CLI prints one line)."""
