"""Envelope files in: DER, BER or PEM.

:func:`open_envelope` yields a seekable stream of the DER/BER envelope,
decoding a PEM file (``-----BEGIN CMS-----`` or ``PKCS7``) line by line
into a temporary file, so memory stays bounded for any size. Outputs are
written with :func:`bidcrypt.files.atomic_output`.
"""

from __future__ import annotations

import binascii
import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from bidcrypt.envelope import _ber as ber
from bidcrypt.files import PathArg, as_path, input_error, open_input
from bidcrypt.i18n import Text

#: PEM labels accepted for envelopes (OpenSSL writes CMS; older tools PKCS7).
PEM_LABELS = (b"CMS", b"PKCS7")
_MAX_PEM_LINE = 1 << 16
_BATCH = 1 << 20


@contextmanager
def open_envelope(path: PathArg) -> Iterator[BinaryIO]:
    """A seekable binary stream of the envelope at *path*, DER/BER or PEM.

    A DER/BER file is read unbuffered: reading a header jumps from segment
    to segment of the content, a few bytes each, and the content itself is
    read in large pieces.
    """
    path = as_path(path)
    with open_input(path, buffered=False) as stream:
        try:
            start = stream.read(64)
            stream.seek(0)
        except OSError as exc:
            raise input_error(exc, path) from exc
        if start.lstrip().startswith(b"-----BEGIN "):
            with tempfile.TemporaryFile(prefix="bidcrypt-pem-") as decoded:
                _decode_pem(io.BufferedReader(stream), decoded)  # type: ignore[type-var]
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
            raise ber.malformed(Text("the PEM block has no END line", "PEM 数据缺少 END 行"))
        if len(line) == _MAX_PEM_LINE and not line.endswith(b"\n"):
            raise ber.malformed(Text("PEM line too long", "PEM 行过长"))
        text = line.strip()
        if label is None:
            if not text:
                continue
            if not (text.startswith(b"-----BEGIN ") and text.endswith(b"-----")):
                raise ber.malformed(Text("not a PEM file", "不是 PEM 文件"))
            label = text[len(b"-----BEGIN ") : -len(b"-----")]
            if label not in PEM_LABELS:
                raise ber.malformed(
                    Text(
                        "PEM block {value} is not a CMS envelope",
                        "PEM 数据块 {value} 不是数字信封",
                        value=label.decode("ascii", "replace"),
                    ),
                )
            continue
        if text.startswith(b"-----END "):
            if text != b"-----END " + label + b"-----":
                raise ber.malformed(Text("PEM END line does not match", "PEM 的 END 行不匹配"))
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
        raise ber.malformed(Text("bad base64 in the PEM block", "PEM 数据中的 base64 编码错误")) from exc
