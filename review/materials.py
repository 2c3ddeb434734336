"""Checking and storing uploaded materials (证明材料).

A file is judged by its bytes, never by its name or the browser's content type. Images are decoded and
encoded again, which leaves behind EXIF (with GPS positions), comments and anything appended to the file.
PDFs cannot be re-encoded here; review.pdf refuses those that can run code, carry other files or hide
what they hold.
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
from .pdf import check_pdf

logger = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_MATERIALS = 20
# Phone cameras stay below this; a larger image is most likely built to exhaust memory when decoded.
MAX_PIXELS = 50_000_000
MAX_NAME_LENGTH = 100
# Tried in turn until the result fits in MAX_BYTES: re-encoded at quality 90, a phone photo can come
# out larger than the camera wrote it (a 7.9 MB JPEG became 17.1 MB).
ENCODINGS = {
    "JPEG": [{"quality": quality} for quality in (90, 80, 70)],
    "PNG": [{}, {"optimize": True}],
}
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
    for options in ENCODINGS[pillow_format]:
        out = io.BytesIO()
        image.save(out, pillow_format, **options)
        if out.tell() <= MAX_BYTES:
            return out.getvalue()
    raise ValidationError(
        _("图片处理后超过 10 MB，请降低图片的分辨率或尺寸后再上传。"), code="too_large_after_encoding"
    )


# Storing ------------------------------------------------------------------------------------------


def materials_of(application):
    """Return the application's materials, oldest first."""
    return Material.objects.for_object(application)


def add_material(*, application, kind, uploaded_file, actor, checked=None):
    """Check an uploaded file and attach it to `application`; return the new Material.

    `checked`, what check_upload returned for this same file, spares checking it twice: a caller that
    takes locks of its own checks the file before taking them.
    """
    # Decoding and re-encoding take a moment: do it before taking any lock.
    if checked is None:
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


def mark_replaced(*, earlier, replacement):
    """Mark the `earlier` materials as replaced by `replacement`; they stay for the record."""
    Material.objects.filter(pk__in=[material.pk for material in earlier], replaced_by__isnull=True).exclude(
        pk=replacement.pk
    ).update(replaced_by=replacement)


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
