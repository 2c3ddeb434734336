"""The desk for institutions, settlements, misuse cases and suspensions, as each region's clerks see it."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import ledger
from accounts.models import Notice, Region
from conftest import make_employee, make_resident, make_staff
from sharing import settlement as services
from sharing.apps import SharingConfig
from sharing.models import Institution, MisuseCase, Settlement, Suspension, hash_token

from .conftest import balance, make_binding, make_institution, post_settlement, settlement_body

pytestmark = pytest.mark.django_db

D = Decimal


def grant(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="sharing", codename__in=codenames)
    )
    return user


def desk(user, role):
    return grant(user, *SharingConfig.desk_permissions[role])


def url(model, view="changelist", *args):
    return reverse(f"admin:sharing_{model}_{view}", args=args)


def texts(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def listed(response):
    return list(response.context["cl"].result_list)


@pytest.fixture(autouse=True)
def exact_ledger(db):
    yield
    assert ledger.audit() == []


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(desk(reviewer, "reviewer"))
    return client


@pytest.fixture
def approver_client(client, approver):
    client.force_login(desk(approver, "approver"))
    return client


@pytest.fixture
def dongguan_client(client, other_region_clerk):
    client.force_login(desk(other_region_clerk, "reviewer"))
    return client


@pytest.fixture
def lender(db):
    return make_employee(balance="2000.00", name="张伟")


@pytest.fixture
def patient(lender):
    patient = make_resident(name="张小雨", birth="20150601")
    make_binding(lender, patient)
    return patient


@pytest.fixture
def case(pharmacy, lender, patient):
    services.record_misuse(
        institution=pharmacy,
        patient=patient,
        enrolment=patient.enrolments.get(),
        card_number=lender.card_number,
        amount=D("50.00"),
        reference="RX-9",
    )
    return MisuseCase.objects.get()


@pytest.fixture
def settlement(pharmacy, patient):
    return services.settle(
        institution=pharmacy,
        idempotency_key="k1",
        patient_id_number=patient.id_number,
        card_number=patient.card_number,
        amount=D("50.00"),
        category="pharmacy",
        reference="RX-1",
    ).settlement


# Misuse cases -------------------------------------------------------------------------------------


def test_a_refused_card_shows_up_for_the_patients_region_only(
    client, reviewer, other_region_clerk, lender, patient
):
    pharmacy = make_institution()
    body = settlement_body(patient, card_number=lender.card_number)
    assert post_settlement(client, pharmacy, body).status_code == 403
    case = MisuseCase.objects.get()

    client.force_login(desk(reviewer, "reviewer"))
    assert listed(client.get(url("misusecase"))) == [case]
    assert client.get(url("misusecase", "change", case.pk)).status_code == 200

    client.force_login(desk(other_region_clerk, "reviewer"))
    assert listed(client.get(url("misusecase"))) == []
    assert client.get(url("misusecase", "change", case.pk)).status_code == 404
    assert client.get(url("misusecase", "decide", case.pk, "confirm")).status_code == 404


def test_the_case_list_masks_people_and_the_detail_names_them(reviewer_client, case, lender, patient):
    html = reviewer_client.get(url("misusecase")).content.decode()
    assert "张*" in html and lender.id_number not in html and patient.id_number not in html
    assert lender.card_number not in html
    detail = reviewer_client.get(url("misusecase", "change", case.pk)).content.decode()
    assert f"张小雨（{patient.id_number}）" in detail and f"张伟（{lender.id_number}）" in detail
    assert "确认属实" in detail and "排除" in detail


@pytest.mark.parametrize(
    "query", [{"status": "open"}, {"region__id__exact": "ningbo"}, {"institution__id__exact": "it"}]
)
def test_the_case_list_filters(reviewer_client, case, pharmacy, query):
    values = {"ningbo": str(Region.objects.get(code="330200").pk), "it": str(pharmacy.pk)}
    query = {key: values.get(value, value) for key, value in query.items()}
    assert listed(reviewer_client.get(url("misusecase"), query)) == [case]


def test_the_case_list_finds_a_case_by_the_full_id_number_only(reviewer_client, case, lender, patient):
    assert listed(reviewer_client.get(url("misusecase"), {"q": patient.id_number})) == [case]
    assert listed(reviewer_client.get(url("misusecase"), {"q": lender.id_number})) == [case]
    assert listed(reviewer_client.get(url("misusecase"), {"q": patient.id_number[:10]})) == []


def test_searching_never_compares_id_numbers_with_like(reviewer_client, case, patient):
    with CaptureQueriesContext(connection) as queries:
        reviewer_client.get(url("misusecase"), {"q": patient.id_number})
    searching = [query["sql"] for query in queries if "id_number" in query["sql"]]
    assert searching and not any("LIKE" in sql.upper() for sql in searching)


def test_confirming_with_a_suspension_of_the_card_holder(reviewer_client, case, lender):
    page = reviewer_client.get(url("misusecase", "decide", case.pk, "confirm"))
    assert page.status_code == 200
    assert page.context["form"]["suspend"].initial == "card_holder"

    response = reviewer_client.post(
        url("misusecase", "decide", case.pk, "confirm"),
        {"note": "已核实", "suspend": "card_holder", "months": "6"},
    )

    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == MisuseCase.Status.CONFIRMED
    suspension = Suspension.objects.get()
    assert suspension.person == lender and suspension.months == 6
    assert "已暂停张伟的联网结算6个月" in texts(response)[0]
    assert Notice.objects.filter(person=lender, title="您的医保联网结算已暂停").exists()


def test_the_patient_is_the_default_when_the_card_is_unknown(reviewer_client, pharmacy, patient):
    services.record_misuse(
        institution=pharmacy,
        patient=patient,
        enrolment=patient.enrolments.get(),
        card_number="C-NOT-KNOWN",
        amount=D("5.00"),
        reference="R",
    )
    case = MisuseCase.objects.get()
    form = reviewer_client.get(url("misusecase", "decide", case.pk, "confirm")).context["form"]
    assert form["suspend"].initial == "patient"
    assert [value for value, _label in form.fields["suspend"].choices] == ["patient", "none"]


def test_confirming_without_a_suspension(reviewer_client, case):
    reviewer_client.post(
        url("misusecase", "decide", case.pk, "confirm"), {"note": "属实", "suspend": "none", "months": "3"}
    )
    case.refresh_from_db()
    assert case.status == MisuseCase.Status.CONFIRMED and not Suspension.objects.exists()


def test_dismissing_a_case(reviewer_client, case):
    response = reviewer_client.post(url("misusecase", "decide", case.pk, "dismiss"), {"note": "录错卡号"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == MisuseCase.Status.DISMISSED and case.decision_note == "录错卡号"


def test_a_decision_needs_a_note_and_months_in_range(reviewer_client, case):
    response = reviewer_client.post(
        url("misusecase", "decide", case.pk, "confirm"),
        {"note": "", "suspend": "card_holder", "months": "24"},
    )
    assert response.status_code == 200 and response.context["form"].errors.keys() == {"note", "months"}
    assert MisuseCase.objects.get().status == MisuseCase.Status.OPEN


def test_a_decided_case_offers_no_buttons_and_refuses_a_second_decision(reviewer_client, case):
    reviewer_client.post(url("misusecase", "decide", case.pk, "dismiss"), {"note": "录错"})
    assert "确认属实" not in reviewer_client.get(url("misusecase", "change", case.pk)).content.decode()
    response = reviewer_client.post(
        url("misusecase", "decide", case.pk, "confirm"),
        {"note": "属实", "suspend": "card_holder", "months": "3"},
    )
    assert response.status_code == 200 and "已由其他经办人员处理" in texts(response)[0]
    assert not Suspension.objects.exists()


def test_deciding_needs_the_permission(approver_client, case):
    # The approver's desk views cases but does not decide them.
    assert approver_client.get(url("misusecase", "change", case.pk)).status_code == 200
    assert approver_client.get(url("misusecase", "decide", case.pk, "dismiss")).status_code == 403
    assert (
        approver_client.post(url("misusecase", "decide", case.pk, "dismiss"), {"note": "x"}).status_code
        == 403
    )


def test_cases_cannot_be_added_changed_or_deleted(reviewer_client, case):
    assert reviewer_client.get(url("misusecase", "add")).status_code == 403
    assert reviewer_client.post(url("misusecase", "delete", case.pk), {"post": "yes"}).status_code == 403


# Suspensions --------------------------------------------------------------------------------------


def test_suspensions_are_listed_for_the_cases_region_and_read_only(reviewer_client, case, lender):
    services.confirm_misuse(
        case=case, actor=make_staff("boss", superuser=True), note="属实", suspend=lender, months=3
    )
    response = reviewer_client.get(url("suspension"))
    assert len(listed(response)) == 1 and lender.id_number not in response.content.decode()
    assert listed(reviewer_client.get(url("suspension"), {"in_force": "yes"}))
    assert not listed(reviewer_client.get(url("suspension"), {"in_force": "no"}))
    assert reviewer_client.get(url("suspension", "add")).status_code == 403


def test_another_regions_clerk_sees_no_suspension(dongguan_client, case, lender):
    services.confirm_misuse(
        case=case, actor=make_staff("boss", superuser=True), note="属实", suspend=lender, months=3
    )
    assert listed(dongguan_client.get(url("suspension"))) == []


# Settlements --------------------------------------------------------------------------------------


def test_the_settlement_list_masks_the_patient(reviewer_client, settlement, patient):
    response = reviewer_client.get(url("settlement"))
    assert listed(response) == [settlement]
    html = response.content.decode()
    assert "张**" in html and patient.id_number not in html


def fathers_or_mothers(lender):
    """The lender's relation to the patient, in Chinese and as the API says it (the fixture picks a sex)."""
    return ("父亲", "father") if lender.identity.is_male else ("母亲", "mother")


