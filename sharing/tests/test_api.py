"""The institution API's contract, case by case, against the test client."""

import datetime
import json
import re
from decimal import Decimal

import pytest

from accounts import ledger
from accounts.models import Account, Enrolment, JournalTransaction
from accounts.services import freeze_account, personal_account_of, stop_enrolment
from conftest import make_employee, make_person, make_resident
from sharing import settlement as services
from sharing.models import MisuseCase, Settlement, Suspension

from .conftest import (
    api_get,
    api_post,
    balance,
    id_number_of,
    make_binding,
    make_institution,
    post_settlement,
    settlement_body,
)

pytestmark = pytest.mark.django_db

SHAPE = {"id", "status", "amount", "paid_from", "cash_due", "created_at", "refunded_at"}


@pytest.fixture(autouse=True)
def exact_ledger(db):
    yield
    assert ledger.audit() == []


@pytest.fixture
def father(db):
    """张伟: a 宁波 in-service employee with ¥2,000.00."""
    return make_employee(balance="2000.00", name="张伟", id_number=id_number_of(male=True))


@pytest.fixture
def shared(father, relative):
    """张伟 shares directly with his daughter 张小雨."""
    return make_binding(father, relative)


def error_of(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]["message"]


def nothing_settled():
    return (
        not Settlement.objects.exists()
        and not JournalTransaction.objects.filter(kind=JournalTransaction.Kind.SETTLEMENT).exists()
    )


# Success and replay -------------------------------------------------------------------------------


def test_a_settlement_answers_201_with_exactly_the_documented_shape(client, pharmacy, shared, relative):
    response = post_settlement(client, pharmacy, settlement_body(relative, amount="35.50"))

    assert response.status_code == 201
    body = response.json()
    assert set(body) == SHAPE
    settlement = Settlement.objects.get()
    assert body["id"] == settlement.pk
    assert body["status"] == "settled"
    assert body["amount"] == "35.50" and body["cash_due"] == "0.00"
    assert body["paid_from"] == [{"holder": "张*", "relation": "father", "amount": "35.50"}]
    created = datetime.datetime.fromisoformat(body["created_at"])
    assert created.utcoffset() == datetime.timedelta(hours=8)
    assert abs(created - settlement.created_at) < datetime.timedelta(seconds=1)


def test_amounts_are_strings_with_two_places(client, pharmacy, shared, relative):
    body = post_settlement(client, pharmacy, settlement_body(relative, amount="7.5")).json()
    assert (
        body["amount"] == "7.50" and body["paid_from"][0]["amount"] == "7.50" and body["cash_due"] == "0.00"
    )
    assert Settlement.objects.get().amount == Decimal("7.50")


def test_the_money_moves_from_the_payer_to_the_institutions_account(
    client, pharmacy, shared, father, relative
):
    post_settlement(client, pharmacy, settlement_body(relative, amount="50.00"))

    assert balance(father) == Decimal("1950.00")
    payable = Account.objects.get(kind=Account.Kind.INSTITUTIONS_PAYABLE, region=pharmacy.region)
    assert payable.balance == Decimal("50.00")
    journal = Settlement.objects.get().journal
    assert journal.kind == JournalTransaction.Kind.SETTLEMENT
    assert journal.idempotency_key == f"settlement:{pharmacy.pk}:key-1"


def test_the_same_key_and_body_answers_200_with_the_identical_body(
    client, pharmacy, shared, father, relative
):
    first = post_settlement(client, pharmacy, settlement_body(relative))
    again = post_settlement(client, pharmacy, settlement_body(relative))

    assert first.status_code == 201 and again.status_code == 200
    assert again.content == first.content
    assert Settlement.objects.count() == 1
    assert balance(father) == Decimal("1950.00")


def test_the_same_amount_written_differently_is_the_same_request(client, pharmacy, shared, relative):
    first = post_settlement(client, pharmacy, settlement_body(relative, amount="50"))
    again = post_settlement(client, pharmacy, settlement_body(relative, amount="50.00"))
    assert again.status_code == 200 and again.json() == first.json()


