"""Checking and storing uploaded materials (证明材料).

A file is judged by its bytes, never by its name or the browser's content type. Images are decoded and
encoded again, which leaves behind EXIF (with GPS positions), comments and anything appended to the file.
PDFs cannot be re-encoded here, so those that can run code or carry other files are refused.
"""

import hashlib
import io
import logging
import os
import re
import struct
import unicodedata
import warnings
import zlib
from dataclasses import dataclass

import filetype
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from .models import Material

logger = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_MATERIALS = 20
# Phone cameras stay below this; a larger image is most likely built to exhaust memory when decoded.
MAX_PIXELS = 50_000_000
MAX_NAME_LENGTH = 100
JPEG_QUALITY = 90
# What Pillow raises on broken image data or broken EXIF inside it.
UNREADABLE_IMAGE_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, zlib.error, struct.error, IndexError, KeyError,
)

ALLOWED = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}
# What Pillow calls what filetype recognised; MPO is the multi-picture JPEG some phone cameras write.
PILLOW_FORMATS = {"image/jpeg": ("JPEG", {"JPEG", "MPO"}), "image/png": ("PNG", {"PNG"})}


@dataclass(frozen=True)
class CheckedUpload:
    mime_type: str
    extension: str
    content: bytes

    @property
    def sha256(self):
        return hashlib.sha256(self.content).hexdigest()


def check_upload(uploaded_file):
    """Return the upload as a CheckedUpload fit to store, or raise ValidationError saying why not."""
    data = _read_limited(uploaded_file)
    kind = filetype.guess(data)
    mime_type = kind.mime if kind else None
    if mime_type not in ALLOWED:
        raise ValidationError(
            _("只能上传 JPG、PNG 图片或 PDF 文件。请检查文件是否损坏，或换一个文件。"),
            code="unsupported_type",
        )
    if mime_type == "application/pdf":
        check_pdf(data)
        content = data
    else:
        content = reencode_image(data, *PILLOW_FORMATS[mime_type])
    return CheckedUpload(mime_type=mime_type, extension=ALLOWED[mime_type], content=content)


def _read_limited(uploaded_file):
    too_large = ValidationError(
        _("文件不能超过 10 MB。图片可以压缩后再上传，多页材料可以分成几个文件。"), code="too_large"
    )
    # The declared size is known before the body is read: refuse a large file without touching it.
    if uploaded_file.size is not None and uploaded_file.size > MAX_BYTES:
        raise too_large
    uploaded_file.seek(0)
    # Never trust the declared size alone: read at most one byte past the limit.
    data = uploaded_file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise too_large
    if not data:
        raise ValidationError(_("文件是空的，请重新选择。"), code="empty")
    return data


def reencode_image(data, pillow_format, accepted_formats):
    """Decode an image within the pixel limit and encode it again, upright and without metadata."""
    unreadable = ValidationError(_("图片无法打开，可能已损坏，请重新拍摄或换一个文件。"), code="bad_image")
    too_big = ValidationError(
        _("图片尺寸过大（超过 5000 万像素），请缩小后再上传。"), code="too_many_pixels"
    )
    try:
        # Pillow warns above its own limit and refuses far above it; ours is lower, so both mean refuse.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in accepted_formats:
                raise unreadable
            if image.width * image.height > MAX_PIXELS:
                raise too_big
            image.load()
            return _encode(image, pillow_format)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_big from None
    except UNREADABLE_IMAGE_ERRORS:
        raise unreadable from None


def _encode(image, pillow_format):
    # Turn the picture upright while the orientation tag is still there to tell how.
    ImageOps.exif_transpose(image, in_place=True)
    # Drop what the source carried (ICC profile, comments, text chunks); the encoders copy some of it.
    image.info = {key: value for key, value in image.info.items() if key == "transparency"}
    if pillow_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif pillow_format == "PNG" and image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
        image = image.convert("RGBA")
    out = io.BytesIO()
    if pillow_format == "JPEG":
        image.save(out, "JPEG", quality=JPEG_QUALITY)
    else:
        image.save(out, "PNG")
    return out.getvalue()


# PDF ----------------------------------------------------------------------------------------------

# Names that make a PDF run code, open other programs or files, send data, or carry files inside it.
PDF_FORBIDDEN_NAMES = {
    b"JavaScript", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia", b"XFA",
    b"SubmitForm", b"ImportData",
}
# Short names also turn up by chance in compressed image data, so they count only where a value
# (string, dictionary, array, reference or a comment before one) follows, as in "/JS (...)", "/AA <<".
PDF_FORBIDDEN_KEYS = {b"JS", b"AA"}
PDF_VALUE_START = re.compile(rb"[\x00\t\n\x0c\r ]*[(<\[0-9%]")
# Filters other than Flate that could hide an object stream's dictionaries from the scan below.
PDF_OPAQUE_FILTERS = {
    b"LZWDecode", b"LZW", b"ASCIIHexDecode", b"AHx", b"ASCII85Decode", b"A85", b"RunLengthDecode", b"RL",
    b"Crypt",
}
# A name token; "#xx" escapes let /J#61vaScript spell /JavaScript, so they are decoded before comparing.
PDF_NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]{1,127})")
PDF_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
PDF_STREAM = re.compile(rb"(?<!end)stream\r?\n")
# An object stream starts with pairs of integers (object number, offset), maybe after comments.
PDF_OBJECT_STREAM_HEAD = re.compile(rb"(?:[\x00\t\n\x0c\r ]|%[^\r\n]*)*\d+[\x00\t\n\x0c\r ]+\d+")
PDF_MAX_INFLATED = 50 * 1024 * 1024