def test_the_settlement_page_shows_its_payments(reviewer_client, settlement, patient, lender):
    html = reviewer_client.get(url("settlement", "change", settlement.pk)).content.decode()
    assert f"张小雨（{patient.id_number}）" in html
    # The payer's relation to the patient in Chinese, not the API's English word.
    chinese, english = fathers_or_mothers(lender)
    assert chinese in html and english not in html
    assert "办理退款" not in html  # a reviewer has no refund permission


def test_the_refund_page_names_the_relation_in_chinese(approver_client, settlement, lender):
    html = approver_client.get(url("settlement", "refund", settlement.pk)).content.decode()
    chinese, english = fathers_or_mothers(lender)
    assert chinese in html and english not in html


def test_the_settlement_page_makes_as_many_queries_however_many_paid(client, pharmacy):
    client.force_login(make_staff("root", superuser=True))

    def queries_for(payers):
        patient = make_resident(name="张小雨", birth="20150601")
        for position in range(payers):
            make_binding(make_employee(balance="1.00", name="张伟"), patient, priority=position)
        settled = services.settle(
            institution=pharmacy,
            idempotency_key=f"k{payers}",
            patient_id_number=patient.id_number,
            card_number=patient.card_number,
            amount=D("10.00"),
            category="pharmacy",
            reference="R",
        ).settlement
        assert settled.payments.count() == payers
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("settlement", "change", settled.pk)).status_code == 200
        return len(queries)

    assert queries_for(4) == queries_for(1)