@pytest.mark.parametrize(
    "change", [{"amount": "50.01"}, {"reference": "RX-0002"}, {"category": "outpatient"}]
)
def test_the_same_key_with_another_body_answers_409_and_moves_nothing(
    client, pharmacy, shared, father, relative, change
):
    post_settlement(client, pharmacy, settlement_body(relative))
    response = post_settlement(client, pharmacy, settlement_body(relative, **change))

    message = error_of(response, 409, "idempotency_key_reused")
    assert "Idempotency-Key" in message
    assert Settlement.objects.count() == 1
    assert balance(father) == Decimal("1950.00")


def test_keys_belong_to_each_institution(client, pharmacy, other_pharmacy, shared, father, relative):
    assert post_settlement(client, pharmacy, settlement_body(relative)).status_code == 201
    assert post_settlement(client, other_pharmacy, settlement_body(relative)).status_code == 201
    assert balance(father) == Decimal("1900.00")


def test_a_patient_nobody_pays_for_is_settled_all_in_cash(client, pharmacy, relative):
    response = post_settlement(client, pharmacy, settlement_body(relative, amount="88.00"))

    assert response.status_code == 201
    body = response.json()
    assert body["paid_from"] == [] and body["cash_due"] == "88.00"
    settlement = Settlement.objects.get()
    assert settlement.paid == 0 and settlement.journal is None


def test_the_patients_own_account_pays_with_relation_self(client, pharmacy, father):
    body = post_settlement(client, pharmacy, settlement_body(father, amount="12.34")).json()
    assert body["paid_from"] == [{"holder": "张*", "relation": "self", "amount": "12.34"}]
    assert balance(father) == Decimal("1987.66")


def test_a_lower_case_x_in_the_id_number_is_read_as_x(client, pharmacy):
    patient = make_resident(name="李雪", id_number="11010119900307803X")
    response = post_settlement(
        client, pharmacy, settlement_body(patient, patient_id_number="11010119900307803x")
    )
    assert response.status_code == 201


