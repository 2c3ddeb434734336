import hashlib
import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from PIL import Image

from review import materials as review_materials
from review.materials import (
    MAX_MATERIALS,
    add_material,
    check_upload,
    clean_original_name,
    materials_of,
    remove_material,
)
from review.models import Material

from .files import exif_with_gps, jpeg_bytes, pdf_bytes, png_bytes, upload


def stored_files(root):
    return sorted(path for path in root.rglob("*") if path.is_file())


@pytest.fixture
def dossier(make_dossier, applicant):
    return make_dossier(applicant)


def add(dossier, name="证明.pdf", content=None, actor=None):
    return add_material(
        application=dossier, kind="身份证", uploaded_file=upload(name, content or pdf_bytes()), actor=actor
    )


def test_a_material_is_stored_under_a_random_name_with_its_facts(dossier, storage, applicant):
    content = pdf_bytes()
    material = add(dossier, "../../x.pdf", content, actor=applicant.user)
    assert material.original_name == "x.pdf"
    assert re.fullmatch(r"materials/\d{4}/\d{2}/[0-9a-f]{32}\.pdf", material.file.name)
    (path,) = stored_files(storage)
    assert path.read_bytes() == content
    assert path.resolve().is_relative_to(storage.resolve())
    assert material.size == len(content)
    assert material.sha256 == hashlib.sha256(content).hexdigest()
    assert (material.mime_type, material.extension, material.kind) == ("application/pdf", ".pdf", "身份证")
    assert material.uploaded_by == applicant.user
    assert list(materials_of(dossier)) == [material]
    assert material.application == dossier


def test_two_uploads_of_the_same_name_get_different_stored_names(dossier, storage):
    first, second = add(dossier, "a.pdf"), add(dossier, "a.pdf")
    assert first.file.name != second.file.name
    assert len(stored_files(storage)) == 2


def test_the_stored_image_is_the_re_encoded_one(dossier, storage):
    material = add(dossier, "a.jpg", jpeg_bytes())
    (path,) = stored_files(storage)
    assert material.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert material.size == path.stat().st_size


def test_a_file_checked_beforehand_is_not_checked_again(dossier, storage, monkeypatch):
    file = upload("a.png", png_bytes())
    checked = check_upload(file)
    monkeypatch.setattr(review_materials, "check_upload", lambda *args: pytest.fail("checked twice"))
    material = add_material(application=dossier, kind="身份证", uploaded_file=file, actor=None, checked=checked)
    (path,) = stored_files(storage)
    assert path.read_bytes() == checked.content
    assert material.sha256 == checked.sha256


def test_the_stored_photo_carries_no_exif_and_no_gps_position(dossier, storage):
    original = jpeg_bytes((40, 20), exif=exif_with_gps())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the upload really has GPS
    material = add(dossier, "p.jpg", original)
    with material.file.storage.open(material.file.name, "rb") as stored:
        content = stored.read()
    image = Image.open(io.BytesIO(content))
    assert image.format == "JPEG"
    assert not image.getexif() and not image.getexif().get_ifd(0x8825)
    assert "exif" not in image.info
    assert b"Exif\x00\x00" not in content and b"TestCamera" not in content


def test_the_21st_file_is_refused(dossier, storage):
    content = png_bytes()
    for _ in range(MAX_MATERIALS):
        add(dossier, "a.png", content)
    with pytest.raises(ValidationError) as caught:
        add(dossier, "a.png", content)
    assert caught.value.code == "too_many_files"
    assert materials_of(dossier).count() == MAX_MATERIALS
    assert len(stored_files(storage)) == MAX_MATERIALS


def test_a_refused_file_leaves_nothing_behind(dossier, storage):
    with pytest.raises(ValidationError):
        add(dossier, "a.jpg", b"<html></html>")
    assert not Material.objects.exists()
    assert stored_files(storage) == []


def test_a_failing_row_takes_its_stored_file_with_it(dossier, storage, monkeypatch):
    def fail(*args, **kwargs):
        raise IntegrityError("simulated")

    monkeypatch.setattr(Material, "save", fail)
    with pytest.raises(IntegrityError):
        add(dossier)
    assert stored_files(storage) == []


def test_materials_cannot_be_added_once_the_application_is_submitted(make_dossier, applicant, storage):
    dossier = make_dossier(applicant, status="submitted")
    with pytest.raises(ValidationError) as caught:
        add(dossier)
    assert caught.value.code == "materials_closed"
    assert stored_files(storage) == []


def test_materials_can_be_added_when_returned_for_more(make_dossier, applicant, storage):
    dossier = make_dossier(applicant, status="returned")
    assert add(dossier).pk


def test_removing_a_material_deletes_the_row_and_after_commit_the_file(
    dossier, storage, applicant, django_capture_on_commit_callbacks
):
    material = add(dossier)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        remove_material(material=material, actor=applicant.user)
    assert not Material.objects.exists()
    assert len(stored_files(storage)) == 1  # still there until the removal commits
    for callback in callbacks:
        callback()
    assert stored_files(storage) == []


def test_materials_cannot_be_removed_once_submitted(make_dossier, applicant, storage, dossier_model):
    dossier = make_dossier(applicant)
    material = add(dossier)
    dossier_model.objects.filter(pk=dossier.pk).update(status="submitted")
    with pytest.raises(ValidationError):
        remove_material(material=material, actor=applicant.user)
    assert Material.objects.filter(pk=material.pk).exists()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../x.pdf", "x.pdf"),
        ("C:\\Users\\张伟\\Desktop\\身份证.jpg", "身份证.jpg"),
        ("/etc/passwd", "passwd"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ("a\x00b\r\nc.pdf", "abc.pdf"),
        ("  ..  ", "材料.pdf"),
        ("", "材料.pdf"),
        ("长" * 150 + ".pdf", "长" * 96 + ".pdf"),
    ],
)
def test_original_names_are_cleaned(given, expected):
    cleaned = clean_original_name(given, ".pdf")
    assert cleaned == expected
    assert len(cleaned) <= 100
