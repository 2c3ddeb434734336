"""The settlement API under bad input: oversized bodies, amounts over the limit, lookups by reference."""

import datetime
from decimal import Decimal

import pytest

from accounts.models import JournalTransaction
from sharing.models import Settlement

from .conftest import api_get, api_post, balance, post_settlement, settlement_body
from .test_api import error_of, father, nothing_settled, shared  # noqa: F401  (fixtures and helpers)

pytestmark = pytest.mark.django_db


def test_a_body_over_the_limit_answers_413_in_the_error_shape(client, pharmacy, shared, relative):
    body = settlement_body(relative, reference="R" * 20_000)
    message = error_of(post_settlement(client, pharmacy, body), 413, "body_too_large")
    assert "16384" in message
    assert nothing_settled()


def test_a_body_over_djangos_upload_limit_answers_413_too(client, pharmacy, shared, relative, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    error_of(post_settlement(client, pharmacy, settlement_body(relative, reference="R" * 2_000)), 413, "body_too_large")
    assert nothing_settled()


def test_an_amount_over_the_institutions_limit_is_refused(client, pharmacy, shared, relative, father):
    message = error_of(
        post_settlement(client, pharmacy, settlement_body(relative, amount="50000.01")), 422, "amount_over_limit"
    )
    assert "50,000.00" in message
    assert nothing_settled() and balance(father) == Decimal("2000.00")


def test_the_limit_is_per_institution(client, pharmacy, shared, relative):
    pharmacy.amount_limit = Decimal("30.00")
    pharmacy.save(update_fields=["amount_limit"])
    error_of(post_settlement(client, pharmacy, settlement_body(relative, amount="30.01")), 422, "amount_over_limit")
    assert post_settlement(client, pharmacy, settlement_body(relative, amount="30.00")).status_code == 201


def test_an_amount_at_the_limit_is_settled(client, pharmacy, shared, relative):
    assert post_settlement(client, pharmacy, settlement_body(relative, amount="50000.00")).status_code == 201


def test_a_lost_settlement_is_found_by_its_reference(client, pharmacy, other_pharmacy, shared, relative):
    post_settlement(client, pharmacy, settlement_body(relative, reference="RX-9"), key="a")
    post_settlement(client, pharmacy, settlement_body(relative, reference="RX-9", amount="1.00"), key="b")
    post_settlement(client, pharmacy, settlement_body(relative, reference="RX-10"), key="c")
    post_settlement(client, other_pharmacy, settlement_body(relative, reference="RX-9"), key="d")

    found = api_get(client, pharmacy, "/api/v1/settlements?reference=RX-9").json()["settlements"]

    assert [row["amount"] for row in found] == ["1.00", "50.00"]
    own = Settlement.objects.filter(institution=pharmacy, reference="RX-9").values_list("pk", flat=True)
    assert {row["id"] for row in found} == set(own)
    assert found[0]["paid_from"] == [{"holder": "张*", "relation": "father", "amount": "1.00"}]


def test_no_settlement_with_the_reference_answers_an_empty_list(client, pharmacy):
    assert api_get(client, pharmacy, "/api/v1/settlements?reference=NONE").json() == {"settlements": []}


def test_a_lookup_without_a_reference_is_refused(client, pharmacy):
    error_of(api_get(client, pharmacy, "/api/v1/settlements"), 422, "invalid_reference_query")


def test_the_lookup_costs_the_same_queries_however_many(client, pharmacy, shared, relative, django_assert_max_num_queries):
    for key in range(5):
        post_settlement(client, pharmacy, settlement_body(relative, reference="RX-9", amount="1.00"), key=str(key))
    with django_assert_max_num_queries(4):
        assert len(api_get(client, pharmacy, "/api/v1/settlements?reference=RX-9").json()["settlements"]) == 5


def test_a_refund_answer_carries_refunded_at(client, pharmacy, shared, relative):
    created = post_settlement(client, pharmacy, settlement_body(relative)).json()
    assert created["refunded_at"] is None
    refunded = api_post(client, pharmacy, f"/api/v1/settlements/{created['id']}/refund").json()
    moment = datetime.datetime.fromisoformat(refunded["refunded_at"])
    assert moment.utcoffset() == datetime.timedelta(hours=8)
    assert abs(moment - Settlement.objects.get().refunded_at) < datetime.timedelta(seconds=1)


def test_the_schema_states_the_id_number_pattern_and_the_amount_range(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    fields = schema["components"]["schemas"]["SettlementIn"]["properties"]
    assert fields["patient_id_number"]["pattern"] == "^[0-9]{17}[0-9Xx]$"
    assert fields["amount"]["x-minimum"] == "0.01"
    assert "50000.00" in fields["amount"]["description"]
    assert "/api/v1/settlements" in schema["paths"] and "get" in schema["paths"]["/api/v1/settlements"]
    assert not JournalTransaction.objects.exists()
