"""A process's clock moved by libfaketime: for the demo and the tests, which must not wait an hour.

bidcrypt has no switch of its own to move its clock. The library is
preloaded as the ``faketime`` wrapper does it, without the wrapper: a killed
wrapper leaves its semaphore in /dev/shm, named by its pid, and a later
wrapper that gets the same pid refuses to start ("sem_open: File exists").
The library itself goes on, without its shared clock, when it meets such a
leftover.
"""

from __future__ import annotations

from pathlib import Path

#: libfaketime, wherever the loader keeps its libraries (``$LIB``: the loader expands it).
LIBRARY = "/usr/$LIB/faketime/libfaketime.so.1"
#: Where the library keeps its semaphore and shared memory.
_SHARED_MEMORY = Path("/dev/shm")  # noqa: S108 - named by pid, never made here


def moved_clock(offset: float) -> dict[str, str]:
    """The environment that moves a process's clock (and its children's) by *offset* seconds."""
    return {"LD_PRELOAD": LIBRARY, "FAKETIME": f"{offset:+.3f}"}


def remove_leftovers(pid: int) -> None:
    """Remove the semaphore and shared memory of the moved-clock process *pid*, ended by a signal.

    The library names them by the pid of the process that made them and
    removes them at a normal exit only.
    """
    for name in (f"sem.faketime_sem_{pid}", f"faketime_shm_{pid}"):
        (_SHARED_MEMORY / name).unlink(missing_ok=True)
