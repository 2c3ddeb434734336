import io
import random
import resource
import struct
import time

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from review import materials
from review.materials import MAX_BYTES, check_upload

from .files import exif_with_gps, flate_stream, jpeg_bytes, pdf_bytes, png_bytes, png_header_only, upload


def refusal(uploaded_file):
    with pytest.raises(ValidationError) as caught:
        check_upload(uploaded_file)
    return caught.value


# What is accepted ----------------------------------------------------------------------------------


def test_a_png_is_accepted_and_re_encoded_as_png():
    checked = check_upload(upload("照片.png", png_bytes()))
    assert (checked.mime_type, checked.extension) == ("image/png", ".png")
    assert Image.open(io.BytesIO(checked.content)).format == "PNG"


def test_a_jpeg_is_accepted_as_jpeg_whatever_its_name_says():
    checked = check_upload(upload("scan.pdf", jpeg_bytes()))
    assert (checked.mime_type, checked.extension) == ("image/jpeg", ".jpg")


def test_a_plain_pdf_is_accepted_unchanged():
    data = pdf_bytes()
    checked = check_upload(upload("证明.pdf", data))
    assert (checked.mime_type, checked.extension, checked.content) == ("application/pdf", ".pdf", data)


def test_a_pdf_with_compressed_page_content_is_accepted():
    data = pdf_bytes(flate_stream(b"", b"BT /F1 12 Tf 72 712 Td (hello) Tj ET"))
    assert check_upload(upload("a.pdf", data)).mime_type == "application/pdf"


def test_a_pdf_whose_binary_image_data_happens_to_hold_js_is_accepted():
    # "/JS" or "/AA" occur by chance in compressed data; without a value after them they mean nothing.
    image = (
        b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /Length 12 >>\n"
        b"stream\n\xff/JS\xff\x01/AA\xfe\x00\nendstream"
    )
    assert check_upload(upload("a.pdf", pdf_bytes(image))).mime_type == "application/pdf"


# Metadata is dropped -------------------------------------------------------------------------------


def test_exif_and_gps_are_gone_after_re_encoding():
    original = jpeg_bytes(exif=exif_with_gps())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the test file really has GPS
    stored = Image.open(io.BytesIO(check_upload(upload("p.jpg", original)).content))
    assert not stored.getexif()
    assert "exif" not in stored.info
    assert b"TestCamera" not in check_upload(upload("p.jpg", original)).content


def test_the_exif_orientation_is_applied_before_it_is_dropped():
    # Orientation 6: the camera was turned; the picture shows upright when rotated 90° clockwise.
    turned = jpeg_bytes((40, 20), exif=exif_with_gps(6))
    stored = Image.open(io.BytesIO(check_upload(upload("p.jpg", turned)).content))
    assert stored.size == (20, 40)


def test_jpeg_comments_and_png_text_are_dropped():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG", comment=b"secret-comment")
    assert b"secret-comment" not in check_upload(upload("a.jpg", buffer.getvalue())).content
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "secret-author")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG", pnginfo=info)
    assert b"secret-author" not in check_upload(upload("a.png", buffer.getvalue())).content


# Hostile files -------------------------------------------------------------------------------------


def test_html_named_jpg_is_refused():
    error = refusal(upload("photo.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg"))
    assert error.code == "unsupported_type"
    assert "JPG" in error.message