def test_another_regions_approver_cannot_refund_the_settlement(
    client, other_region_clerk, settlement, lender
):
    client.force_login(desk(other_region_clerk, "approver"))
    assert client.get(url("settlement", "refund", settlement.pk)).status_code == 404
    assert client.post(url("settlement", "refund", settlement.pk), {"reason": "x"}).status_code == 404
    selected = {"action": "refund_selected", ACTION_CHECKBOX_NAME: [settlement.pk]}
    client.post(url("settlement"), {**selected, "apply": "1", "reason": "x"})
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.SETTLED and balance(lender) == D("1950.00")


def test_another_regions_clerk_does_not_see_the_settlement(dongguan_client, settlement):
    assert listed(dongguan_client.get(url("settlement"))) == []
    assert dongguan_client.get(url("settlement", "change", settlement.pk)).status_code == 404


def test_the_settlement_list_filters_and_finds_by_id_number(reviewer_client, settlement, patient, pharmacy):
    for query in (
        {"status": "settled"},
        {"category": "pharmacy"},
        {"institution__id__exact": pharmacy.pk},
        {"q": patient.id_number},
        {"q": str(settlement.pk)},
    ):
        assert listed(reviewer_client.get(url("settlement"), query)) == [settlement], query
    for query in ({"status": "refunded"}, {"category": "inpatient"}, {"q": patient.id_number[:12]}):
        assert listed(reviewer_client.get(url("settlement"), query)) == [], query


