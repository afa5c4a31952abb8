"""The sessions a service hosts: each folder loaded once, its blocking calls run in a thread under its lock.

The library (the ledger, the opening of a bid) blocks; the service runs it
in a worker thread (:func:`anyio.to_thread.run_sync`) so that the event
loop goes on serving the hall and the event stream. Changes of one session
run one at a time (an :class:`anyio.Lock` per session; the session's own
file lock keeps other processes, such as ``opening pause``, in step);
reads run beside them. Releases run beside each other and beside the other
changes (:meth:`HostedSession.parallel_change`): ``accept_release`` checks and
opens a bid without the session lock and takes it only to record.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from bidcrypt.errors import InputError
from bidcrypt.i18n import Text
from bidcrypt.keys import KeySource
from bidcrypt.opening import OpeningProcesses, OpeningSession
from bidcrypt.remote.status import StatusCache

__all__ = ["HostedSession", "host_sessions"]

T = TypeVar("T")


@dataclass
class HostedSession:
    """One session folder served under ``/s/<session id>/``."""

    session_id: str
    session: OpeningSession
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    #: How many changes the service made (whether they succeeded or were refused and recorded).
    changes: int = 0
    cache: StatusCache = field(default_factory=StatusCache)
    _release_keys: KeySource | None = None
    _processes: OpeningProcesses | None = None
    _keys_guard: threading.Lock = field(default_factory=threading.Lock)

    def release_keys(self) -> KeySource:
        """The session's release key, read once for the service's life (reading an RSA key is slow).

        Used from the threads of :meth:`change` and :meth:`parallel_change`, several at a time.
        """
        with self._keys_guard:
            if self._release_keys is None:
                self._release_keys = self.session.release_keys()
            return self._release_keys

    def opening_processes(self) -> OpeningProcesses:
        """The worker processes that open released bids, started at the first release, kept till the close.

        Releases of different bids then open on every core at once (threads
        alone share one core for Python code).
        """
        with self._keys_guard:
            if self._processes is None:
                self._processes = OpeningProcesses(os.cpu_count() or 1)
            return self._processes

    def close(self) -> None:
        """Stop the opening processes, forget the release key and close the ledger."""
        if self._processes is not None:
            self._processes.close()
            self._processes = None
        if self._release_keys is not None:
            self._release_keys.close()
            self._release_keys = None
        self.session.close_ledger()

    async def change(self, work: Callable[[OpeningSession], T]) -> T:
        """Run *work* (which changes the session) in a thread, one change of this session at a time."""
        async with self.lock:
            try:
                return await anyio.to_thread.run_sync(work, self.session)
            finally:
                self.changes += 1

    async def parallel_change(self, work: Callable[[OpeningSession], T]) -> T:
        """Run *work* (which changes the session under the session's own lock, and does its slow part
        without it, as ``accept_release`` does) in a thread, beside this session's other changes."""
        try:
            return await anyio.to_thread.run_sync(work, self.session)
        finally:
            self.changes += 1

    async def status(self, now: dt.datetime) -> dict[str, Any]:
        """The session's status at *now* (see :class:`StatusCache`)."""
        changes = self.changes
        return await anyio.to_thread.run_sync(
            lambda: self.cache.status(self.session, self.session_id, now, changes)
        )

    async def read(self, work: Callable[[OpeningSession], T]) -> T:
        """Run *work* (which only reads) in a thread."""
        return await anyio.to_thread.run_sync(work, self.session)


def _session_id(session: OpeningSession, folder: str | os.PathLike[str]) -> str:
    """The session's id; a session without a profile (made without ``--custody``) is not served."""
    identifier = session.session_id
    if not identifier or not session.has_profile:
        raise InputError(
            Text(
                "not a remote-opening session (made without --custody: it has no profile)",
                "不是远程开标会话（创建时未指定 --custody，没有会话配置文件）",
            ),
            path=folder,
        )
    return identifier


def host_sessions(folders: Sequence[str | os.PathLike[str]]) -> dict[str, HostedSession]:
    """Load each session folder; refuse a folder that is not a session, or two of the same session."""
    hosted: dict[str, HostedSession] = {}
    for folder in folders:
        session = OpeningSession.load(Path(folder))
        try:
            identifier = _session_id(session, folder)
        except InputError:
            session.close_ledger()
            raise
        if identifier in hosted:
            session.close_ledger()
            raise InputError(
                Text("the session {session} is given twice", "会话 {session} 重复", session=identifier),
                path=folder,
            )
        hosted[identifier] = HostedSession(identifier, session)
    return hosted
