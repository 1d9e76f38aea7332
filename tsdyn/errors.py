"""Error types shared by the library and the CLI.

`InputError` is the one error for bad input: a file that cannot be read, a missing column, an option
out of range. Its message is one line that says what is wrong and how to fix it; the CLI prints it and
exits with code 2. Anything else that escapes is an unexpected failure (exit code 1).
"""

from __future__ import annotations

__all__ = ["InputError", "NotFittedError", "TsdynError"]


class TsdynError(Exception):
    """Base class of tsdyn's own errors."""


class InputError(TsdynError, ValueError):
    """Bad input or bad usage: one line naming the file, column or row, and the fix.

    Parameters
    ----------
    message : str
        What is wrong, naming the file, column or row where there is one.
    hint : str, optional
        How to fix it; appended after the message.
    source : str, optional
        The file or built-in name the problem is in; prefixed to the message.
    """

    def __init__(self, message: str, hint: str | None = None, source: str | None = None):
        self.message = message
        self.hint = hint
        self.source = source
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = f"{self.source}: {self.message}" if self.source else self.message
        if self.hint:
            text = f"{text.rstrip('.')}; {self.hint}"
        return " ".join(text.split())  # never more than one line

    def with_source(self, source: str) -> InputError:
        """Return a copy of this error attributed to `source` (kept if already set)."""
        return InputError(self.message, self.hint, self.source or source)


class NotFittedError(TsdynError, RuntimeError):
    """An estimator was used before `fit` (or `load`)."""
