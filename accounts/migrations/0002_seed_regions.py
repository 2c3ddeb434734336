"""Seed the regions (统筹区) with their real administrative codes; money values are demo values staff edit."""

from decimal import Decimal

from django.db import migrations

# code, name, province code, province, retiree monthly credit, resident premium 2026, LTC premium 2026,
# whether the province uses accounts province-wide.
REGIONS = [
    ("330200", "宁波市", "33", "浙江省", "110.00", "400.00", "90.00", True),
    ("330100", "杭州市", "33", "浙江省", "120.00", "400.00", "0.00", True),
    ("441900", "东莞市", "44", "广东省", "100.00", "400.00", "0.00", False),
    ("131100", "衡水市", "13", "河北省", "80.00", "400.00", "0.00", False),
    ("130100", "石家庄市", "13", "河北省", "85.00", "400.00", "0.00", False),
    ("320100", "南京市", "32", "江苏省", "110.00", "400.00", "0.00", False),
    ("370200", "青岛市", "37", "山东省", "95.00", "400.00", "0.00", False),
    ("370100", "济南市", "37", "山东省", "95.00", "400.00", "0.00", False),
    ("340100", "合肥市", "34", "安徽省", "90.00", "400.00", "0.00", False),
    ("421000", "荆州市", "42", "湖北省", "80.00", "400.00", "0.00", False),
    ("511400", "眉山市", "51", "四川省", "75.00", "400.00", "0.00", False),
    ("510600", "德阳市", "51", "四川省", "75.00", "400.00", "0.00", False),
    ("510700", "绵阳市", "51", "四川省", "75.00", "400.00", "0.00", False),
    ("630100", "西宁市", "63", "青海省", "85.00", "400.00", "0.00", False),
    ("540200", "日喀则市", "54", "西藏自治区", "90.00", "400.00", "0.00", False),
    ("540100", "拉萨市", "54", "西藏自治区", "90.00", "400.00", "0.00", False),
    ("659001", "石河子市", "65", "新疆维吾尔自治区", "85.00", "400.00", "0.00", False),
    ("360100", "南昌市", "36", "江西省", "80.00", "400.00", "0.00", False),
    ("110100", "北京市", "11", "北京市", "130.00", "400.00", "0.00", False),
    ("120100", "天津市", "12", "天津市", "120.00", "400.00", "0.00", False),
    ("620100", "兰州市", "62", "甘肃省", "80.00", "400.00", "0.00", False),
]


def seed_regions(apps, schema_editor):
    Province = apps.get_model("accounts", "Province")
    Region = apps.get_model("accounts", "Region")
    for code, name, province_code, province_name, retiree, resident, ltc, province_wide in REGIONS:
        province, _created = Province.objects.get_or_create(
            code=province_code,
            defaults={"name": province_name, "accounts_province_wide": province_wide},
        )
        Region.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "province": province,
                "retiree_monthly_credit": Decimal(retiree),
                "resident_premium": Decimal(resident),
                "ltc_premium": Decimal(ltc),
                "premium_year": 2026,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(seed_regions, migrations.RunPython.noop)]
