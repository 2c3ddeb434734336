"""Refusing PDFs that can run code, open other files or web pages, or send data, judged from their bytes.

A PDF cannot be re-encoded here, so its objects are read where a viewer finds them: in the file as
written, and inside object streams (PDF 1.5), which hold dictionaries in compressed form. Object
streams are decoded through chains of Flate, ASCIIHex and ASCII85 filters; one encoded any other way
(a predictor, LZW, encryption) is refused, because nothing can be said about what it holds. A viewer
reads no objects out of image or page content streams, so their encoding does not matter, and
scanned and printed PDFs (DCT images, Flate page content) pass.
"""

import base64
import re
import zlib
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_WS = rb"\x00\t\n\x0c\r "
_DELIMITERS = rb"()<>\[\]{}/%"
# The end of a keyword, number or name: white space, a delimiter or the end of the file.
_TOKEN_END = rb"(?![^" + _WS + _DELIMITERS + rb"])"


def _spelled(name):
    """Return a pattern for `name` with any of its letters written as a #xx escape (/J#61vaScript)."""

    def letter(char):
        high, low = b"%X" % (char >> 4), b"%X" % (char & 15)
        return rb"(?:%s|#[%s%s][%s%s])" % (re.escape(bytes([char])), high, high.lower(), low, low.lower())

    return b"".join(map(letter, name))


# Actions that run code, open programs or other files, send or import form data, play
# embedded media; and the places files ride along inside a PDF.
FORBIDDEN_NAMES = [
    b"JavaScript", b"Launch", b"GoToR", b"GoToE", b"SubmitForm", b"ImportData", b"RichMedia",
    b"EmbeddedFiles", b"EmbeddedFile", b"XFA",
]
# Short names also turn up by chance in compressed image data, so they count only where a value
# (string, dictionary, array, reference or a comment before one) follows: "/JS (...)", "/AA <<".
# Plain web links (/URI) are allowed: e-certificates carry them, and a link runs nothing by itself.
FORBIDDEN_KEYS = [b"JS", b"AA"]
FORBIDDEN = re.compile(
    rb"/(?:" + b"|".join(map(_spelled, FORBIDDEN_NAMES)) + rb")" + _TOKEN_END
    + rb"|/(?:" + b"|".join(map(_spelled, FORBIDDEN_KEYS)) + rb")" + _TOKEN_END
    + rb"[" + _WS + rb"]*[(<\[0-9%]"
)

# "stream" as a keyword after a dictionary (">>", a space or a line end before it; never "endstream"),
# then the line end a viewer skips: CR LF, LF or, from careless writers, CR alone.
STREAM_KEYWORD = re.compile(rb"(?<=[>" + _WS + rb"])stream" + _TOKEN_END)
STREAM_EOL = re.compile(rb"[ \t]*(?:\r\n|\r|\n)")
OBJ_KEYWORD = re.compile(rb"obj" + _TOKEN_END)
OBJ_HEADER = re.compile(rb"(?<![^" + _WS + _DELIMITERS + rb"])\d+[" + _WS + rb"]+\d+[" + _WS + rb"]+\Z")
# A stream dictionary, token by token. No comments and no backslash outside strings: then a fake
# "9 0 obj" written inside a string never starts a dictionary that parses (see _dictionary_at).
TOKEN = re.compile(
    rb"(?P<space>[" + _WS + rb"]+)|(?P<open_dict><<)|(?P<close_dict>>>)"
    rb"|(?P<hex><[0-9A-Fa-f" + _WS + rb"]*>)|(?P<open_array>\[)|(?P<close_array>\])"
    rb"|(?P<name>/[^" + _WS + _DELIMITERS + rb"\\]*)" + _TOKEN_END
    + rb"|(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))" + _TOKEN_END
    + rb"|(?P<keyword>true|false|null|R)" + _TOKEN_END
    + rb"|(?P<string>\((?:[^()\\]|\\.)*)",
    re.DOTALL,
)
STRING_REST = re.compile(rb"(?:[^()\\]|\\.)*", re.DOTALL)
SPACE = re.compile(rb"[" + _WS + rb"]*")
CLOSING = {"close_dict": "open_dict", "close_array": "open_array"}
ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")

DECODERS = {
    b"FlateDecode": "flate", b"Fl": "flate",
    b"ASCIIHexDecode": "hex", b"AHx": "hex",
    b"ASCII85Decode": "a85", b"A85": "a85",
}
MAX_STREAMS = 10_000
MAX_DECODED = 50 * 1024 * 1024
# Stream dictionaries hold a few entries; these bounds keep a hostile one from costing much time.
MAX_DICTIONARY = 256 * 1024
MAX_DEPTH = 32
# How far back to look for the start of the line an "obj" stands on; writers' lines are far shorter.
MAX_LINE = 64 * 1024
CHUNK = 64 * 1024


class Name(bytes):
    """A PDF name, its #xx escapes decoded."""


