"""The error every user-fixable problem raises: its message is safe to show."""

from __future__ import annotations


class KeepwarmError(Exception):
    """A user error: its message is safe to show and names what to fix."""
