"""Seed the withdrawal reasons and their materials; staff change both in the admin afterwards."""

from django.db import migrations

# (code, name, applied by, enabled, help text, [(material code, label), ...])
REASONS = [
    (
        "settle_abroad", "出国（境）定居", "holder", True,
        "已在国（境）外定居的参保人，可申请一次性提取个人账户余额。",
        [("id_card", "身份证"), ("settlement_proof", "出国（境）定居证明")],
    ),
    (
        "foreigner_leaving", "外籍人员离境", "holder", True,
        "在中国境内就业的外籍人员离境或解除劳动关系后，可申请提取个人账户余额。",
        [("passport", "护照"), ("departure_proof", "离境证明或终止劳动关系证明")],
    ),
    (
        "holder_death", "参保人死亡", "heir", True,
        "参保人死亡后，个人账户余额可以依法继承，由继承人申请提取。",
        [("heir_id_card", "继承人身份证"), ("death_certificate", "死亡证明"), ("heirship_proof", "继承关系证明")],
    ),
    (
        "give_up_employee", "主动放弃职工医保", "holder", True,
        "职工医保停保后不再参加职工医保的，可申请提取个人账户余额。",
        [("id_card", "身份证"), ("enrolment_stopped_proof", "职工医保停保证明")],
    ),
    (
        "cross_province_refused", "跨省转移无法转入", "holder", True,
        "跨省转移接续时新参保地无法接收个人账户的，可申请提取个人账户余额。",
        [("id_card", "身份证"), ("refusal_letter", "转入地不予接收的书面说明")],
    ),
    (
        "long_term_offsite", "长期异地居住", "holder", False,
        "部分地区规定：已办理长期异地就医备案的参保人可申请提取。仅在本地政策允许时启用。",
        [("id_card", "身份证"), ("offsite_filing_proof", "长期异地就医备案证明")],
    ),
]


def seed(apps, schema_editor):
    Reason = apps.get_model("withdrawals", "WithdrawalReason")
    Requirement = apps.get_model("withdrawals", "MaterialRequirement")
    for order, (code, name, applied_by, enabled, help_text, materials) in enumerate(REASONS, start=1):
        reason, created = Reason.objects.get_or_create(
            code=code,
            defaults={
                "name": name, "applied_by": applied_by, "enabled": enabled,
                "sort_order": order * 10, "help_text": help_text,
            },
        )
        if not created:
            continue
        Requirement.objects.bulk_create(
            Requirement(reason=reason, code=kind, label=label, required=True, sort_order=index * 10)
            for index, (kind, label) in enumerate(materials, start=1)
        )


def unseed(apps, schema_editor):
    Reason = apps.get_model("withdrawals", "WithdrawalReason")
    Application = apps.get_model("withdrawals", "WithdrawalApplication")
    codes = [row[0] for row in REASONS]
    # Reasons already used by an application stay: they are part of that application's history.
    Reason.objects.filter(code__in=codes).exclude(
        pk__in=Application.objects.values("reason_id")
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("withdrawals", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
