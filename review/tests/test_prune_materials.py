import os
import time
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from review.materials import add_material

from .files import pdf_bytes, upload


@pytest.fixture
def files(make_dossier, applicant, storage):
    """A material in use, an old file nobody refers to, and a young one (an upload in progress)."""
    dossier = make_dossier(applicant)
    pdf = upload("a.pdf", pdf_bytes())
    material = add_material(application=dossier, kind="身份证", uploaded_file=pdf, actor=None)
    old = default_storage.save("materials/2026/01/orphan.pdf", ContentFile(b"%PDF-1.7"))
    young = default_storage.save("materials/2026/11/young.pdf", ContentFile(b"%PDF-1.7"))
    two_days_ago = time.time() - 2 * 86400
    for name in (material.file.name, old):
        os.utime(default_storage.path(name), (two_days_ago, two_days_ago))
    return material.file.name, old, young


def test_old_files_without_a_row_are_deleted_and_the_rest_kept(files):
    in_use, old, young = files
    out = StringIO()
    call_command("prune_materials", stdout=out)
    assert default_storage.exists(in_use)
    assert not default_storage.exists(old)
    assert default_storage.exists(young)
    assert "deleted 1 orphaned file(s)" in out.getvalue()


def test_a_dry_run_deletes_nothing(files):
    in_use, old, young = files
    out = StringIO()
    call_command("prune_materials", "--dry-run", stdout=out)
    assert default_storage.exists(old)
    assert old in out.getvalue() and "would delete 1" in out.getvalue()


def test_an_empty_storage_is_fine(db, storage):
    out = StringIO()
    call_command("prune_materials", stdout=out)
    assert "deleted 0" in out.getvalue()
