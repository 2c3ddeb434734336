"""A stand-in application model, so review's machinery is tested without any feature app.

The model exists only while a test module that asks for it runs: it is registered, given a table,
a content type and a view permission, and removed again afterwards, so that nothing else (a
migrations check, a feature app's tests) ever sees it.
"""

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models

from review.models import Application


def define_dossier():
    class Dossier(Application):
        class Status(models.TextChoices):
            DRAFT = "draft", "草稿"
            SUBMITTED = "submitted", "已提交"
            REVIEWED = "reviewed", "初审通过"
            RETURNED = "returned", "退回补正"
            REFUSED = "refused", "不予受理"

        status = models.CharField(max_length=20, choices=Status, default=Status.DRAFT)

        TRANSITIONS = {
            Status.DRAFT: {Status.SUBMITTED},
            Status.SUBMITTED: {Status.REVIEWED, Status.RETURNED, Status.REFUSED},
            Status.RETURNED: {Status.SUBMITTED},
            Status.REVIEWED: set(),
            Status.REFUSED: set(),
        }
        MATERIAL_STATUSES = {Status.DRAFT, Status.RETURNED}
        NUMBER_PREFIX = "T"

        class Meta:
            app_label = "review"
            permissions = [("review_dossier", "初审")]

    return Dossier


@pytest.fixture(scope="module")
def dossier_model(django_db_setup, django_db_blocker):
    model = define_dossier()
    with django_db_blocker.unblock():
        with connection.schema_editor() as editor:
            editor.create_model(model)
        content_type = ContentType.objects.get_for_model(model)
        for codename in ("view_dossier", "review_dossier"):
            Permission.objects.get_or_create(
                content_type=content_type, codename=codename, defaults={"name": codename}
            )
    yield model
    with django_db_blocker.unblock():
        # By content type name, not the row above: a transactional test's flush recreates it.
        ContentType.objects.filter(app_label="review", model="dossier").delete()
        with connection.schema_editor() as editor:
            editor.delete_model(model)
    del apps.all_models["review"]["dossier"]
    apps.clear_cache()
    ContentType.objects.clear_cache()


@pytest.fixture
def make_dossier(dossier_model, db):
    def make(applicant, *, region=None, status="draft"):
        return dossier_model.objects.create(
            applicant=applicant, region=region or applicant.enrolments.get().region, status=status
        )

    return make


def grant(user, *codenames):
    """Give `user` permissions on the stand-in model and forget the cached ones."""
    permissions = Permission.objects.filter(content_type__model="dossier", codename__in=codenames)
    user.user_permissions.add(*permissions)
    for cache in ("_perm_cache", "_user_perm_cache"):
        user.__dict__.pop(cache, None)
    return user
