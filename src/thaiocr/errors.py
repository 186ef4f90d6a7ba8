"""The one exception type the CLI turns into a clean message (no traceback) and exit code 2."""


class ThaiOCRError(Exception):
    """A problem the user can fix: bad input, a bad config, a missing file. The message says what."""