# Authentication -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer ", "Bearer wrong-token", "Basic abc", "demo-pharmacy-token"]
)
def test_a_missing_or_wrong_token_answers_401(client, pharmacy, shared, relative, authorization):
    headers = {"HTTP_IDEMPOTENCY_KEY": "k"}
    if authorization is not None:
        headers["HTTP_AUTHORIZATION"] = authorization
    response = client.post(
        "/api/v1/settlements", settlement_body(relative), content_type="application/json", **headers
    )
    error_of(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert nothing_settled()


def test_an_inactive_institution_is_refused(client, shared, relative):
    closed = make_institution(is_active=False)
    error_of(post_settlement(client, closed, settlement_body(relative)), 401, "unauthorized")
    error_of(api_get(client, closed, "/api/v1/settlements/1"), 401, "unauthorized")
    assert nothing_settled()


def test_the_token_is_stored_only_as_its_hash(pharmacy):
    assert pharmacy.token not in pharmacy.token_hash
    assert pharmacy.token_hint == pharmacy.token[-4:]


# Refusals -----------------------------------------------------------------------------------------


def test_another_persons_card_answers_403_card_mismatch_and_is_recorded(
    client, pharmacy, shared, father, relative
):
    response = post_settlement(
        client,
        pharmacy,
        settlement_body(relative, card_number=father.card_number, amount="50.00"),
    )

    message = error_of(response, 403, "card_mismatch")
    assert "卡不能共用" in message
    assert nothing_settled()
    assert balance(father) == Decimal("2000.00")
    case = MisuseCase.objects.get()
    assert (case.institution, case.patient, case.card_holder) == (pharmacy, relative, father)
    assert case.card_number == father.card_number
    assert case.amount == Decimal("50.00") and case.reference == "RX-0001"
    assert case.region.code == "330200" and case.status == MisuseCase.Status.OPEN


def test_a_retried_mismatch_is_recorded_once(client, pharmacy, shared, father, relative):
    body = settlement_body(relative, card_number=father.card_number)
    error_of(post_settlement(client, pharmacy, body), 403, "card_mismatch")
    error_of(post_settlement(client, pharmacy, body), 403, "card_mismatch")
    error_of(post_settlement(client, pharmacy, body, key="another-key"), 403, "card_mismatch")
    assert MisuseCase.objects.count() == 2


@pytest.mark.parametrize("card", ["{card} ", " {card}", "{card}\n", "\t{card}\r\n"])
def test_stray_blanks_around_the_patients_own_card_are_not_misuse(client, pharmacy, shared, relative, card):
    # Read as sent, her own card would be "unknown": a 冒名就医 case whose default is to suspend her.
    response = post_settlement(
        client, pharmacy, settlement_body(relative, card_number=card.format(card=relative.card_number))
    )

    assert response.status_code == 201, response.content
    assert not MisuseCase.objects.exists()
    again = post_settlement(client, pharmacy, settlement_body(relative))
    assert again.status_code == 200 and again.content == response.content


@pytest.mark.parametrize("card", ["", "   ", "\n"])
def test_a_blank_card_number_answers_422_invalid_card_number(client, pharmacy, shared, relative, card):
    error_of(
        post_settlement(client, pharmacy, settlement_body(relative, card_number=card)),
        422,
        "invalid_card_number",
    )
    assert nothing_settled() and not MisuseCase.objects.exists()


def test_an_unknown_card_is_recorded_without_a_card_holder(client, pharmacy, shared, relative):
    error_of(
        post_settlement(client, pharmacy, settlement_body(relative, card_number="C000")), 403, "card_mismatch"
    )
    case = MisuseCase.objects.get()
    assert case.card_holder is None and case.card_number == "C000"


def suspend(person, *, starts_on, months=3):
    case = MisuseCase.objects.create(
        institution=make_institution(),
        patient=person,
        card_number="C1",
        region_id=person.enrolments.get().region_id,
        amount=Decimal("1.00"),
        reference="R",
    )
    from conftest import make_staff

    return Suspension.objects.create(
        person=person,
        case=case,
        months=months,
        starts_on=starts_on,
        ends_on=services.add_months(starts_on, months),
        created_by=make_staff(f"clerk{case.pk}", "330200"),
    )


def test_a_suspended_patient_answers_403_settlement_suspended(client, pharmacy, shared, father, relative):
    suspension = suspend(relative, starts_on=services.today() - datetime.timedelta(days=10))

    message = error_of(
        post_settlement(client, pharmacy, settlement_body(relative)), 403, "settlement_suspended"
    )
    assert f"{suspension.ends_on.year}年" in message
    assert nothing_settled()
    assert balance(father) == Decimal("2000.00")


def test_settlement_resumes_on_the_day_the_suspension_ends(client, pharmacy, shared, relative):
    today = services.today()
    suspension = suspend(relative, starts_on=services.add_months(today, -3) if today.day <= 28 else today)
    Suspension.objects.filter(pk=suspension.pk).update(
        starts_on=today - datetime.timedelta(days=90), ends_on=today
    )
    assert post_settlement(client, pharmacy, settlement_body(relative)).status_code == 201


def test_a_suspension_that_has_not_begun_refuses_nothing(client, pharmacy, shared, relative):
    suspend(relative, starts_on=services.today() + datetime.timedelta(days=1))
    assert post_settlement(client, pharmacy, settlement_body(relative)).status_code == 201


def test_an_unknown_patient_answers_422_unknown_patient(client, pharmacy):
    stranger = "110101199003074514"
    body = {
        "patient_id_number": stranger,
        "card_number": f"C{stranger}",
        "amount": "5.00",
        "category": "pharmacy",
        "reference": "R",
    }
    error_of(post_settlement(client, pharmacy, body), 422, "unknown_patient")
    assert nothing_settled() and not MisuseCase.objects.exists()


def test_a_patient_without_an_active_enrolment_answers_422(client, pharmacy, father):
    stop_enrolment(enrolment=father.enrolments.get())
    error_of(post_settlement(client, pharmacy, settlement_body(father)), 422, "patient_not_insured")
    assert nothing_settled()


def test_a_person_in_the_registry_with_no_enrolment_is_not_insured(client, pharmacy):
    person = make_person(name="王五")
    error_of(post_settlement(client, pharmacy, settlement_body(person)), 422, "patient_not_insured")


# Validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [
        "-5",
        "0",
        "0.00",
        "abc",
        "1.234",
        "1e3",
        "1E3",
        "",
        " 5",
        "5 ",
        "+5",
        "5.",
        ".5",
        "1,000",
        "05",
        "0x10",
        "NaN",
        "Infinity",
        "١٢",
        "1234567890123.00",
    ],
)
def test_a_malformed_amount_string_answers_422_invalid_amount(client, pharmacy, shared, relative, amount):
    response = post_settlement(client, pharmacy, settlement_body(relative, amount=amount))
    error_of(response, 422, "invalid_amount")
    assert nothing_settled()


