"""The one exception type for bad user input.

Every reader and validator in the package raises :class:`InputError` for input it cannot use, with
the file, row and field it concerns. The CLI turns it into a one-line message and exit code 2, so
users never see a traceback for a problem in their own data.
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input, located as precisely as possible (file, row, field).

    ``str(err)`` is a single line: ``"<file>: row <row>: field '<field>': <message>"`` with the
    parts that are known (``row`` may be an int, printed as ``row N``, or a label such as
    ``"record 12 (primary_2015/pfs_events/lu177)"``, printed as is).

    Parameters
    ----------
    message
        What is wrong, in words a user can act on (whitespace runs are collapsed to one line).
    file
        The file concerned, if any.
    row
        Row or line number (int), or a label such as ``"record 12 (...)"``.
    field
        Column, key or argument name concerned.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = " ".join(str(message).split())
        self.file = None if file is None else str(file)
        self.row = row
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}" if isinstance(self.row, int) else str(self.row))
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return ": ".join([*where, self.message])
