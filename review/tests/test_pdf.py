import io
import re
import time
import zlib

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from review.materials import check_upload

from .files import flate_stream, object_stream, pdf_bytes, upload

# An object stream's content: "object 4 at offset 0", then the object.
HIDDEN_SCRIPT = b"4 0 << /Type /Action /S /JavaScript /JS (app.alert(1)) >>"
INNOCENT = b"4 0 << /Type /Annot /Subtype /Square /Rect [0 0 10 10] >>"
FLATE, HEX, A85 = b"/FlateDecode", b"/ASCIIHexDecode", b"/ASCII85Decode"


def accepted(data):
    return check_upload(upload("a.pdf", data)).content == data


def refusal(data):
    with pytest.raises(ValidationError) as caught:
        check_upload(upload("a.pdf", data))
    return caught.value


def escaped(dictionary):
    """Spell the first letter of every name as #xx, as in /#4AavaScript."""
    return re.sub(rb"/([A-Za-z])", lambda match: b"/#%02X" % match.group(1)[0], dictionary)


# What ordinary writers produce passes ----------------------------------------------------------------


def test_a_pdf_written_by_pillow_is_accepted():
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), "white").save(buffer, "PDF")
    assert b"/DCTDecode" in buffer.getvalue()
    assert accepted(buffer.getvalue())


def test_a_multi_page_pillow_pdf_with_a_fax_encoded_page_is_accepted():
    buffer = io.BytesIO()
    Image.new("L", (60, 40)).save(buffer, "PDF", save_all=True, append_images=[Image.new("1", (16, 16))])
    assert b"/CCITTFaxDecode" in buffer.getvalue() and b"/DecodeParms" in buffer.getvalue()
    assert accepted(buffer.getvalue())


def test_a_pdf_with_flate_page_content_is_accepted():
    assert accepted(pdf_bytes(flate_stream(b"", b"BT /F1 12 Tf 72 712 Td (hello) Tj ET")))


def test_a_pdf_with_a_web_link_is_accepted():
    # E-certificates link to their issuer's check page; a link runs nothing by itself.
    link = b"<< /Type /Annot /Subtype /Link /A << /S /URI /URI (https://example.invalid/check) >> >>"
    assert accepted(pdf_bytes(link))


def test_images_and_cross_reference_streams_with_predictors_are_accepted():
    # Scanners and "print to PDF" use PNG predictors for images and the cross-reference stream;
    # no viewer reads objects out of those, so their encoding is not ours to decode.
    image = flate_stream(
        b"/Type /XObject /Subtype /Image /Width 2 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8"
        b" /DecodeParms << /Predictor 15 /Columns 2 >>",
        b"\x02\x10\x20",
    )
    xref = flate_stream(
        b"/Type /XRef /W [1 2 1] /Size 6 /DecodeParms << /Columns 4 /Predictor 12 >>", bytes(30)
    )
    assert accepted(pdf_bytes(image, xref))


@pytest.mark.parametrize("filters", [(FLATE,), (HEX, FLATE), (A85, FLATE), ()])
def test_a_harmless_object_stream_is_decoded_and_accepted(filters):
    assert accepted(pdf_bytes(object_stream(INNOCENT, filters=filters)))


def test_short_names_without_a_value_in_binary_data_are_accepted():
    image = b"<< /Subtype /Image /Length 9 >>\nstream\n\xff/URI\xff/JS\x01\nendstream"
    assert accepted(pdf_bytes(image))


# Scripts hidden in object streams are found ------------------------------------------------------------


@pytest.mark.parametrize(
    "filters", [(FLATE, FLATE), (HEX,), (A85,), (HEX, FLATE), (A85, FLATE), (FLATE, FLATE, FLATE)]
)
def test_a_script_behind_a_chain_of_filters_is_found(filters):
    assert refusal(pdf_bytes(object_stream(HIDDEN_SCRIPT, filters=filters))).code == "unsafe_pdf"


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r", b" \r\n"])
def test_a_script_is_found_whatever_line_end_follows_the_stream_keyword(eol):
    assert refusal(pdf_bytes(object_stream(HIDDEN_SCRIPT, eol=eol))).code == "unsafe_pdf"


def test_an_object_stream_without_its_type_is_still_read():
    data = pdf_bytes(object_stream(HIDDEN_SCRIPT, extra=b"/N 1 /First 4"))
    assert refusal(data).code == "unsafe_pdf"


def test_an_object_stream_that_inflates_beyond_50_mb_is_refused():
    compressor = zlib.compressobj()
    data = b"".join(compressor.compress(bytes(1024 * 1024)) for _ in range(51)) + compressor.flush()
    body = b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode >>\nstream\n" + data + b"\nendstream"
    assert refusal(pdf_bytes(body)).code == "unsafe_pdf"


# What cannot be decoded is refused ---------------------------------------------------------------------


def raw_object_stream(dictionary, content=b"4 0 << >>"):
    return b"<< /Type /ObjStm /N 1 /First 4 %s >>\nstream\n%s\nendstream" % (dictionary, content)