def check_pdf(data):
    """Refuse a PDF that can run code or carry files, as far as its bytes show it."""
    unsafe = ValidationError(
        _("PDF 文件含有脚本、附件或自动操作，不能上传。请使用扫描或“打印为 PDF”生成的文件，或上传照片。"),
        code="unsafe_pdf",
    )
    if not data.startswith(b"%PDF-"):
        raise ValidationError(_("PDF 文件格式不正确，请重新生成后上传。"), code="unsupported_type")
    names = _pdf_names(data)
    if names & PDF_FORBIDDEN_NAMES or _has_key_with_value(data):
        raise unsafe
    if b"ObjStm" in names and (b"Encrypt" in names or names & PDF_OPAQUE_FILTERS):
        # Object streams hold dictionaries in compressed form; encrypted or oddly encoded, they
        # cannot be read here, so nothing can be said about what they contain.
        raise ValidationError(
            _("PDF 文件经过加密或使用了无法检查的编码，不能上传。请去除密码或重新“打印为 PDF”后上传。"),
            code="unsafe_pdf",
        )
    for stream in _object_streams(data):
        if _pdf_names(stream) & PDF_FORBIDDEN_NAMES or _has_key_with_value(stream):
            raise unsafe


def _pdf_names(data):
    return {_decode_name(match.group(1)) for match in PDF_NAME.finditer(data)}


def _has_key_with_value(data):
    return any(
        _decode_name(match.group(1)) in PDF_FORBIDDEN_KEYS and PDF_VALUE_START.match(data, match.end())
        for match in PDF_NAME.finditer(data)
    )


def _decode_name(raw):
    return PDF_ESCAPE.sub(lambda match: bytes([int(match.group(1), 16)]), raw)


def _object_streams(data):
    """Yield the inflated content of every Flate stream that holds objects (PDF 1.5 object streams)."""
    view, budget = memoryview(data), PDF_MAX_INFLATED
    for match in PDF_STREAM.finditer(data):
        inflater = zlib.decompressobj()
        try:
            head = inflater.decompress(view[match.end():], 1024)
            if not PDF_OBJECT_STREAM_HEAD.match(head):
                continue
            rest = inflater.decompress(inflater.unconsumed_tail, budget - len(head) + 1)
        except zlib.error:
            # Not Flate data (a JPEG image, say): nothing a reader parses as objects.
            continue
        budget -= len(head) + len(rest)
        if budget < 0:
            raise ValidationError(_("PDF 文件内容过大或结构异常，不能上传。"), code="unsafe_pdf")
        yield head + rest


# Storing ------------------------------------------------------------------------------------------


def materials_of(application):
    """Return the application's materials, oldest first."""
    return Material.objects.for_object(application)


def add_material(*, application, kind, uploaded_file, actor):
    """Check an uploaded file and attach it to `application`; return the new Material."""
    # Decoding and re-encoding take a moment: do it before taking any lock.
    checked = check_upload(uploaded_file)
    material = Material(
        content_type=ContentType.objects.get_for_model(application),
        object_id=application.pk,
        kind=kind,
        original_name=clean_original_name(uploaded_file.name, checked.extension),
        mime_type=checked.mime_type,
        extension=checked.extension,
        size=len(checked.content),
        sha256=checked.sha256,
        uploaded_by=actor,
    )
    try:
        with transaction.atomic():
            _lock_for_materials(application)
            if materials_of(application).count() >= MAX_MATERIALS:
                raise ValidationError(
                    _("每份申请最多上传 %(max)d 个文件。请删除不需要的文件后再上传。")
                    % {"max": MAX_MATERIALS},
                    code="too_many_files",
                )
            # The file goes first and the row second, so that a row that fails takes its file
            # with it. The stored name comes from upload_to and ignores the citizen's file name.
            material.file.save(checked.extension, ContentFile(checked.content), save=False)
            material.save()
    except BaseException:
        if material.file:
            material.file.storage.delete(material.file.name)
        raise
    return material


def remove_material(*, material, actor):
    """Detach a material from its application; the file is deleted once the removal is committed."""
    with transaction.atomic():
        _lock_for_materials(material.application)
        storage, name = material.file.storage, material.file.name
        material.delete()
        # Deleting only after commit keeps the file when the removal is rolled back.
        transaction.on_commit(lambda: storage.delete(name))
    logger.info("material %s (%s) removed by %s", material.sha256[:12], name, actor)


def _lock_for_materials(application):
    """Lock the application row and refuse when its status does not take material changes."""
    # The lock makes two uploads at once count each other, and a submission wait for the upload.
    locked = type(application).objects.select_for_update().get(pk=application.pk)
    if not locked.accepts_materials():
        raise ValidationError(
            _("申请当前为“%(status)s”状态，不能增删材料。") % {"status": locked.get_status_display()},
            code="materials_closed",
        )
    return locked


# Control, format and bidirectional-override characters can disguise a name ("photo\u202egpj.exe").
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def clean_original_name(name, extension):
    """Return the citizen's file name fit to show: no folders, no control characters, 100 at most."""
    name = unicodedata.normalize("NFC", str(name or ""))
    # Browsers on Windows may send "C:\\Users\\...\\x.pdf"; both separators end a folder.
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _UNSAFE_CATEGORIES)
    name = " ".join(name.split()).strip(" .")
    if not name:
        name = _("材料") + extension
    stem, suffix = os.path.splitext(name)
    if len(name) > MAX_NAME_LENGTH:
        suffix = suffix[:10]
        name = stem[: MAX_NAME_LENGTH - len(suffix)] + suffix
    return name
