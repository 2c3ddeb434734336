"""Demo material files for the desks' demo applications: a scanned-looking image and a one-page PDF."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas


def demo_image(name, colour="#e8f0f8"):
    """Return a PNG upload that looks like a photographed card: a pale card with a few grey lines."""
    image = Image.new("RGB", (640, 400), "white")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((20, 20, 620, 380), radius=24, fill=colour, outline="#7a8ca0", width=3)
    draw.rectangle((440, 80, 580, 260), fill="#c9d3de")
    for row in range(5):
        draw.rectangle((60, 90 + row * 44, 380 - row * 30, 106 + row * 44), fill="#8a96a3")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def demo_pdf(name, title, lines):
    """Return a one-page PDF upload with `title` and `lines`, in the built-in Chinese font."""
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    width, height = A4
    page.setFont("STSong-Light", 20)
    page.drawCentredString(width / 2, height - 90, title)
    page.setFont("STSong-Light", 12)
    for index, line in enumerate(lines):
        page.drawString(72, height - 150 - index * 24, line)
    page.showPage()
    page.save()
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/pdf")