def test_the_approver_refunds_after_confirming(approver_client, settlement, lender):
    page = approver_client.get(url("settlement", "refund", settlement.pk))
    assert page.status_code == 200 and "确认全额退款" in page.content.decode()
    assert balance(lender) == D("1950.00")

    response = approver_client.post(url("settlement", "refund", settlement.pk), {"reason": "机构申请撤销"})

    assert response.status_code == 302
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.REFUNDED
    assert "机构申请撤销" in settlement.refund_journal.description
    assert settlement.refund_journal.created_by.username == "approver"
    assert balance(lender) == D("2000.00")


def test_a_refund_needs_a_reason(approver_client, settlement):
    response = approver_client.post(url("settlement", "refund", settlement.pk), {"reason": ""})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.SETTLED


def test_a_refund_needs_the_permission(reviewer_client, settlement):
    assert reviewer_client.get(url("settlement", "refund", settlement.pk)).status_code == 403
    assert (
        reviewer_client.post(url("settlement", "refund", settlement.pk), {"reason": "x"}).status_code == 403
    )
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.SETTLED


def test_the_refund_action_on_the_list_asks_first(approver_client, settlement, lender):
    selected = {"action": "refund_selected", ACTION_CHECKBOX_NAME: [settlement.pk]}
    page = approver_client.post(url("settlement"), selected)
    assert page.status_code == 200 and "确认全额退款" in page.content.decode()
    assert balance(lender) == D("1950.00")

    response = approver_client.post(url("settlement"), {**selected, "apply": "1", "reason": "重复结算"})

    assert response.status_code == 302
    assert "已退款 1 笔结算。" in texts(response)
    assert balance(lender) == D("2000.00")
    again = approver_client.post(url("settlement"), {**selected, "apply": "1", "reason": "重复结算"})
    assert any("此前已经退款" in text for text in texts(again))
    assert balance(lender) == D("2000.00")


def test_settlements_cannot_be_added_changed_or_deleted(approver_client, settlement):
    assert approver_client.get(url("settlement", "add")).status_code == 403
    assert (
        approver_client.post(url("settlement", "delete", settlement.pk), {"post": "yes"}).status_code == 403
    )


# Institutions -------------------------------------------------------------------------------------

NEW_PHARMACY = {"code": "nb-0001", "name": "宁波新药房", "kind": "pharmacy", "is_active": "on", "amount_limit": "50000.00"}


def ningbo():
    return str(Region.objects.get(code="330200").pk)


