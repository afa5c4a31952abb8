"""Files in and out: PEM or DER envelopes in, complete outputs only out.

:func:`open_envelope` yields a seekable stream of the DER/BER envelope,
decoding a PEM file (``-----BEGIN CMS-----`` or ``PKCS7``) line by line
into a temporary file, so memory stays bounded for any size.

:func:`atomic_output` writes to a temporary file beside the output and
moves it into place only when the caller's block succeeds; on any failure
(including Ctrl-C) the temporary file is removed and nothing is left. An
existing output is never overwritten unless ``force`` is given.
"""

from __future__ import annotations

import binascii
import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

from bidcrypt.envelope import _ber as ber
from bidcrypt.errors import InputError, OutputError, OutputExistsError

#: PEM labels accepted for envelopes (OpenSSL writes CMS; older tools PKCS7).
PEM_LABELS = (b"CMS", b"PKCS7")
_MAX_PEM_LINE = 1 << 16
_BATCH = 1 << 20


def _input_error(exc: OSError, path: Path) -> InputError:
    return InputError(exc.strerror or str(exc), path=path)


@contextmanager
def open_envelope(path: Path) -> Iterator[BinaryIO]:
    """A seekable binary stream of the envelope at *path*, DER/BER or PEM."""
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise _input_error(exc, path) from exc
    with stream:
        try:
            start = stream.read(64)
            stream.seek(0)
        except OSError as exc:
            raise _input_error(exc, path) from exc
        if start.lstrip().startswith(b"-----BEGIN "):
            with tempfile.TemporaryFile(prefix="bidcrypt-pem-") as decoded:
                _decode_pem(stream, decoded)
                decoded.seek(0)
                yield decoded
        else:
            yield stream


def _decode_pem(source: BinaryIO, sink: BinaryIO) -> None:
    label: bytes | None = None
    pending = bytearray()
    while True:
        line = source.readline(_MAX_PEM_LINE)
        if not line:
            raise ber.malformed("the PEM block has no END line", "PEM 数据缺少 END 行")
        if len(line) == _MAX_PEM_LINE and not line.endswith(b"\n"):
            raise ber.malformed("PEM line too long", "PEM 行过长")
        text = line.strip()
        if label is None:
            if not text:
                continue
            if not (text.startswith(b"-----BEGIN ") and text.endswith(b"-----")):
                raise ber.malformed("not a PEM file", "不是 PEM 文件")
            label = text[len(b"-----BEGIN ") : -len(b"-----")]
            if label not in PEM_LABELS:
                raise ber.malformed(
                    f"PEM block {label.decode('ascii', 'replace')} is not a CMS envelope",
                    f"PEM 数据块 {label.decode('ascii', 'replace')} 不是数字信封",
                )
            continue
        if text.startswith(b"-----END "):
            if text != b"-----END " + label + b"-----":
                raise ber.malformed("PEM END line does not match", "PEM 的 END 行不匹配")
            if pending:
                _write_base64(bytes(pending), sink)
            return
        pending.extend(text)
        if len(pending) >= _BATCH:
            cut = len(pending) - len(pending) % 4
            _write_base64(bytes(pending[:cut]), sink)
            del pending[:cut]


def _write_base64(text: bytes, sink: BinaryIO) -> None:
    try:
        sink.write(binascii.a2b_base64(text, strict_mode=True))
    except binascii.Error as exc:
        raise ber.malformed("bad base64 in the PEM block", "PEM 数据中的 base64 编码错误") from exc


def check_output(path: Path, force: bool) -> None:
    """Raise :class:`OutputExistsError` when *path* exists and *force* is not given."""
    if not force and (path.exists() or path.is_symlink()):
        raise OutputExistsError(path=path)


class Sink(Protocol):
    """Where encrypted or decrypted bytes go: a file, a BytesIO, or nothing."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Write all of *data*."""
        ...


class NullSink:
    """Discards everything (test-opening without writing plaintext)."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Count and drop *data*."""
        return len(data)


class OutputFile:
    """An unbuffered output file whose write errors are :class:`OutputError` and whose writes are whole."""

    def __init__(self, fd: int, path: Path) -> None:
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._path = path

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Write all of *data*."""
        view = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(view):
                written = self._file.write(view[done:])
                if written is None:  # pragma: no cover - only for non-blocking files
                    continue
                done += written
        except OSError as exc:
            raise OutputError(exc.strerror or str(exc), path=self._path) from exc
        return done

    def close(self) -> None:
        """Close the file."""
        try:
            self._file.close()
        except OSError as exc:
            raise OutputError(exc.strerror or str(exc), path=self._path) from exc


@contextmanager
def atomic_output(path: Path, *, force: bool = False, private: bool = False) -> Iterator[OutputFile]:
    """Write *path* completely or not at all.

    The block writes to a temporary file in the same directory; on success
    it becomes *path* (without replacing an existing file unless *force*),
    on failure it is deleted. *private* keeps the file readable by its owner
    only (for plaintext); otherwise the usual umask applies.
    """
    check_output(path, force)
    directory = path.parent if str(path.parent) else Path()
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise OutputError(exc.strerror or str(exc), path=path) from exc
    temp = Path(temporary)
    try:
        if not private:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
        sink = OutputFile(fd, path)
        try:
            yield sink
        finally:
            sink.close()
        _publish(temp, path, force)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def _publish(temp: Path, path: Path, force: bool) -> None:
    try:
        if force:
            temp.replace(path)
            return
        try:
            os.link(temp, path)
        except FileExistsError as exc:
            raise OutputExistsError(path=path) from exc
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            check_output(path, force)
            temp.replace(path)
            return
        temp.unlink()
    except OSError as exc:
        raise OutputError(exc.strerror or str(exc), path=path) from exc
