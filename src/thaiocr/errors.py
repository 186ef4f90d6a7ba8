"""The one exception type the CLI turns into a clean message (no traceback) and exit code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ThaiOCRError(Exception):
    """A problem the user can fix: bad input, a bad config, a missing file. The message says what."""


class ConfigError(ThaiOCRError):
    """A recipe that cannot be used as written."""


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 problem``, ``3 problems``: a count and its noun in the right number."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """``"; did you mean 'x'? (valid: a, b, x)"``: the tail of an unknown-name message."""
    options = sorted(options)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (valid: {', '.join(options) or 'none'})"