NULL, OTHER, REFERENCE = object(), object(), object()


class Uninspectable(Exception):
    """The PDF holds, or may hold, objects that cannot be read here."""


def check_pdf(data):
    """Refuse a PDF that can run code, open other files or web pages, or whose objects cannot all be read."""
    if not data.startswith(b"%PDF-"):
        raise ValidationError(_("PDF 文件格式不正确，请重新生成后上传。"), code="unsupported_type")
    unsafe = ValidationError(
        _("PDF 文件含有脚本、附件、网页链接或自动操作，不能上传。请上传扫描件或照片。"), code="unsafe_pdf"
    )
    if FORBIDDEN.search(data):
        raise unsafe
    try:
        for content in _ObjectStreams(data):
            if FORBIDDEN.search(content):
                raise unsafe
    except Uninspectable:
        raise ValidationError(
            _("无法检查该 PDF 文件的内容，请另存为普通 PDF 或拍照上传。"), code="uninspectable_pdf"
        ) from None


class _ObjectStreams:
    """The decoded content of every object stream in a PDF, in file order.

    Each "stream" keyword is matched to the dictionary of the object header ("12 0 obj") nearest
    before it. A keyword without such a plain dictionary, or an object stream that cannot be
    decoded, raises Uninspectable. The real header of a stream is always that nearest one, or
    else a fake one stands inside the real dictionary, in a string (see _dictionary_at) or a
    comment (see _in_comment); neither yields a dictionary that reaches the real keyword.
    """

    def __init__(self, data):
        self.data = data
        self.left = MAX_DECODED
        self.dictionaries = {}

    def __iter__(self):
        searched_to, obj = 0, -1
        for count, keyword in enumerate(STREAM_KEYWORD.finditer(self.data)):
            if count >= MAX_STREAMS:
                raise Uninspectable
            # Search back only as far as the previous keyword: each byte is searched once.
            obj = max(obj, self.data.rfind(b"obj", searched_to, keyword.start()))
            searched_to = keyword.start()
            dictionary = self._dictionary(obj, keyword.start())
            if dictionary is not None and _is_object_stream(dictionary):
                eol = STREAM_EOL.match(self.data, keyword.end())
                if eol is None:
                    raise Uninspectable
                yield self._decode(dictionary, eol.end())

    def _dictionary(self, obj, keyword_start):
        """Return the dictionary after the "obj" at `obj`, which must end just before `keyword_start`.

        None when the keyword is a word inside that dictionary, such as a title "(Live stream)".
        """
        if obj not in self.dictionaries:
            self.dictionaries[obj] = self._parse_object(obj)
        parsed = self.dictionaries[obj]
        if parsed is None:
            raise Uninspectable
        dictionary, end, space_end = parsed
        if keyword_start < end:
            return None
        if keyword_start != space_end:
            raise Uninspectable
        return dictionary

    def _parse_object(self, obj):
        """Return (dictionary, its end, where the white space after it ends) for an object, else None."""
        if obj < 0 or not OBJ_KEYWORD.match(self.data, obj):
            return None
        if not OBJ_HEADER.search(self.data, max(0, obj - 64), obj) or self._in_comment(obj):
            return None
        parsed = _dictionary_at(self.data, obj + 3)
        if parsed is None:
            return None
        return parsed[0], parsed[1], SPACE.match(self.data, parsed[1]).end()

    def _in_comment(self, start):
        """Return whether a "%" earlier on the line makes the "obj" at `start` part of a comment."""
        low = max(0, start - MAX_LINE)
        line_start = max(self.data.rfind(b"\n", low, start), self.data.rfind(b"\r", low, start))
        if line_start < 0 and low > 0:
            return True  # no writer makes such a line; do not guess
        return self.data.find(b"%", line_start + 1, start) >= 0

    def _decode(self, dictionary, start):
        """Return the stream's content decoded through its filters, or raise Uninspectable."""
        steps = _decoding_steps(dictionary)
        if not steps:
            return b""  # not encoded: the scan of the whole file has read it already
        # The first step reads the file from the stream's start on: a viewer trusting /Length reads
        # no further than a decoder that stops at its filter's end-of-data mark.
        data = self.data
        for step in steps:
            data, start = getattr(self, f"_{step}")(data, start), 0
        return data

    def _take(self, size):
        self.left -= size
        if self.left < 0:
            raise ValidationError(_("PDF 文件内容过大或结构异常，不能上传。"), code="unsafe_pdf")

    def _flate(self, data, start):
        inflater, parts, view = zlib.decompressobj(), [], memoryview(data)
        try:
            # In chunks, so that whatever follows the stream in the file is never copied whole.
            for offset in range(start, len(data), CHUNK):
                parts.append(inflater.decompress(view[offset:offset + CHUNK], self.left + 1))
                self._take(len(parts[-1]))
                if inflater.eof:
                    break
        except zlib.error:
            raise Uninspectable from None
        return b"".join(parts)

    def _hex(self, data, start):
        digits = re.sub(rb"[" + _WS + rb"]+", b"", data[start:self._end_mark(data, b">", start)])
        if not re.fullmatch(rb"[0-9A-Fa-f]*", digits):
            raise Uninspectable
        return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode())

    def _a85(self, data, start):
        text = data[start:self._end_mark(data, b"~>", start)]
        self._take(text.count(b"z") * 4)
        try:
            return base64.a85decode(text, ignorechars=b"\x00\t\n\x0c\r ")
        except ValueError:
            raise Uninspectable from None

    def _end_mark(self, data, mark, start):
        end = data.find(mark, start)
        # The search counts against the budget: many streams without an end mark must not each
        # send it through the rest of the file.
        self._take((len(data) if end < 0 else end) - start)
        if end < 0:
            raise Uninspectable
        return end


