"""The API for designated pharmacies and hospitals (定点医药机构), under /api/v1/.

django-ninja validates the requests and writes the OpenAPI schema; every rule lives in `sharing.settlement`.
Every answer that is not a success is `{"error": {"code": ..., "message": ...}}`: codes are English
snake_case for programs, messages Chinese for the people at the till.
"""

import json
import logging
import re
from decimal import Decimal
from typing import Literal

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Field, Header, NinjaAPI, Path, Query, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import DocsBase
from ninja.parser import Parser
from ninja.renderers import JSONRenderer
from ninja.security import HttpBearer
from pydantic import field_validator

from accounts import sql
from accounts.identity import parse_id_number
from accounts.services import CITIZENS_TIME_ZONE, ServiceError

from . import settlement as service
from .models import Institution, Settlement, hash_token

logger = logging.getLogger(__name__)

# Yuan as a string: no sign, no exponent, at most two decimals, at most 12 integer digits (the ledger's
# 14 digits with 2 places). Zero passes the pattern and is refused by the validator below.
AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,64}$"

# A settlement's body is a few hundred bytes; anything much larger is a mistake or an attack.
MAX_BODY_BYTES = 16_384
ID_NUMBER_PATTERN = r"^[0-9]{17}[0-9Xx]$"

AMOUNT_RULE = gettext_lazy(
    '金额须为JSON字符串形式的正数（元），最多两位小数，例如 "35.50"；'
    "不接受负数、零、科学计数法或多于两位的小数。"
)
AMOUNT_NOT_A_STRING = gettext_lazy(
    '金额须以JSON字符串提交，例如 "35.50"；为避免浮点误差，不接受JSON数字，也不能为 null。'
)

# HTTP status of each error code the API answers with.
ERROR_STATUS = {
    "unauthorized": 401,
    "malformed_json": 400,
    "invalid_idempotency_key": 400,
    "invalid_request": 422,
    "invalid_patient_id_number": 422,
    "invalid_card_number": 422,
    "invalid_amount": 422,
    "invalid_category": 422,
    "invalid_reference": 422,
    "unknown_patient": 422,
    "patient_not_insured": 422,
    "amount_over_limit": 422,
    "body_too_large": 413,
    "invalid_reference_query": 422,
    "card_mismatch": 403,
    "settlement_suspended": 403,
    "idempotency_key_reused": 409,
    "refund_account_unavailable": 409,
    "not_found": 404,
    "method_not_allowed": 405,
    "internal_error": 500,
}

# What each code means, for the docs page.
ERROR_MEANINGS = {
    "unauthorized": gettext_lazy("缺少或无效的接口令牌，或机构已停用。"),
    "malformed_json": gettext_lazy("请求体不是合法的JSON对象。"),
    "invalid_idempotency_key": gettext_lazy(
        "Idempotency-Key 请求头须为1至64个可见ASCII字符（不含空格），每笔新结算用一个新值。"
    ),
    "invalid_request": gettext_lazy("请求缺少字段或字段类型不对。"),
    "invalid_patient_id_number": gettext_lazy("就诊人身份证号码格式或校验位不正确。"),
    "invalid_card_number": gettext_lazy("医保卡号须为1至32个字符。"),
    "invalid_amount": AMOUNT_RULE,
    "invalid_category": gettext_lazy("类别须为 pharmacy、outpatient 或 inpatient。"),
    "invalid_reference": gettext_lazy("机构单据号须为1至64个字符，不能全为空白。"),
    "unknown_patient": gettext_lazy("参保登记中没有这个身份证号码。"),
    "patient_not_insured": gettext_lazy("就诊人没有参保中的登记。"),
    "amount_over_limit": gettext_lazy("金额超过本机构的单笔结算上限（默认 50000.00 元，由经办机构设定）。"),
    "body_too_large": gettext_lazy("请求体超过 %(size)s 字节的上限。") % {"size": "16384"},
    "invalid_reference_query": gettext_lazy("查询须带 reference 参数：1至64个字符的机构单据号。"),
    "card_mismatch": gettext_lazy("医保卡不是就诊人本人的（冒名就医），已记录供经办机构核查。"),
    "settlement_suspended": gettext_lazy("就诊人的联网结算在暂停期内。"),
    "idempotency_key_reused": gettext_lazy("同一 Idempotency-Key 已用于内容不同的结算。"),
    "refund_account_unavailable": gettext_lazy(
        "原支付账户已冻结等，款项无处可退，本次退款未办理，可稍后重试。"
    ),
    "not_found": gettext_lazy("没有这笔结算（或不属于本机构），或地址不存在。"),
    "method_not_allowed": gettext_lazy("该地址不支持这个HTTP方法。"),
    "internal_error": gettext_lazy("服务内部错误，未办理任何业务，可使用同一 Idempotency-Key 重试。"),
}

