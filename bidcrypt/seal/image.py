"""Seal images: a PNG read without an imaging library, drawn as the seal's visible appearance.

Any non-interlaced PNG works: greyscale, RGB or palette, 1 to 16 bits, with an
alpha channel or ``tRNS`` transparency. The pixels become a PDF image XObject
(transparency as a soft mask, or a colour-key mask), drawn with the
``Multiply`` blend mode so the text under a seal shows through the red ink as
it does on paper.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import PdfContent, ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import BasePdfFileWriter

from bidcrypt.errors import InputError
from bidcrypt.files import PathArg, as_path, read_input
from bidcrypt.i18n import Text, pick

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Refuse larger images: a seal needs a few hundred pixels, and this bounds decompression.
MAX_SIDE = 4096
MAX_FILE_SIZE = 16 << 20
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


@dataclass(frozen=True)
class SealImage:
    """A decoded seal image, ready to become a PDF image XObject.

    ``samples`` are the colour samples (rows padded to whole bytes, as in PNG
    and PDF), ``alpha`` the opacity samples when the image has any
    transparency beyond a colour key.
    """

    width: int
    height: int
    color_space: str
    bits: int
    samples: bytes = field(repr=False)
    palette: bytes | None = field(default=None, repr=False)
    alpha: bytes | None = field(default=None, repr=False)
    alpha_bits: int = 8
    color_key: tuple[int, ...] | None = None

    @classmethod
    def load(cls, path: PathArg) -> SealImage:
        """Read a PNG seal image from *path*."""
        path = as_path(path)
        too_large = pick("too large for a seal image", "作为签章图片过大")
        return cls.from_png(read_input(path, max_size=MAX_FILE_SIZE, too_large=too_large), str(path))

    @classmethod
    def from_png(cls, data: bytes, name: str = "<png>") -> SealImage:
        """Decode PNG bytes."""
        try:
            return _decode(data)
        except _PngError as exc:
            raise InputError(str(exc), path=name) from exc
        except (struct.error, zlib.error, IndexError, ValueError) as exc:
            raise InputError(Text("not a valid PNG image", "不是有效的 PNG 图片"), path=name) from exc

    @property
    def aspect(self) -> float:
        """Width over height."""
        return self.width / self.height

    def xobject(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        """Add the image (and its soft mask) to *writer*; a reference to the image XObject."""
        image = _image_stream(self.width, self.height, self.bits, self._color_space(), self.samples)
        if self.alpha is not None:
            mask = _image_stream(
                self.width, self.height, self.alpha_bits, pdf_name("/DeviceGray"), self.alpha
            )
            image[pdf_name("/SMask")] = writer.add_object(mask)
        elif self.color_key is not None:
            key = [generic.NumberObject(v) for v in self.color_key]  # type: ignore[no-untyped-call]
            image[pdf_name("/Mask")] = generic.ArrayObject(key)
        return writer.add_object(image)

    def _color_space(self) -> generic.PdfObject:
        if self.color_space == "Indexed":
            assert self.palette is not None
            return generic.ArrayObject(
                [
                    pdf_name("/Indexed"),
                    pdf_name("/DeviceRGB"),
                    generic.NumberObject(len(self.palette) // 3 - 1),  # type: ignore[no-untyped-call]
                    generic.ByteStringObject(self.palette),
                ]
            )
        return pdf_name("/" + self.color_space)


def _image_stream(
    width: int, height: int, bits: int, space: generic.PdfObject, data: bytes
) -> generic.StreamObject:
    stream = generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Image"),
            pdf_name("/Width"): generic.NumberObject(width),  # type: ignore[no-untyped-call]
            pdf_name("/Height"): generic.NumberObject(height),  # type: ignore[no-untyped-call]
            pdf_name("/ColorSpace"): space,
            pdf_name("/BitsPerComponent"): generic.NumberObject(bits),  # type: ignore[no-untyped-call]
        },
        stream_data=data,
    )
    stream.compress()  # type: ignore[no-untyped-call]
    return stream


class SealAppearance(PdfContent):
    """The seal image as pyHanko content: the image fills the content box, blended with Multiply.

    Several seals made in one run can share one image XObject: pass the
    ``(object number, generation)`` of an image written in an earlier
    revision of the same file as *existing*.
    """

    def __init__(self, image: SealImage, existing: tuple[int, int] | None = None) -> None:
        super().__init__(box=layout.BoxConstraints(width=image.width, height=image.height))
        self.image = image
        self.existing = existing
        #: (object number, generation) of the image XObject written by the last render.
        self.written: tuple[int, int] | None = None

    def render(self) -> bytes:
        """Draw the image in the unit square scaled to the box."""
        writer = self._ensure_writer
        if self.existing is not None:
            reference = generic.IndirectObject(self.existing[0], self.existing[1], writer)  # type: ignore[no-untyped-call]
        else:
            reference = self.image.xobject(writer)
        self.written = (reference.idnum, reference.generation)
        self.set_resource(ResourceType.XOBJECT, pdf_name("/Seal"), reference)
        self.set_resource(
            ResourceType.EXT_G_STATE,
            pdf_name("/Ink"),
            generic.DictionaryObject({pdf_name("/BM"): pdf_name("/Multiply")}),  # type: ignore[no-untyped-call]
        )
        return b"q /Ink gs %d 0 0 %d 0 0 cm /Seal Do Q" % (self.box.width, self.box.height)


# --- PNG decoding ----------------------------------------------------------------------------


class _PngError(Exception):
    pass


def _decode(data: bytes) -> SealImage:
    if not data.startswith(_SIGNATURE):
        raise _PngError(pick("not a PNG image", "不是 PNG 图片"))
    position = len(_SIGNATURE)
    header: tuple[int, ...] | None = None
    palette: bytes | None = None
    transparency: bytes | None = None
    compressed = bytearray()
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        body = data[position + 8 : position + 8 + length]
        if len(body) != length:
            raise _PngError(pick("truncated PNG image", "PNG 图片不完整"))
        crc = struct.unpack_from(">I", data, position + 8 + length)[0]
        if zlib.crc32(kind + body) != crc:
            raise _PngError(pick("damaged PNG image (checksum)", "PNG 图片已损坏（校验和错误）"))
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"tRNS":
            transparency = body
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
    if header is None:
        raise _PngError(pick("PNG image without a header", "PNG 图片缺少文件头"))
    width, height, bits, color_type, _, _, interlace = header
    if color_type not in _CHANNELS or bits not in _DEPTHS[color_type]:
        raise _PngError(pick("unsupported PNG colour type", "不支持的 PNG 颜色类型"))
    if interlace:
        raise _PngError(
            pick("interlaced PNG; save it without interlacing", "隔行扫描的 PNG，请另存为非隔行格式")
        )
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise _PngError(
            pick(f"image must be at most {MAX_SIDE} pixels a side", f"图片边长不能超过 {MAX_SIDE} 像素")
        )
    channels = _CHANNELS[color_type]
    stride = (width * channels * bits + 7) // 8
    inflater = zlib.decompressobj()
    raw = inflater.decompress(bytes(compressed), (stride + 1) * height + 1)
    if len(raw) != (stride + 1) * height:
        raise _PngError(pick("PNG image data has the wrong size", "PNG 图片数据长度错误"))
    pixels = _unfilter(raw, height, stride, max(1, channels * bits // 8))
    if color_type == 3:
        if palette is None:
            raise _PngError(pick("palette PNG without a palette", "调色板 PNG 缺少调色板"))
        alpha = None
        if transparency:
            table = transparency + b"\xff" * (256 - len(transparency))
            indices = _unpack(pixels, width, height, bits) if bits < 8 else pixels
            alpha = indices.translate(table)
        return SealImage(width, height, "Indexed", bits, pixels, palette=palette, alpha=alpha)
    space = "DeviceGray" if color_type in (0, 4) else "DeviceRGB"
    if color_type in (4, 6):
        colour, alpha = _split_alpha(pixels, channels, bits // 8)
        return SealImage(width, height, space, bits, colour, alpha=alpha, alpha_bits=bits)
    key = None
    if transparency:
        values = struct.unpack(f">{len(transparency) // 2}H", transparency)
        key = tuple(v for value in values for v in (value, value))
    return SealImage(width, height, space, bits, pixels, color_key=key)


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> bytes:
    """Undo PNG's per-row filters (None, Sub, Up, Average, Paeth)."""
    out = bytearray(stride * height)
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + predictor) & 0xFF
        elif kind != 0:
            raise _PngError(pick("damaged PNG image (filter)", "PNG 图片已损坏（滤波类型错误）"))
        out[row * stride : (row + 1) * stride] = line
        previous = line
    return bytes(out)


def _split_alpha(pixels: bytes, channels: int, sample_bytes: int) -> tuple[bytes, bytes]:
    """Separate the last channel (alpha) from interleaved samples."""
    pixel = channels * sample_bytes
    count = len(pixels) // pixel
    colour = bytearray((channels - 1) * sample_bytes * count)
    colour_pixel = (channels - 1) * sample_bytes
    for offset in range(colour_pixel):
        colour[offset::colour_pixel] = pixels[offset::pixel]
    alpha = bytearray(sample_bytes * count)
    for offset in range(sample_bytes):
        alpha[offset::sample_bytes] = pixels[colour_pixel + offset :: pixel]
    return bytes(colour), bytes(alpha)


def _unpack(pixels: bytes, width: int, height: int, bits: int) -> bytes:
    """Palette indices of 1, 2 or 4 bits, one byte each."""
    stride = (width * bits + 7) // 8
    mask = (1 << bits) - 1
    out = bytearray()
    for row in range(height):
        line = pixels[row * stride : (row + 1) * stride]
        for x in range(width):
            bit = x * bits
            out.append((line[bit // 8] >> (8 - bits - bit % 8)) & mask)
    return bytes(out)