def png_up(data, *, columns):
    """Return `data` in rows of `columns` bytes, each as its difference from the row above (PNG "Up")."""
    data += bytes(-len(data) % columns)
    rows = [data[start:start + columns] for start in range(0, len(data), columns)]
    above = [bytes(columns), *rows[:-1]]
    return b"".join(b"\x02" + bytes((a - b) % 256 for a, b in zip(row, up)) for row, up in zip(rows, above))


@pytest.mark.parametrize(
    "body",
    [
        raw_object_stream(
            b"/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4 >>",
            zlib.compress(png_up(HIDDEN_SCRIPT, columns=4)),
        ),
        raw_object_stream(b"/Filter /LZWDecode"),
        raw_object_stream(b"/Filter /RunLengthDecode"),
        raw_object_stream(b"/Filter [/Crypt /FlateDecode]"),
        raw_object_stream(b"/Filter /DCTDecode"),
        raw_object_stream(b"/Filter 9 0 R"),
        raw_object_stream(b"/Filter /FlateDecode /DecodeParms 9 0 R"),
        # Encrypted: the bytes under the Flate filter are not Flate data.
        raw_object_stream(b"/Filter /FlateDecode", bytes(range(7, 60))),
        raw_object_stream(b"/Filter /ASCIIHexDecode", b"3034 2030 zz>"),
    ],
    ids=[
        "predictor", "lzw", "run-length", "crypt", "dct", "filter-reference", "parms-reference",
        "encrypted", "bad-hex",
    ],
)
def test_an_object_stream_that_cannot_be_decoded_is_refused(body):
    error = refusal(pdf_bytes(body))
    assert error.code == "uninspectable_pdf"
    assert "无法检查" in error.message


def test_a_fake_object_header_inside_a_string_does_not_stand_in_for_the_real_one():
    # Read from "9 0 obj", the dictionary would look like an image's, whose content is skipped.
    # Which header a viewer reads is not guessed here: the file is refused.
    fake = b"/X (9 0 obj << /Subtype /Image >>)"
    body = object_stream(HIDDEN_SCRIPT, extra=b"/Type /ObjStm /N 1 /First 4 " + fake)
    assert refusal(pdf_bytes(body)).code == "uninspectable_pdf"


def test_a_comment_between_dictionary_and_stream_is_refused():
    body = object_stream(HIDDEN_SCRIPT).replace(b">>\nstream", b">> %note\nstream", 1)
    assert refusal(pdf_bytes(body)).code == "uninspectable_pdf"


def test_a_stream_keyword_without_an_object_before_it_is_refused():
    data = pdf_bytes() + b"<< /Type /ObjStm /N 1 /First 4 >>\nstream\n4 0 << >>\nendstream\n"
    assert refusal(data).code == "uninspectable_pdf"


def test_twenty_thousand_streams_are_refused_quickly():
    data = pdf_bytes(*[b"<< /Length 1 >>\nstream\nx\nendstream"] * 20_000)
    started = time.monotonic()
    assert refusal(data).code == "uninspectable_pdf"
    assert time.monotonic() - started < 3


# Actions and attachments, written plainly, escaped or hidden --------------------------------------------

ACTIONS = [
    b"<< /S /GoToR /F (other.pdf) /D [0 /Fit] >>",
    b"<< /S /GoToE /T << /R /C /N (a) >> >>",
    b"<< /S /SubmitForm /F (https://example.invalid/) >>",
    b"<< /S /ImportData /F (data.fdf) >>",
    b"<< /Type /Annot /Subtype /RichMedia /RichMediaContent 9 0 R >>",
    b"<< /S /Launch /F (calc.exe) >>",
    b"<< /Names << /EmbeddedFiles 9 0 R >> >>",
    b"<< /Type /EmbeddedFile /Length 0 >>",
    b"<< /Type /Annot /Subtype /Widget /AA << /O 9 0 R >> >>",
    b"<< /Type /Catalog /OpenAction << /S /JavaScript /JS (this.print()) >> >>",
]


@pytest.mark.parametrize("dictionary", ACTIONS)
@pytest.mark.parametrize("spelling", ["plain", "escaped"])
@pytest.mark.parametrize("place", ["file", "object stream"])
def test_actions_that_leave_the_document_or_run_code_are_refused(dictionary, spelling, place):
    if spelling == "escaped":
        dictionary = escaped(dictionary)
    body = dictionary if place == "file" else object_stream(b"4 0 " + dictionary)
    assert refusal(pdf_bytes(body)).code == "unsafe_pdf"


def test_an_open_action_that_only_shows_the_first_page_is_accepted():
    data = pdf_bytes().replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction [3 0 R /Fit]")
    assert accepted(data)


def test_the_word_stream_in_a_title_is_not_taken_for_a_stream():
    info = b"<< /Title (Live stream) /Subject (a stream\nof data) >>"
    assert accepted(pdf_bytes(info, trailer_extra=b"/Info 4 0 R "))