# Which error code a validation failure of each field gets.
FIELD_CODES = {
    "patient_id_number": "invalid_patient_id_number",
    "card_number": "invalid_card_number",
    "amount": "invalid_amount",
    "category": "invalid_category",
    "reference": "invalid_reference",
    "idempotency-key": "invalid_idempotency_key",
    "idempotency_key": "invalid_idempotency_key",
    "reference_query": "invalid_reference_query",
}


class ApiError(Exception):
    """An answer other than success: the code decides the HTTP status."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.status = ERROR_STATUS[code]


def error_response(code, message, *, headers=None):
    body = json.dumps({"error": {"code": code, "message": str(message)}}, ensure_ascii=False)
    response = HttpResponse(body, status=ERROR_STATUS[code], content_type="application/json; charset=utf-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class ChineseJSONRenderer(JSONRenderer):
    """JSON with Chinese text as characters, not \\u escapes."""

    json_dumps_params = {"ensure_ascii": False}


class DecimalParser(Parser):
    """Parse JSON bodies without ever making a float: a JSON number becomes a Decimal (and is refused)."""

    def parse_body(self, request):
        data = json.loads(request.body, parse_float=Decimal, parse_constant=_refuse_constant)
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


class InstitutionToken(HttpBearer):
    """`Authorization: Bearer <token>`, looked up by its SHA-256; inactive institutions are refused."""

    def __call__(self, request):
        # The first thing every operation runs, so an oversized body is refused before anything else.
        if len(request.body) > MAX_BODY_BYTES:
            raise ApiError("body_too_large", ERROR_MEANINGS["body_too_large"])
        scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                "unauthorized", _("缺少接口令牌：请在请求头中提供 Authorization: Bearer <机构接口令牌>。")
            )
        return self.authenticate(request, token.strip())

    def authenticate(self, request, token):
        # Every request of every institution starts here: one plain SELECT, not built by the ORM each time.
        institution = sql.select_one(Institution, "token_hash", hash_token(token))
        if institution is None or not institution.is_active:
            raise ApiError("unauthorized", _("接口令牌无效，或机构已停用。请联系医保经办机构。"))
        return institution


class ServerRenderedDocs(DocsBase):
    """The docs page: the operations of the OpenAPI schema as plain HTML, no script, nothing from a CDN."""

    def render_page(self, request, api, **kwargs):
        schema = api.get_openapi_schema(path_params=kwargs)
        context = {
            "title": api.title,
            "description": description_blocks(api.description),
            "version": api.version,
            "openapi_url": self.get_openapi_url(api, kwargs),
            "operations": describe_operations(schema),
            "errors": [
                {"code": code, "status": ERROR_STATUS[code], "meaning": meaning}
                for code, meaning in ERROR_MEANINGS.items()
            ],
        }
        return render(request, "sharing/api/docs.html", context)


DESCRIPTION = """定点医药机构通过本接口结算参保人个人负担部分：先从就诊人本人的职工医保个人账户支付，
再按就诊人设定的顺序从为其共济的亲属的个人账户或共济额度支付，余下部分由就诊人现金支付。

- 认证：每个请求带 `Authorization: Bearer <机构接口令牌>`。
  令牌由医保经办机构在管理后台生成，只显示一次。
- 金额：一律为JSON字符串，单位元，最多两位小数，例如 `"35.50"`。
  JSON数字（如 `35.5`）会被拒绝（`invalid_amount`），以免浮点误差进入资金流程。
- 幂等：`POST /settlements` 必须带 `Idempotency-Key`（1至64个可见ASCII字符）。
  同一机构同一个键、同样的请求内容，返回第一次的结算结果（200）；内容不同则返回409。
  网络中断后请用同一个键重试。