def test_a_new_institutions_token_is_shown_once_and_stored_as_a_hash(client, approver_client, lender):
    response = approver_client.post(url("institution", "add"), {**NEW_PHARMACY, "region": ningbo()})

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    token = response.context["token"]
    assert len(token) >= 40 and token in response.content.decode()
    institution = Institution.objects.get(code="nb-0001")
    assert institution.token_hash == hash_token(token) and institution.token_hint == token[-4:]
    assert not any(token in str(row) for row in Institution.objects.values_list())
    assert not any(token in entry.change_message for entry in LogEntry.objects.all())
    # The page after it no longer shows it.
    assert token not in approver_client.get(url("institution", "change", institution.pk)).content.decode()
    # And it opens the API.
    patient = make_resident(name="张小雨", birth="20150601")
    api = client.post(
        "/api/v1/settlements",
        settlement_body(patient),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert api.status_code == 201


def test_a_clerk_creates_institutions_only_in_their_regions(approver_client):
    dongguan = str(Region.objects.get(code="441900").pk)
    response = approver_client.post(url("institution", "add"), {**NEW_PHARMACY, "region": dongguan})
    assert response.status_code == 200 and "region" in response.context["adminform"].form.errors
    assert not Institution.objects.exists()


def test_rotating_the_token_shows_the_new_one_once_and_the_old_one_stops_working(
    client, approver_client, pharmacy
):
    old = pharmacy.token
    confirm = approver_client.get(url("institution", "rotate_token", pharmacy.pk))
    assert confirm.status_code == 200 and "确认重置接口令牌" in confirm.content.decode()

    response = approver_client.post(url("institution", "rotate_token", pharmacy.pk))

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    new = response.context["token"]
    assert new != old and new in response.content.decode()
    pharmacy.refresh_from_db()
    assert pharmacy.token_hash == hash_token(new) and pharmacy.token_rotated_at
    assert client.get("/api/v1/settlements/1", HTTP_AUTHORIZATION=f"Bearer {old}").status_code == 401
    assert client.get("/api/v1/settlements/1", HTTP_AUTHORIZATION=f"Bearer {new}").status_code == 404
    assert LogEntry.objects.filter(object_id=str(pharmacy.pk), change_message="重置接口令牌").exists()


def test_rotating_needs_the_permission(reviewer_client, pharmacy):
    assert reviewer_client.get(url("institution", "change", pharmacy.pk)).status_code == 200
    assert reviewer_client.post(url("institution", "rotate_token", pharmacy.pk)).status_code == 403
    pharmacy_after = Institution.objects.get(pk=pharmacy.pk)
    assert pharmacy_after.token_hash == hash_token(pharmacy.token)


def test_another_regions_clerk_cannot_see_or_rotate_an_institution(client, other_region_clerk, pharmacy):
    client.force_login(desk(other_region_clerk, "approver"))
    assert listed(client.get(url("institution"))) == []
    assert client.post(url("institution", "rotate_token", pharmacy.pk)).status_code == 404
    dongguan = str(Region.objects.get(code="441900").pk)
    changed = {**NEW_PHARMACY, "code": pharmacy.code, "region": dongguan, "is_active": ""}
    assert client.post(url("institution", "change", pharmacy.pk), changed).status_code == 404
    after = Institution.objects.get(pk=pharmacy.pk)
    assert after.is_active and after.region.code == "330200"
    assert after.token_hash == hash_token(pharmacy.token)


def test_the_institution_list_shows_the_tokens_ending_only(approver_client, pharmacy):
    html = approver_client.get(url("institution"), {"q": pharmacy.code}).content.decode()
    assert pharmacy.name in html and f"…{pharmacy.token[-4:]}" in html and pharmacy.token not in html


# Query counts -------------------------------------------------------------------------------------


def populate(count):
    """Add `count` institutions, each with a settlement, a misuse case and a suspension."""
    boss = make_staff(f"boss{Institution.objects.count()}", superuser=True)
    for _ in range(count):
        institution = make_institution()
        payer = make_employee(balance="100.00", name="张伟")
        relative = make_resident(name="张小雨", birth="20150601")
        make_binding(payer, relative)
        services.settle(
            institution=institution,
            idempotency_key="k",
            patient_id_number=relative.id_number,
            card_number=relative.card_number,
            amount=D("10.00"),
            category="pharmacy",
            reference="R",
        )
        case = services.record_misuse(
            institution=institution,
            patient=relative,
            enrolment=relative.enrolments.get(),
            card_number=payer.card_number,
            amount=D("10.00"),
            reference="R",
        )
        services.confirm_misuse(case=case, actor=boss, note="属实", suspend=payer, months=3)


@pytest.mark.parametrize("model", ["institution", "settlement", "misusecase", "suspension"])
@pytest.mark.parametrize("who", ["clerk", "superuser"])
def test_the_lists_make_the_same_number_of_queries_however_many_rows(client, reviewer, model, who):
    user = desk(reviewer, "reviewer") if who == "clerk" else make_staff("root", superuser=True)
    client.force_login(user)
    populate(3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(model)).status_code == 200
    populate(12)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url(model))

    assert len(listed(response)) == 15
    assert len(many) == len(few), [query["sql"] for query in many]


def test_opening_a_settlement_records_a_look_at_the_patient_and_each_payer(reviewer_client, settlement, patient):
    from accounts.models import PersonalDataAccess

    reviewer_client.get(url("settlement", "change", settlement.pk))
    payers = set(settlement.payments.values_list("holder_id", flat=True))
    recorded = set(PersonalDataAccess.objects.values_list("person_id", flat=True))
    assert recorded == {patient.pk, *payers}
    assert set(PersonalDataAccess.objects.values_list("what", flat=True)) == {"结算详情"}