@pytest.mark.parametrize(
    "content", [b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", b"PK\x03\x04" + b"\0" * 40, b"MZ" + b"\0" * 100]
)
def test_other_types_are_refused_by_their_bytes(content):
    assert refusal(upload("a.png", content)).code == "unsupported_type"


def test_a_png_of_30000_by_30000_pixels_is_refused_quickly_without_using_memory():
    data = png_header_only(30_000, 30_000)
    assert len(data) < 200
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    assert refusal(upload("bomb.png", data)).code == "too_many_pixels"
    assert time.monotonic() - started < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_an_image_above_our_limit_but_below_pillows_is_refused():
    assert refusal(upload("big.png", png_header_only(8_000, 8_000))).code == "too_many_pixels"


def test_a_truncated_jpeg_is_refused_cleanly():
    data = jpeg_bytes((200, 200))
    assert refusal(upload("a.jpg", data[: len(data) // 2])).code == "bad_image"


def test_an_11_mb_file_is_refused():
    error = refusal(upload("big.pdf", b"%PDF-1.7\n" + b"0" * (11 * 1024 * 1024)))
    assert error.code == "too_large"
    assert "10 MB" in error.message


def test_a_file_larger_than_it_claims_is_refused():
    uploaded = upload("big.pdf", b"%PDF-1.7\n" + b"0" * MAX_BYTES)
    uploaded.size = 100
    assert refusal(uploaded).code == "too_large"


def test_a_file_of_exactly_10_mb_is_not_refused_for_its_size():
    data = pdf_bytes()
    data += b"%" + b"0" * (MAX_BYTES - len(data) - 1)
    assert len(data) == MAX_BYTES
    assert check_upload(upload("a.pdf", data)).mime_type == "application/pdf"


def test_an_empty_file_is_refused():
    assert refusal(upload("a.png", b"")).code == "empty"


@pytest.mark.parametrize(
    "dictionary",
    [
        b"<< /Type /Action /S /JavaScript /JS (app.alert(1)) >>",
        b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>",
        b"<< /Type /Action /S /Launch /F (calc.exe) >>",
        b"<< /Type /EmbeddedFile /Length 0 >>",
        b"<< /Type /Annot /Subtype /Widget /AA << /O 9 0 R >> >>",
        b"<< /S /SubmitForm /F (https://example.invalid) >>",
        b"<< /JS 9 0 R >>",
        b"<< /JS%comment\n(app.alert(1)) >>",
    ],
)
def test_pdfs_that_run_code_launch_or_carry_files_are_refused(dictionary):
    error = refusal(upload("a.pdf", pdf_bytes(dictionary)))
    assert error.code == "unsafe_pdf"


def test_an_open_action_with_javascript_in_the_catalog_is_refused():
    data = pdf_bytes(trailer_extra=b"").replace(
        b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (this.print()) >>"
    )
    assert refusal(upload("a.pdf", data)).code == "unsafe_pdf"


def test_javascript_hidden_in_a_compressed_object_stream_is_refused():
    hidden = b"4 0 5 40 << /S /JavaScript /JS (app.alert(1)) >> << /Type /Action >>"
    data = pdf_bytes(flate_stream(b"/Type /ObjStm /N 2 /First 9", hidden))
    assert refusal(upload("a.pdf", data)).code == "unsafe_pdf"


def test_an_object_stream_in_an_encoding_we_cannot_read_is_refused():
    data = pdf_bytes(
        b"<< /Type /ObjStm /N 1 /First 4 /Filter /LZWDecode /Length 4 >>\nstream\n3031\nendstream"
    )
    assert refusal(upload("a.pdf", data)).code == "uninspectable_pdf"


def test_a_pdf_that_is_not_a_pdf_inside_is_refused():
    # The type is read from the first bytes; "%PDF-" further in does not make a PDF.
    assert refusal(upload("a.pdf", b"<html>%PDF-1.7</html>")).code == "unsupported_type"


def test_checking_a_10_mb_pdf_takes_seconds_at_most():
    # Seeded, so that the random bytes are the same on every run.
    noise = random.Random(2026).randbytes(9 * 1024 * 1024)
    data = pdf_bytes(flate_stream(b"/Type /XObject /Subtype /Image", noise))
    started = time.monotonic()
    check_upload(upload("a.pdf", data))
    # About half a second here; the margin is for slow CI machines, the check is against runaway work.
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGBA", "I;16"])
def test_pngs_of_every_common_mode_are_accepted(mode):
    buffer = io.BytesIO()
    Image.new(mode, (6, 4)).save(buffer, "PNG")
    assert Image.open(io.BytesIO(check_upload(upload("a.png", buffer.getvalue())).content)).size == (6, 4)


def test_a_cmyk_jpeg_is_stored_as_rgb():
    buffer = io.BytesIO()
    Image.new("CMYK", (6, 4)).save(buffer, "JPEG")
    assert Image.open(io.BytesIO(check_upload(upload("a.jpg", buffer.getvalue())).content)).mode == "RGB"


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize(
    "exif",
    [
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x00" * 8,  # claims 65535 entries
        # One entry: orientation 9, which does not exist.
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x09\x00\x00",
        b"Exif\x00\x00II*\x00\xff\xff\xff\x7f",  # first directory far past the end
    ],
)
def test_a_jpeg_with_broken_exif_is_stored_without_it(exif):
    data = jpeg_bytes()
    segment = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif  # APP1, right after start of image
    checked = check_upload(upload("a.jpg", data[:2] + segment + data[2:]))
    assert not Image.open(io.BytesIO(checked.content)).getexif()


# Re-encoded images stay within the limit ------------------------------------------------------------


def noise_jpeg(quality, size=(192, 192)):
    """Return a JPEG of seeded noise: it grows when encoded again at a higher quality."""
    pixels = random.Random(7).randbytes(size[0] * size[1] * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def re_encoded_size(data, quality):
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buffer, "JPEG", quality=quality)
    return buffer.tell()


def test_a_jpeg_that_grows_when_re_encoded_is_stored_at_a_lower_quality(monkeypatch):
    original = noise_jpeg(70)
    at_90, at_70 = re_encoded_size(original, 90), re_encoded_size(original, 70)
    limit = max(len(original), (at_90 + at_70) // 2)
    assert at_70 <= limit < at_90  # quality 90 would be too large, 70 is not
    monkeypatch.setattr(materials, "MAX_BYTES", limit)
    checked = check_upload(upload("p.jpg", original))
    assert len(checked.content) <= limit
    assert Image.open(io.BytesIO(checked.content)).size == (192, 192)


def test_a_jpeg_too_large_even_at_the_lowest_quality_is_refused(monkeypatch):
    original = noise_jpeg(40)
    assert re_encoded_size(original, 70) > len(original)
    monkeypatch.setattr(materials, "MAX_BYTES", len(original))
    error = refusal(upload("p.jpg", original))
    assert error.code == "too_large_after_encoding"
    assert "10 MB" in error.message