- 卡不能共用：医保卡号必须是就诊人本人的，否则拒绝（403 `card_mismatch`）并记录，供经办机构核查。
- 错误：一律为 `{"error": {"code": "...", "message": "..."}}`，`code` 为英文，`message` 为中文说明。
"""

api = NinjaAPI(
    title="医保个人账户 · 定点医药机构结算接口",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=InstitutionToken(),
    renderer=ChineseJSONRenderer(),
    parser=DecimalParser(),
    docs=ServerRenderedDocs(),
)


# Schemas ------------------------------------------------------------------------------------------


class SettlementIn(Schema):
    patient_id_number: str = Field(
        ...,
        min_length=1,
        max_length=18,
        description="就诊人18位身份证号码：17位数字加1位校验码（数字或X，x按X处理），"
        "出生日期须真实、校验码须符合 GB 11643-1999。",
        examples=["330203201506011020"],
        # Stated for callers; the server checks it, and the check character and birth date, in the validator.
        json_schema_extra={"pattern": ID_NUMBER_PATTERN},
    )
    card_number: str = Field(
        ...,
        min_length=1,
        max_length=32,
        description="就诊人出示的医保卡号，须为就诊人本人的卡。",
        examples=["C330203201506011020"],
    )
    amount: str = Field(
        ...,
        pattern=AMOUNT_PATTERN,
        examples=["35.50"],
        description='个人负担金额（元），JSON字符串，0.01 至本机构单笔结算上限（默认 50000.00），'
        '最多两位小数，例如 "35.50"。超过上限返回 amount_over_limit；'
        "JSON数字（如 35.5）会被拒绝（invalid_amount），以免浮点误差进入资金流程。",
        json_schema_extra={"x-minimum": "0.01", "x-maximum-default": "50000.00"},
    )
    category: Literal["pharmacy", "outpatient", "inpatient"] = Field(
        ...,
        description="pharmacy 药店购药，outpatient 门诊，inpatient 住院。",
    )
    reference: str = Field(
        ...,
        min_length=1,
        max_length=64,
        description="机构自己的单据号（1至64个字符）。",
        examples=["RX20260105-0001"],
    )

    @field_validator("patient_id_number")
    @classmethod
    def _valid_id_number(cls, value):
        try:
            return parse_id_number(value).value
        except DjangoValidationError as error:
            # pydantic reports ValueErrors only; the message says which part of the number is wrong.
            raise ValueError(error.messages[0]) from None

    @field_validator("card_number", mode="before")
    @classmethod
    def _without_surrounding_blanks(cls, value):
        # Card readers and till software add stray spaces or a newline; compared as sent, the patient's own
        # card would be refused and recorded as 冒名就医 (and, the card being "unknown", suspend the patient).
        return value.strip() if isinstance(value, str) else value

    @field_validator("amount")
    @classmethod
    def _positive(cls, value):
        if Decimal(value) <= 0:
            raise ValueError("amount must be positive")
        return value

    @field_validator("reference")
    @classmethod
    def _not_blank(cls, value):
        if not value.strip():
            raise ValueError("reference must not be blank")
        return value


class PaymentOut(Schema):
    holder: str = Field(..., description="账户持有人姓名（只显示姓氏，如 张*）。")
    relation: str = Field(
        ...,
        description="支付人与就诊人的关系：self 本人，"
        "father、mother、spouse、child、sibling、grandparent、grandchild。",
    )
    amount: str = Field(..., description="该账户支付的金额（元，字符串）。", examples=["35.50"])


class SettlementOut(Schema):
    id: int
    status: Literal["settled", "refunded"] = Field(..., description="settled 已结算，refunded 已全额退款。")
    amount: str = Field(..., description="个人负担金额（元，字符串）。", examples=["50.00"])
    paid_from: list[PaymentOut] = Field(..., description="按支付顺序列出各账户支付的金额；一分未付时为空。")
    cash_due: str = Field(..., description="就诊人仍需现金支付的金额（元，字符串）。", examples=["0.00"])
    created_at: str = Field(
        ..., description="结算时间，ISO 8601，北京时间。", examples=["2026-01-05T10:32:07+08:00"]
    )
    refunded_at: str | None = Field(
        ..., description="退款时间，ISO 8601，北京时间；未退款为 null。", examples=["2026-01-05T11:02:40+08:00"]
    )


class SettlementListOut(Schema):
    settlements: list[SettlementOut] = Field(..., description="本机构使用该单据号的结算，新的在前；没有则为空。")


class ErrorBody(Schema):
    code: str = Field(..., description="错误代码（英文），见文档页的错误代码表。")
    message: str = Field(..., description="中文说明，可直接展示给收银员。")


class ErrorOut(Schema):
    error: ErrorBody


def represent(outcome):
    """Return the JSON body of a settlement: money as strings, holders masked, the time in Beijing."""
    settlement = outcome.settlement
    return {
        "id": settlement.pk,
        "status": settlement.status,
        "amount": f"{settlement.amount:.2f}",
        "paid_from": [
            {
                "holder": payment.holder.masked_name,
                "relation": payment.relation,
                "amount": f"{payment.amount:.2f}",
            }
            for payment in outcome.payments
        ],
        "cash_due": f"{settlement.cash_due:.2f}",
        "created_at": _beijing(settlement.created_at),
        "refunded_at": _beijing(settlement.refunded_at) if settlement.refunded_at else None,
    }


def _beijing(moment):
    return timezone.localtime(moment, CITIZENS_TIME_ZONE).isoformat(timespec="seconds")


def settlement_response(outcome, *, status=200):
    """The JSON answer for a settlement, as SettlementOut documents it (tests hold the two together).

    Written directly rather than validated again through the response schema: the body is built here from
    stored values and pydantic would only repeat the work on every settlement.
    """
    body = json.dumps(represent(outcome), ensure_ascii=False)
    return HttpResponse(body, status=status, content_type="application/json; charset=utf-8")


def _service_error(error):
    code = error.code if error.code in ERROR_STATUS else "invalid_request"
    return ApiError(code, error.message)


def _own_settlement(request, settlement_id):
    # Another institution's settlement answers exactly as a missing one.
    settlement = Settlement.objects.filter(pk=settlement_id, institution=request.auth).first()
    if settlement is None:
        raise ApiError("not_found", _("没有这笔结算。"))
    settlement.institution = request.auth
    return settlement


# Operations ---------------------------------------------------------------------------------------

SETTLEMENT_ID = Path(..., description="结算编号，即结算响应中的 id。")


@api.post(
    "/settlements",
    response={
        201: SettlementOut,
        200: SettlementOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        409: ErrorOut,
        413: ErrorOut,
        422: ErrorOut,
    },
    summary="结算个人负担部分",
    description=(
        "从就诊人本人账户、再按顺序从共济亲属的账户或共济额度支付，余额现金支付。部分支付是正常情况；"
        "账户一分未付时同样生成结算（全部现金，paid_from 为空）。新结算返回201；"
        "同一 Idempotency-Key 的重试返回200和同一结算（其 status 为当前状态）。"
    ),
    operation_id="create_settlement",
    openapi_extra={
        "x-error-codes": [
            "malformed_json",
            "invalid_idempotency_key",
            "unauthorized",
            "card_mismatch",
            "settlement_suspended",
            "idempotency_key_reused",
            "invalid_request",
            "invalid_patient_id_number",
            "invalid_card_number",
            "invalid_amount",
            "invalid_category",
            "invalid_reference",
            "unknown_patient",
            "patient_not_insured",
            "amount_over_limit",
            "body_too_large",
        ]
    },
)
def create_settlement(
    request,
    payload: SettlementIn,
    idempotency_key: str = Header(
        ...,
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="1至64个可见ASCII字符，每笔新结算一个；重试时沿用。",
    ),
):
    try:
        outcome = service.settle(
            institution=request.auth,
            idempotency_key=idempotency_key,
            patient_id_number=payload.patient_id_number,
            card_number=payload.card_number,
            amount=Decimal(payload.amount).quantize(Decimal("0.01")),
            category=payload.category,
            reference=payload.reference,
        )
    except ServiceError as error:
        raise _service_error(error) from None
    return settlement_response(outcome, status=201 if outcome.created else 200)


@api.get(
    "/settlements",
    response={200: SettlementListOut, 401: ErrorOut, 422: ErrorOut},
    summary="按单据号查找结算",
    description=(
        "列出本机构用这个单据号（reference）提交的结算，新的在前。请求超时、没拿到结算编号时，"
        "用它查明结算是否已经成功，再决定是否用同一 Idempotency-Key 重试。其他机构的结算不会列出。"
    ),
    operation_id="find_settlements",
    openapi_extra={"x-error-codes": ["unauthorized", "invalid_reference_query"]},
)
def find_settlements(
    request,
    reference: str = Query(..., min_length=1, max_length=64, description="机构自己的单据号，与结算时提交的相同。"),
):
    found = Settlement.objects.filter(institution=request.auth, reference=reference).order_by("-created_at", "-id")
    payments = service.payments_by_settlement(found)
    body = {"settlements": [represent(service.Outcome(row, payments.get(row.pk, []))) for row in found]}
    return HttpResponse(json.dumps(body, ensure_ascii=False), content_type="application/json; charset=utf-8")


@api.get(
    "/settlements/{settlement_id}",
    response={200: SettlementOut, 401: ErrorOut, 404: ErrorOut},
    summary="查询一笔结算",
    description="只能查询本机构的结算；其他机构的结算与不存在的一样返回404。",
    operation_id="get_settlement",
    openapi_extra={"x-error-codes": ["unauthorized", "not_found"]},
)
def get_settlement(request, settlement_id: int = SETTLEMENT_ID):
    settlement = _own_settlement(request, settlement_id)
    return settlement_response(service.Outcome(settlement, service.payments_of(settlement)))


@api.post(
    "/settlements/{settlement_id}/refund",
    response={200: SettlementOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="全额退款",
    description=(
        "把整笔结算退回原支付的账户和共济额度（共济关系已解除的额度退回共济人的个人账户）。可重复调用："
        "已退款的结算再次退款返回200和同样的结果，不会重复退钱。"
    ),
    operation_id="refund_settlement",
    openapi_extra={"x-error-codes": ["unauthorized", "not_found", "refund_account_unavailable"]},
)
def refund_settlement(request, settlement_id: int = SETTLEMENT_ID):
    settlement = _own_settlement(request, settlement_id)
    try:
        settlement, _refunded_now = service.refund_settlement(settlement=settlement)
    except ServiceError as error:
        raise _service_error(error) from None
    return settlement_response(service.Outcome(settlement, service.payments_of(settlement)))


# Errors -------------------------------------------------------------------------------------------


@api.exception_handler(RequestDataTooBig)
def _body_too_large(request, exc):
    # Over DATA_UPLOAD_MAX_MEMORY_SIZE Django refuses to read the body at all; the answer is the same.
    return error_response("body_too_large", ERROR_MEANINGS["body_too_large"])


@api.exception_handler(ApiError)
def _api_error(request, exc):
    headers = {"WWW-Authenticate": 'Bearer realm="api"'} if exc.status == 401 else None
    return error_response(exc.code, exc.message, headers=headers)


@api.exception_handler(AuthenticationError)
def _authentication_error(request, exc):
    return error_response(
        "unauthorized", _("接口令牌无效，或机构已停用。"), headers={"WWW-Authenticate": 'Bearer realm="api"'}
    )


@api.exception_handler(HttpError)
def _http_error(request, exc):
    # ninja raises HttpError(400) when the body is not JSON (our parser refuses non-objects too).
    if exc.status_code == 400:
        return error_response("malformed_json", _("请求体须为合法的JSON对象（UTF-8编码）。"))
    code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "invalid_request"
    )
    return error_response(code, str(exc))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response("not_found", _("没有这个地址或这笔结算。"))


@api.exception_handler(ValidationError)
def _validation_error(request, exc):
    return validation_response(exc.errors)


@api.exception_handler(Exception)
def _unexpected(request, exc):
    # Whatever happened, the settlement's transaction was rolled back; the caller may retry with the key.
    logger.exception("API request failed: %s %s", request.method, request.path)
    return error_response("internal_error", ERROR_MEANINGS["internal_error"])


def validation_response(errors):
    """Answer the most useful of ninja's validation errors: a bad header first, then fields in order."""
    located = [(_field_of(error), error) for error in errors]
    for source in ("header", "path", "query", "body"):
        for (where, name), error in located:
            if where == source:
                return _field_error(where, name, error)
    return error_response("invalid_request", _("请求内容不完整或格式不正确。"))


