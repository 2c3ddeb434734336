"""Small files, honest and hostile, built in memory for the upload tests."""

import base64
import io
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def png_bytes(size=(20, 10), color="white", mode="RGB"):
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(size=(20, 10), color="red", exif=None):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue()


def exif_with_gps(orientation=1):
    exif = Image.Exif()
    exif[0x010F] = "TestCamera"  # Make
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (29.0, 52.0, 12.5)
    gps[3] = "E"
    gps[4] = (121.0, 32.0, 40.0)
    return exif


def png_header_only(width, height):
    """Return a PNG that declares width × height pixels but carries almost no data: a decompression bomb."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def pdf_bytes(*objects, trailer_extra=b""):
    """Return a small, well-formed PDF; `objects` are extra dictionaries appended as objects 4, 5, ..."""
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        *objects,
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"trailer\n<< /Size %d /Root 1 0 R %s>>\n" % (len(bodies) + 1, trailer_extra)
    out.write(trailer + b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def flate_stream(dictionary, content):
    """Return a stream object body: `dictionary` entries plus Flate-compressed `content`."""
    data = zlib.compress(content)
    head = b"<< %s /Filter /FlateDecode /Length %d >>\nstream\n" % (dictionary, len(data))
    return head + data + b"\nendstream"


ENCODERS = {
    b"/FlateDecode": zlib.compress,
    b"/ASCIIHexDecode": lambda data: data.hex().encode() + b">",
    b"/ASCII85Decode": lambda data: base64.a85encode(data) + b"~>",
}


def object_stream(content, *, filters=(b"/FlateDecode",), extra=b"/Type /ObjStm /N 1 /First 4", eol=b"\n"):
    """Return an object stream body holding `content`, encoded so that `filters` decode it in order."""
    data = content
    for name in reversed(filters):
        data = ENCODERS[name](data)
    head = b"<< %s /Filter [%s] /Length %d >>" % (extra, b" ".join(filters), len(data))
    return head + b"\nstream" + eol + data + b"\nendstream"
