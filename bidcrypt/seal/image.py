"""Seal images: a PNG or JPEG decoded by Pillow, drawn as the seal's visible appearance.

Any PNG works (greyscale, RGB or palette, 1 to 16 bits, interlaced or not,
with an alpha channel or ``tRNS`` transparency), and any JPEG (greyscale,
RGB or CMYK; turned upright by its EXIF orientation). The pixels are reduced
to 8 bits a sample, transparency of any kind becomes an alpha channel, and
pyHanko's image support (:func:`pyhanko.pdf_utils.images.pil_image`) writes
them as a PDF image XObject with the alpha as a soft mask. The image is
drawn with the ``Multiply`` blend mode, so the text under a seal shows
through the red ink as it does on paper.

Hostile files are refused before they cost much: at most
:data:`MAX_FILE_SIZE` bytes are read, only the PNG or JPEG decoder runs
(chosen by the file's first bytes), and the size in the header is checked
against :data:`MAX_SIDE` before any pixel is decoded (a small file that
inflates to gigabytes, a decompression bomb, never gets that far).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

from PIL import Image, ImageFile, ImageMath, ImageOps, JpegImagePlugin, PngImagePlugin
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import PdfContent, ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.images import pil_image
from pyhanko.pdf_utils.writer import BasePdfFileWriter

from bidcrypt.errors import InputError
from bidcrypt.files import PathArg, as_path, read_input
from bidcrypt.i18n import Text, pick

#: Refuse larger images: a seal needs a few hundred pixels, and this bounds decompression.
MAX_SIDE = 4096
MAX_FILE_SIZE = 16 << 20
#: Pillow's decoders, by how their files start; nothing else is parsed.
_DECODERS: dict[bytes, type[ImageFile.ImageFile]] = {
    b"\x89PNG\r\n\x1a\n": PngImagePlugin.PngImageFile,
    b"\xff\xd8\xff": JpegImagePlugin.JpegImageFile,
}
_SPACES = {"RGB": "DeviceRGB", "L": "DeviceGray", "P": "Indexed"}
#: Pillow's modes for 16-bit greyscale (32-bit ``I`` in older Pillow).
_GREY_16 = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
#: What Pillow raises on a damaged or hostile file.
_DECODING_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
)


@dataclass(frozen=True)
class SealImage:
    """A decoded seal image, ready to become a PDF image XObject.

    ``samples`` are the colour samples, 8 bits each, rows top to bottom:
    three a pixel for ``DeviceRGB``, one for ``DeviceGray``, and one palette
    index for ``Indexed`` (with ``palette`` holding RGB triples). ``alpha``
    holds one opacity sample a pixel when the image has any transparency.
    """

    width: int
    height: int
    color_space: str
    samples: bytes = field(repr=False)
    palette: bytes | None = field(default=None, repr=False)
    alpha: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        channels = 3 if self.color_space == "DeviceRGB" else 1
        pixels = self.width * self.height
        if (
            self.color_space not in _SPACES.values()
            or len(self.samples) != channels * pixels
            or (self.alpha is not None and len(self.alpha) != pixels)
            or ((self.palette is None) != (self.color_space != "Indexed"))
        ):
            raise ValueError("the samples do not match the image's size and colour space")

    @property
    def bits(self) -> int:
        """Bits a sample: always 8 (16-bit images are reduced, smaller depths widened)."""
        return 8

    @classmethod
    def load(cls, path: PathArg) -> SealImage:
        """Read a PNG or JPEG seal image from *path*."""
        path = as_path(path)
        too_large = pick("too large for a seal image", "作为签章图片过大")
        return cls.from_bytes(read_input(path, max_size=MAX_FILE_SIZE, too_large=too_large), str(path))

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<image>") -> SealImage:
        """Decode PNG or JPEG bytes; *name* (the file's) goes into the error of a bad image."""
        decoder = next((d for signature, d in _DECODERS.items() if data.startswith(signature)), None)
        if decoder is None:
            raise InputError(Text("not a PNG or JPEG image", "不是 PNG 或 JPEG 图片"), path=name)
        try:
            # The decoder itself rather than Image.open, whose own (looser) decompression-bomb
            # check warns through the process-wide warnings filters: MAX_SIDE is checked first.
            with decoder(io.BytesIO(data)) as opened:
                width, height = opened.size
                if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
                    raise InputError(_too_many_pixels(), path=name)
                opened.load()
                picture = _normalised(opened)
        except _DECODING_ERRORS as exc:
            raise InputError(_damaged(), path=name) from exc
        return cls._of(picture)

    @classmethod
    def from_png(cls, data: bytes, name: str = "<png>") -> SealImage:
        """Decode PNG (or JPEG) bytes: the name of :meth:`from_bytes` before JPEG was read."""
        return cls.from_bytes(data, name)

    @classmethod
    def _of(cls, picture: Image.Image) -> SealImage:
        alpha = None
        if picture.mode in ("RGBA", "LA"):
            alpha = picture.getchannel("A").tobytes()
            picture = picture.convert(picture.mode[:-1])
        palette = None
        if picture.mode == "P":  # all 256 entries, so that no index points past the palette
            palette = bytes(picture.getpalette("RGB") or b"").ljust(768, b"\0")[:768]
        return cls(picture.width, picture.height, _SPACES[picture.mode], picture.tobytes(), palette, alpha)

    @property
    def aspect(self) -> float:
        """Width over height."""
        return self.width / self.height

    def pillow(self) -> Image.Image:
        """The image as a new Pillow image: mode ``RGB``, ``RGBA``, ``L``, ``LA`` or ``P``."""
        mode = next(mode for mode, space in _SPACES.items() if space == self.color_space)
        picture = Image.frombytes(mode, (self.width, self.height), self.samples)
        if self.palette is not None:
            picture.putpalette(self.palette, "RGB")
        if self.alpha is not None:
            picture.putalpha(Image.frombytes("L", (self.width, self.height), self.alpha))
        return picture

    def xobject(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        """Add the image (and its soft mask) to *writer*; a reference to the image XObject."""
        reference: generic.IndirectObject = pil_image(self.pillow(), writer)
        return reference


def _damaged() -> str:
    return pick("damaged or truncated image", "图片已损坏或不完整")


def _too_many_pixels() -> str:
    return pick(f"image must be at most {MAX_SIDE} pixels a side", f"图片边长不能超过 {MAX_SIDE} 像素")


def _normalised(picture: Image.Image) -> Image.Image:
    """*picture* upright, 8 bits a sample, as ``RGB``, ``RGBA``, ``L``, ``LA`` or ``P`` (opaque)."""
    picture = ImageOps.exif_transpose(picture)
    transparency = picture.info.get("transparency")
    if picture.mode in _GREY_16:
        return _grey_16(picture, transparency if isinstance(transparency, int) else None)
    if picture.mode == "1":
        picture = picture.convert("LA" if transparency is not None else "L")
    if picture.mode == "P" and (
        transparency is not None or picture.palette is None or picture.palette.mode != "RGB"
    ):
        return picture.convert("RGBA")
    if picture.mode in ("L", "RGB") and transparency is not None:
        return picture.convert(picture.mode + "A")
    if picture.mode in ("RGB", "RGBA", "L", "LA", "P"):
        return picture
    # CMYK or YCbCr JPEGs, premultiplied or palette-with-alpha PNGs.
    return picture.convert("RGBA" if "A" in picture.getbands() else "RGB")


def _grey_16(picture: Image.Image, key: int | None) -> Image.Image:
    """16-bit grey cut to its high byte as Pillow cuts colour (its own conversion clips); a key as alpha."""
    wide = picture.convert("I")
    grey: Image.Image = ImageMath.lambda_eval(lambda args: args["x"] >> 8, x=wide).convert("L")
    if key is None:
        return grey
    alpha: Image.Image = ImageMath.lambda_eval(lambda args: (args["x"] != key) * 255, x=wide).convert("L")
    grey.putalpha(alpha)
    return grey


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