def _field_of(error):
    loc = [str(part) for part in error.get("loc", ())]
    where = loc[0] if loc else ""
    # Body fields come as ("body", "payload", "<field>"); headers and path parameters as (where, name).
    name = loc[-1] if len(loc) > (2 if where == "body" else 1) else ""
    return where, name


def _field_error(where, name, error):
    if where == "path":
        return error_response("not_found", _("没有这笔结算。"))
    code = FIELD_CODES.get(f"{name}_query" if where == "query" else name.lower())
    kind = error.get("type")
    if code is not None and kind == "missing":
        return error_response(code, _("缺少 %(name)s。") % {"name": name} + str(ERROR_MEANINGS[code]))
    if code == "invalid_amount":
        return error_response(code, AMOUNT_NOT_A_STRING if kind == "string_type" else AMOUNT_RULE)
    if code == "invalid_patient_id_number" and kind == "value_error":
        return error_response(code, str(error.get("ctx", {}).get("error", ERROR_MEANINGS[code])))
    if code is not None:
        return error_response(code, ERROR_MEANINGS[code])
    if where == "body" and not name:
        return error_response(
            "malformed_json",
            _("请求体须为JSON对象，包含 patient_id_number、card_number、amount、category、reference。"),
        )
    return error_response(
        "invalid_request", _("请求内容不完整或格式不正确：%(field)s。") % {"field": name or where}
    )