def _is_object_stream(dictionary):
    # A viewer reads objects out of a stream through /First (where they start); some do not ask
    # for /Type /ObjStm, so either one makes a stream an object stream here.
    return b"First" in dictionary or b"Extends" in dictionary or dictionary.get(b"Type") == b"ObjStm"


def _decoding_steps(dictionary):
    """Return the decoders of an object stream's filters, or raise Uninspectable if any is not plain."""
    # /F and /DP are read as /Filter and /DecodeParms by some viewers; /FFilter belongs to external files.
    if {b"F", b"DP", b"FFilter", b"FDecodeParms"} & dictionary.keys():
        raise Uninspectable
    filters = dictionary.get(b"Filter", [])
    filters = filters if isinstance(filters, list) else [filters]
    params = dictionary.get(b"DecodeParms", NULL)
    params = params if isinstance(params, list) else [params]
    if not all(isinstance(name, Name) and name in DECODERS for name in filters):
        raise Uninspectable
    # Predictors (PNG, TIFF) are not undone here.
    if not all(param is NULL or _without_predictor(param) for param in params):
        raise Uninspectable
    return [DECODERS[name] for name in filters]


def _without_predictor(param):
    return isinstance(param, dict) and param.get(b"Predictor", 1) == 1


def _dictionary_at(data, pos):
    """Return (dictionary, end) for the plain dictionary that follows `pos`, else None.

    Plain: tokens only, no comments. A fake "obj" inside a literal string then never yields a
    dictionary, because the string's closing parenthesis is a stray ")" to a parse started inside it.
    """
    stack, limit = [], min(len(data), pos + MAX_DICTIONARY)
    while True:
        match = TOKEN.match(data, pos, limit)
        if match is None:
            return None
        kind, pos = match.lastgroup, match.end()
        if kind == "space":
            continue
        if not stack and kind != "open_dict":
            return None
        if kind in ("open_dict", "open_array"):
            if len(stack) >= MAX_DEPTH:
                return None
            stack.append((kind, []))
            continue
        value, pos = _value(data, match, stack, limit)
        if value is None:
            return None
        if not stack:
            return value, pos
        stack[-1][1].append(value)


def _value(data, match, stack, limit):
    """Return (value, end) for a token other than an opening bracket; value is None when it is wrong."""
    kind, text, end = match.lastgroup, match.group(), match.end()
    if kind in CLOSING:
        if stack[-1][0] != CLOSING[kind]:
            return None, end
        items = stack.pop()[1]
        return (items if kind == "close_array" else _as_dictionary(items)), end
    if kind == "string":
        end = _string_end(data, end, limit)
        return (None if end is None else OTHER), end
    if kind == "name":
        return Name(ESCAPE.sub(lambda escape: bytes([int(escape.group(1), 16)]), text[1:])), end
    if kind == "number":
        # A PDF real is never money, but Decimal reads it exactly and keeps float off the codebase.
        return (int(text) if text.lstrip(b"+-").isdigit() else Decimal(text.decode("ascii"))), end
    if text == b"R":
        items = stack[-1][1]
        # "12 0 R" arrives as 12, 0, R: the two numbers become one reference.
        if len(items) < 2 or not all(type(item) is int and item >= 0 for item in items[-2:]):
            return None, end
        del items[-2:]
        return REFERENCE, end
    return (NULL if text == b"null" else OTHER), end


def _as_dictionary(items):
    keys, values = items[0::2], items[1::2]
    if len(keys) != len(values) or not all(isinstance(key, Name) for key in keys):
        return None
    return dict(zip(keys, values, strict=True))


def _string_end(data, pos, limit):
    """Return where a literal string ends, `pos` being at its first "(" or ")"; None if not before `limit`."""
    depth = 1
    while pos < limit and data[pos] in b"()":
        depth += 1 if data[pos] == ord("(") else -1
        pos += 1
        if depth == 0:
            return pos
        if depth > MAX_DEPTH:
            return None
        pos = STRING_REST.match(data, pos, limit).end()
    return None
