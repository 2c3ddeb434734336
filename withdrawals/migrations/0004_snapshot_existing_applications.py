"""Give applications opened before the snapshot the materials their reason asks for today."""

from django.db import migrations

AUTHORISATION = {"code": "authorisation", "label": "委托书（代办人办理时提供）", "required": False}


def snapshot(apps, schema_editor):
    Application = apps.get_model("withdrawals", "WithdrawalApplication")
    Requirement = apps.get_model("withdrawals", "MaterialRequirement")
    Event = apps.get_model("review", "Event")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type = ContentType.objects.filter(app_label="withdrawals", model="withdrawalapplication").first()
    for application in Application.objects.all():
        if application.material_kinds:
            continue
        kinds = [
            {"code": req.code, "label": req.label, "required": req.required}
            for req in Requirement.objects.filter(reason_id=application.reason_id).order_by("sort_order", "id")
        ]
        # Counter applications took an authorisation before the proxy was recorded; it stays optional.
        if application.counter_clerk_id:
            kinds.append(AUTHORISATION)
        application.material_kinds = kinds
        if application.status == "returned" and content_type is not None:
            last_return = Event.objects.filter(
                content_type=content_type, object_id=application.pk, to_status="returned"
            ).order_by("-created_at", "-id").first()
            application.returned_at = last_return.created_at if last_return else None
        application.save(update_fields=["material_kinds", "returned_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("withdrawals", "0003_proxy_snapshot_regions_history"),
        ("review", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(snapshot, migrations.RunPython.noop)]