# The docs page ------------------------------------------------------------------------------------

# The schema's answers carry HTTP's English reason phrases ("Created", "Unprocessable Content"); the docs
# page is read at Chinese institutions' tills and IT desks, so it says what each status means here.
STATUS_WORDS = {
    "200": gettext_lazy("成功"),
    "201": gettext_lazy("已新建结算"),
    "400": gettext_lazy("请求格式错误"),
    "401": gettext_lazy("未认证"),
    "403": gettext_lazy("拒绝结算"),
    "404": gettext_lazy("不存在"),
    "409": gettext_lazy("冲突"),
    "413": gettext_lazy("请求体过大"),
    "422": gettext_lazy("请求内容不合规"),
}
PARAMETER_PLACES = {
    "header": gettext_lazy("请求头"),
    "path": gettext_lazy("路径"),
    "query": gettext_lazy("查询参数"),
}


def describe_operations(schema):
    """Flatten the OpenAPI schema's operations for the docs page: path, parameters, body fields, answers."""
    components = schema.get("components", {}).get("schemas", {})
    operations = []
    for path, methods in schema.get("paths", {}).items():
        for method, operation in methods.items():
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": [
                        {
                            "name": parameter["name"],
                            "where": PARAMETER_PLACES.get(parameter["in"], parameter["in"]),
                            "required": parameter.get("required", False),
                            "description": parameter.get("description")
                            or parameter.get("schema", {}).get("description", ""),
                        }
                        for parameter in operation.get("parameters", [])
                    ],
                    "body": _fields(operation.get("requestBody", {}), components),
                    "responses": [
                        {
                            "status": status,
                            "description": STATUS_WORDS.get(str(status), response.get("description", "")),
                            "codes": [
                                code
                                for code in operation.get("x-error-codes", [])
                                if str(ERROR_STATUS[code]) == str(status)
                            ],
                        }
                        for status, response in sorted(operation.get("responses", {}).items())
                    ],
                }
            )
    return operations


def description_blocks(text):
    """Split the API's Markdown description into paragraphs and lists of items, `code` kept as <code>."""
    blocks = []
    for paragraph in text.strip().split("\n\n"):
        lines = [line.strip() for line in paragraph.splitlines()]
        if lines and lines[0].startswith("- "):
            items = []
            for line in lines:
                if line.startswith("- "):
                    items.append(line[2:])
                else:
                    items[-1] += line
            blocks.append({"bullets": [_code_spans(item) for item in items]})
        else:
            blocks.append({"text": _code_spans("".join(lines))})
    return blocks


def _code_spans(text):
    return mark_safe(re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text)))  # noqa: S308 (escaped first)


def _fields(body, components):
    content = body.get("content", {}).get("application/json", {})
    reference = content.get("schema", {}).get("$ref", "")
    model = components.get(reference.rsplit("/", 1)[-1], {}) if reference else {}
    required = set(model.get("required", []))
    return [
        {
            "name": name,
            "type": prop.get("type") or "、".join(str(value) for value in prop.get("enum", [])),
            "required": name in required,
            "description": prop.get("description", ""),
            "choices": prop.get("enum", []),
        }
        for name, prop in model.get("properties", {}).items()
    ]
