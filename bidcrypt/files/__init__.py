"""Files in and out: inputs are regular files of a sane size, outputs appear complete or not at all.

Inputs. :func:`open_input` opens only a regular file: a directory, a
device, a FIFO or a socket is refused by name, and a FIFO is refused
without waiting for a writer (it is opened non-blocking, checked, then set
back to blocking). :func:`read_input` reads a small file whole, refusing
one larger than the limit of its :class:`InputKind` before reading it.

Outputs. :func:`atomic_output` writes to a temporary file beside the
output. Only when the caller's block succeeds is the file flushed to disk
and published, with a hard link, so an existing output (even one that
appeared meanwhile) is never replaced unless ``force`` is given, and even
then only a regular file is replaced (never a device, a FIFO, a directory
or a link to one). The directory is synced after publishing. On any
failure, Ctrl-C and SIGTERM included, the temporary file is removed and
nothing is left behind.

Each temporary file is named ``.NAME.bidcrypt-<16 hex>.part`` and is
locked (``flock``) by its writer for as long as the writer lives. When the
writer is killed (SIGKILL, a crash) the file stays, unlocked; the next
:func:`atomic_output` into the same directory removes it (see
:func:`remove_stale_outputs`). Nothing else is ever removed.
"""

from bidcrypt.files.inputs import (
    CERTIFICATES,
    CRL,
    PKCS12,
    SMALL_FILE,
    SUMMARY,
    ByteProgress,
    InputKind,
    PathArg,
    as_path,
    file_type,
    input_error,
    open_input,
    read_input,
    regular_file_problem,
)
from bidcrypt.files.outputs import (
    OutputFile,
    Sink,
    atomic_output,
    check_output,
    copy_range,
    output_error,
    remove_stale_outputs,
)

__all__ = [
    "CERTIFICATES",
    "CRL",
    "PKCS12",
    "SMALL_FILE",
    "SUMMARY",
    "ByteProgress",
    "InputKind",
    "OutputFile",
    "PathArg",
    "Sink",
    "as_path",
    "atomic_output",
    "check_output",
    "copy_range",
    "file_type",
    "input_error",
    "open_input",
    "output_error",
    "read_input",
    "regular_file_problem",
    "remove_stale_outputs",
]
