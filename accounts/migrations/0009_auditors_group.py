"""The group 审计人员 (auditors): they read and export the personal-data access record, nothing else."""

from django.db import migrations

AUDITORS = "审计人员"
# (model, codename, name): Django makes permissions only after the last migration, so this one makes the
# three it grants; Django's own pass later finds them in place.
PERMISSIONS = [
    ("personaldataaccess", "view_personaldataaccess", "Can view 个人信息访问记录"),
    ("personaldataaccess", "export_personaldataaccess", "导出个人信息访问记录"),
    ("secondfactorreset", "view_secondfactorreset", "Can view 双因素设备重置记录"),
]


def create_auditors(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _created = Group.objects.get_or_create(name=AUDITORS)
    for model, codename, name in PERMISSIONS:
        content_type, _created = ContentType.objects.get_or_create(app_label="accounts", model=model)
        permission, _created = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        group.permissions.add(permission)


def remove_auditors(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=AUDITORS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_access_record_append_only_on_postgresql"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_auditors, remove_auditors)]