@pytest.mark.parametrize("amount", [-5, 0, 1.234, 1e3, 50, 50.0, 35.5, None, True, ["50.00"], {"yuan": "50"}])
def test_an_amount_that_is_not_a_string_answers_422_invalid_amount(
    client, pharmacy, shared, relative, amount
):
    response = post_settlement(client, pharmacy, settlement_body(relative, amount=amount))
    message = error_of(response, 422, "invalid_amount")
    assert "字符串" in message
    assert nothing_settled()


def test_numbers_in_the_raw_body_never_become_floats(client, pharmacy, shared, relative):
    raw = json.dumps(settlement_body(relative)).replace('"50.00"', "1e400")
    response = client.post(
        "/api/v1/settlements",
        raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {pharmacy.token}",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    error_of(response, 422, "invalid_amount")


@pytest.mark.parametrize("category", ["PHARMACY", "dental", "", None, 1])
def test_a_bad_category_answers_422_invalid_category(client, pharmacy, shared, relative, category):
    error_of(
        post_settlement(client, pharmacy, settlement_body(relative, category=category)),
        422,
        "invalid_category",
    )
    assert nothing_settled()


@pytest.mark.parametrize(
    ("field", "code"),
    [
        ("patient_id_number", "invalid_patient_id_number"),
        ("card_number", "invalid_card_number"),
        ("amount", "invalid_amount"),
        ("category", "invalid_category"),
        ("reference", "invalid_reference"),
    ],
)
def test_a_missing_field_answers_422_with_its_code(client, pharmacy, shared, relative, field, code):
    body = settlement_body(relative)
    del body[field]
    message = error_of(post_settlement(client, pharmacy, body), 422, code)
    assert field in message


@pytest.mark.parametrize("reference", ["", "   ", "R" * 65])
def test_a_bad_reference_answers_422(client, pharmacy, shared, relative, reference):
    error_of(
        post_settlement(client, pharmacy, settlement_body(relative, reference=reference)),
        422,
        "invalid_reference",
    )


def test_a_reference_of_64_characters_is_accepted(client, pharmacy, shared, relative):
    assert post_settlement(client, pharmacy, settlement_body(relative, reference="R" * 64)).status_code == 201


@pytest.mark.parametrize("id_number", ["330203201506011021", "3302032015060110", "33020320151301102X"])
def test_a_malformed_id_number_says_which_part_is_wrong(client, pharmacy, id_number):
    body = {
        "patient_id_number": id_number,
        "card_number": "C1",
        "amount": "5.00",
        "category": "pharmacy",
        "reference": "R",
    }
    message = error_of(post_settlement(client, pharmacy, body), 422, "invalid_patient_id_number")
    assert "身份证号码" in message


def test_a_missing_idempotency_key_answers_400(client, pharmacy, shared, relative):
    message = error_of(
        post_settlement(client, pharmacy, settlement_body(relative), key=None), 400, "invalid_idempotency_key"
    )
    assert "Idempotency-Key" in message
    assert nothing_settled()


@pytest.mark.parametrize("key", ["k" * 65, "has space", "中文"])
def test_a_malformed_idempotency_key_answers_400(client, pharmacy, shared, relative, key):
    # Non-ASCII cannot travel in a header as such; the test client sends it as given.
    error_of(
        post_settlement(client, pharmacy, settlement_body(relative), key=key), 400, "invalid_idempotency_key"
    )
    assert nothing_settled()


def test_an_idempotency_key_of_64_characters_is_accepted(client, pharmacy, shared, relative):
    assert post_settlement(client, pharmacy, settlement_body(relative), key="k" * 64).status_code == 201


@pytest.mark.parametrize("raw", ["{bad json", "[]", '"text"', "", "null", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_answers_400_malformed_json(client, pharmacy, shared, relative, raw):
    response = client.post(
        "/api/v1/settlements",
        raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {pharmacy.token}",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    error_of(response, 400, "malformed_json")
    assert nothing_settled()


def test_nan_in_the_body_is_malformed_json(client, pharmacy, shared, relative):
    raw = json.dumps(settlement_body(relative)).replace('"50.00"', "NaN")
    response = client.post(
        "/api/v1/settlements",
        raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {pharmacy.token}",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    error_of(response, 400, "malformed_json")


def test_an_unknown_address_and_a_wrong_method_answer_json(client, pharmacy):
    error_of(api_get(client, pharmacy, "/api/v1/nothing-here"), 404, "not_found")
    error_of(api_get(client, pharmacy, "/api/v1/"), 404, "not_found")
    response = client.delete("/api/v1/settlements", HTTP_AUTHORIZATION=f"Bearer {pharmacy.token}")
    error_of(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"] and "GET" in response["Allow"]


def test_the_api_needs_no_portal_login_and_no_csrf_token(pharmacy, shared, relative):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert post_settlement(strict, pharmacy, settlement_body(relative)).status_code == 201


# Reading and refunding ----------------------------------------------------------------------------


def test_get_answers_the_settlement_as_created(client, pharmacy, shared, relative):
    created = post_settlement(client, pharmacy, settlement_body(relative)).json()
    response = api_get(client, pharmacy, f"/api/v1/settlements/{created['id']}")
    assert response.status_code == 200 and response.json() == created


def test_another_institutions_settlement_answers_404(
    client, pharmacy, other_pharmacy, shared, father, relative
):
    created = post_settlement(client, pharmacy, settlement_body(relative)).json()
    error_of(api_get(client, other_pharmacy, f"/api/v1/settlements/{created['id']}"), 404, "not_found")
    error_of(
        api_post(client, other_pharmacy, f"/api/v1/settlements/{created['id']}/refund"), 404, "not_found"
    )
    assert Settlement.objects.get().status == Settlement.Status.SETTLED
    assert balance(father) == Decimal("1950.00")


@pytest.mark.parametrize("path", ["/api/v1/settlements/999999", "/api/v1/settlements/abc"])
def test_a_missing_settlement_answers_404(client, pharmacy, path):
    error_of(api_get(client, pharmacy, path), 404, "not_found")


def test_a_refund_gives_the_money_back_and_answers_the_refunded_settlement(
    client, pharmacy, shared, father, relative
):
    created = post_settlement(client, pharmacy, settlement_body(relative)).json()

    response = api_post(client, pharmacy, f"/api/v1/settlements/{created['id']}/refund")

    assert response.status_code == 200
    body = response.json()
    assert body == {**created, "status": "refunded", "refunded_at": body["refunded_at"]}
    assert body["refunded_at"] is not None
    assert balance(father) == Decimal("2000.00")
    settlement = Settlement.objects.get()
    assert settlement.refund_journal.kind == JournalTransaction.Kind.REFUND and settlement.refunded_at
    payable = Account.objects.get(kind=Account.Kind.INSTITUTIONS_PAYABLE, region=pharmacy.region)
    assert payable.balance == 0


def test_a_second_refund_answers_the_same_and_moves_nothing(client, pharmacy, shared, father, relative):
    created = post_settlement(client, pharmacy, settlement_body(relative)).json()
    first = api_post(client, pharmacy, f"/api/v1/settlements/{created['id']}/refund")
    again = api_post(client, pharmacy, f"/api/v1/settlements/{created['id']}/refund")
    assert again.status_code == 200 and again.content == first.content
    assert balance(father) == Decimal("2000.00")
    assert JournalTransaction.objects.filter(kind=JournalTransaction.Kind.REFUND).count() == 1


def test_a_replay_after_a_refund_answers_the_refunded_settlement(client, pharmacy, shared, father, relative):
    created = post_settlement(client, pharmacy, settlement_body(relative)).json()
    api_post(client, pharmacy, f"/api/v1/settlements/{created['id']}/refund")
    again = post_settlement(client, pharmacy, settlement_body(relative))
    assert again.status_code == 200 and again.json()["status"] == "refunded"
    assert balance(father) == Decimal("2000.00")


def test_a_refund_that_cannot_go_back_answers_409_and_moves_nothing(
    client, pharmacy, shared, father, relative, reviewer
):
    created = post_settlement(client, pharmacy, settlement_body(relative)).json()
    freeze_account(account=personal_account_of(father), actor=reviewer, reason="司法冻结")

    response = api_post(client, pharmacy, f"/api/v1/settlements/{created['id']}/refund")

    error_of(response, 409, "refund_account_unavailable")
    assert Settlement.objects.get().status == Settlement.Status.SETTLED
    assert balance(father) == Decimal("1950.00")


# The schema and the docs page ---------------------------------------------------------------------


def test_the_openapi_schema_lists_the_operations(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert set(schema["paths"]) == {
        "/api/v1/settlements",
        "/api/v1/settlements/{settlement_id}",
        "/api/v1/settlements/{settlement_id}/refund",
    }
    amount = schema["components"]["schemas"]["SettlementIn"]["properties"]["amount"]
    assert amount["type"] == "string" and "pattern" in amount and "JSON数字" in amount["description"]
    assert schema["components"]["securitySchemes"]["InstitutionToken"]["scheme"] == "bearer"


def test_the_docs_page_names_every_operation_and_works_under_the_csp(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    for operation in (
        "POST /api/v1/settlements",
        "GET /api/v1/settlements/{settlement_id}",
        "POST /api/v1/settlements/{settlement_id}/refund",
    ):
        assert operation in html
    for code in ("card_mismatch", "settlement_suspended", "invalid_amount", "idempotency_key_reused"):
        assert code in html
    # Nothing the policy forbids: no inline script or style, nothing from another origin.
    assert "<script>" not in html and "<style" not in html and "style=" not in html
    assert not re.search(r'(src|href)="[^"]*cdn', html, re.IGNORECASE)
    assert 'src="http' not in html and 'href="http' not in html
    assert "script-src" in response["Content-Security-Policy"]


def test_the_docs_page_explains_the_answers_in_chinese(client):
    html = client.get("/api/v1/docs").content.decode()
    # Not HTTP's English reason phrases, which the schema carries for machines.
    for english in ("Created", "Unprocessable", "Bad Request", "Unauthorized", "Forbidden", "Not Found"):
        assert english not in html, english
    assert "已新建结算" in html and "请求头" in html


def test_the_docs_and_the_schema_need_no_login(client, settings):
    settings.LOGIN_URL = "/accounts/login/"
    assert client.get("/api/v1/docs").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_a_settlement_leaves_the_patients_relatives_enrolments_alone(client, pharmacy, shared, relative):
    post_settlement(client, pharmacy, settlement_body(relative))
    assert Enrolment.objects.filter(status=Enrolment.Status.ACTIVE).count() == 2


def test_an_employee_relative_with_an_empty_account_still_draws_on_the_payer(client, pharmacy, father):
    wife = make_employee(name="王芳", birth="19870214")
    make_binding(father, wife, relation="spouse")
    body = post_settlement(client, pharmacy, settlement_body(wife, amount="10.00")).json()
    assert body["paid_from"] == [{"holder": "张*", "relation": "spouse", "amount": "10.00"}]


def test_every_settlement_answer_matches_the_documented_schema(client, pharmacy, shared, relative):
    from sharing.api import SettlementOut

    created = post_settlement(client, pharmacy, settlement_body(relative)).json()
    refunded = api_post(client, pharmacy, f"/api/v1/settlements/{created['id']}/refund").json()
    for body in (created, refunded):
        assert SettlementOut.model_validate(body).model_dump() == body


def test_a_replay_answers_the_stored_result_even_if_the_patient_was_suspended_since(
    client, pharmacy, shared, relative
):
    first = post_settlement(client, pharmacy, settlement_body(relative))
    suspend(relative, starts_on=services.today())
    again = post_settlement(client, pharmacy, settlement_body(relative))
    assert again.status_code == 200 and again.content == first.content


def test_a_replay_answers_the_stored_result_after_the_patients_enrolment_ended(
    client, pharmacy, shared, relative
):
    first = post_settlement(client, pharmacy, settlement_body(relative))
    stop_enrolment(enrolment=relative.enrolments.get())
    again = post_settlement(client, pharmacy, settlement_body(relative))
    assert again.status_code == 200 and again.content == first.content
    error_of(
        post_settlement(client, pharmacy, settlement_body(relative), key="new"), 422, "patient_not_insured"
    )
