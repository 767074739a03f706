"""Errors a user can act on. The CLI turns each into one line on stderr and an exit code."""


class DiagError(Exception):
    """A problem with the user's input or environment, said in one line."""

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
