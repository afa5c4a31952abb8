"""A progress bar on stderr for long single-file work (encrypt, decrypt, pack, unpack), on a terminal only."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, TextIO, cast

import click

from bidcrypt.files import ByteProgress


class _TerminalStream:
    """stderr for a progress bar: once its terminal is gone, the bar stops drawing, quietly.

    After the terminal closes (SIGHUP) every write to it fails with EIO. The
    bar's last words (showing the cursor again) come while the command cleans
    up after the hang-up, and must not turn that into an internal error.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return self._stream.write(text)
            except OSError:
                self._gone = True
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except OSError:
                self._gone = True

    def isatty(self) -> bool:
        return self._stream.isatty()


def terminal_bar(length: int, label: str | None) -> Any:
    """A click progress bar of *length* steps on stderr (a terminal), that a closed terminal cannot break."""
    return click.progressbar(length=length, label=label, file=cast(TextIO, _TerminalStream(sys.stderr)))


def bar_wanted(as_json: bool = False) -> bool:
    """True when a progress bar may be drawn: stderr is a terminal and the report is not ``--json``."""
    return not as_json and sys.stderr.isatty()


@contextlib.contextmanager
def byte_progress(label: str, *, as_json: bool = False) -> Iterator[ByteProgress | None]:
    """A ``progress(done, total)`` callback that draws a bar on stderr, or None when none is wanted.

    None when stderr is not a terminal or with ``--json``: the command's
    output is then exactly what it is without a bar. The bar appears at the
    first call that knows the total (a pipe of unknown size gets none) and is
    closed when the block ends, before the command prints its report.
    """
    if not bar_wanted(as_json):
        yield None
        return
    bar: Any = None
    shown = 0

    def update(done: int, total: int | None) -> None:
        nonlocal bar, shown
        if total is None:
            return
        if bar is None:
            bar = terminal_bar(total, label)
            bar.__enter__()
        bar.length = total
        bar.update(done - shown)
        shown = done

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
