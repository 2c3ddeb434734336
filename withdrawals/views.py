"""The citizen's withdrawal pages: my applications, a new one, its materials, submission and cancelling."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.services import personal_account_of
from accounts.step_up import step_up_required
from accounts.views import citizen_required
from review.materials import materials_of
from review.timeline import due_dates, timeline
from review.views import receipt_views

from . import services
from .forms import BankAccountForm, MaterialUploadForm, SubmitForm, bank_initial, withdrawal_form_class
from .models import WithdrawalApplication, WithdrawalReason
from .receipts import receipt_paper


@citizen_required
def application_list(request):
    applications = WithdrawalApplication.objects.filter(applicant_id=request.user.person_id).select_related("reason")
    return render(request, "withdrawals/list.html", {"applications": applications})


def _reasons_for(person):
    account = personal_account_of(person)
    reasons = WithdrawalReason.objects.offered_in(account.region if account else None)
    return reasons.prefetch_related("requirements"), account


@citizen_required
def choose_reason(request):
    person = request.user.person
    reasons, account = _reasons_for(person)
    choices = [(reason, services.may_withdraw(applicant=person, reason=reason)) for reason in reasons]
    own = [answer for reason, answer in choices if not reason.is_for_heirs]
    # One bar for every reason of one's own (still insured, an application open): said once, at the top.
    shared = own[0] if own and not own[0] and all(a.code == own[0].code for a in own) else None
    context = {"choices": choices, "account": account, "shared_refusal": shared}
    return render(request, "withdrawals/choose_reason.html", context)


@citizen_required
def start(request, code):
    person = request.user.person
    reason = get_object_or_404(_reasons_for(person)[0], code=code)
    answer = services.may_withdraw(applicant=person, reason=reason)
    if not answer:
        return render(request, "withdrawals/cannot_start.html", {"reason": reason, "answer": answer})
    form = withdrawal_form_class(reason)(request.POST or None, initial={"bank_account_holder": person.name})
    if request.method == "POST" and form.is_valid():
        try:
            application = services.start_withdrawal(
                applicant=person, reason=reason, actor=request.user, **_start_fields(form)
            )
        except services.REFUSALS as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("申请已创建。请按要求上传材料，确认无误后提交。"))
            return redirect("withdrawals:detail", pk=application.pk)
    return render(request, "withdrawals/start.html", {"reason": reason, "form": form})


def _start_fields(form):
    data = form.cleaned_data
    fields = {key: data[key] for key in ("bank_name", "bank_account_number", "bank_account_holder")}
    if "holder_id_number" in data:
        fields["holder"] = services.find_holder_named_by_heir(
            name=data["holder_name"], id_number=data["holder_id_number"]
        )
        fields["heir_relation"] = data["heir_relation"]
    return fields


@citizen_required
def detail(request, pk):
    application = _own_application(request, pk)
    return render(request, "withdrawals/detail.html", detail_context(application))


@citizen_required
@require_POST
def upload(request, pk, kind):
    application = _own_application(request, pk)
    kinds = services.accepted_kinds(application)
    if kind not in kinds:
        raise Http404
    form = MaterialUploadForm(request.POST, request.FILES, kind=kind, label=kinds[kind])
    if form.is_valid():
        try:
            services.add_withdrawal_material(
                application=application, kind=kind, uploaded_file=form.cleaned_data["file"], actor=request.user
            )
        except services.REFUSALS as error:
            form.add_error("file", error.message)
        else:
            messages.success(request, _("已上传：%(label)s。") % {"label": kinds[kind]})
            return redirect(application_url(application, "materials"))
    return render(request, "withdrawals/detail.html", detail_context(application, upload_form=form))


@citizen_required
@require_POST
def remove_material(request, pk, material_pk):
    application = _own_application(request, pk)
    material = get_object_or_404(materials_of(application), pk=material_pk)
    try:
        services.remove_withdrawal_material(material=material, application=application, actor=request.user)
    except services.REFUSALS as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已删除文件：%(name)s。") % {"name": material.original_name})
    return redirect(application_url(application, "materials"))


@citizen_required
@require_POST
@step_up_required
def submit(request, pk):
    application = _own_application(request, pk)
    form = SubmitForm(request.POST)
    if form.is_valid():
        try:
            services.submit_withdrawal(application=application, actor=request.user, declaration_accepted=True)
        except services.REFUSALS as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("申请已提交，请留意通知。"))
            return redirect("withdrawals:detail", pk=application.pk)
    return render(request, "withdrawals/detail.html", detail_context(application, submit_form=form))


@citizen_required
@step_up_required
def change_bank(request, pk):
    application = _own_application(request, pk)
    form = BankAccountForm(request.POST or None, initial=bank_initial(application))
    if request.method == "POST" and form.is_valid():
        try:
            services.change_bank_account(application=application, actor=request.user, **form.cleaned_data)
        except services.REFUSALS as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("收款账户已修改。"))
            return redirect("withdrawals:detail", pk=application.pk)
    return render(request, "withdrawals/bank.html", {"application": application, "form": form})


@citizen_required
def cancel(request, pk):
    application = _own_application(request, pk)
    if request.method == "POST":
        try:
            services.cancel_withdrawal(application=application, actor=request.user)
        except services.REFUSALS as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("申请已撤销。"))
        return redirect("withdrawals:detail", pk=application.pk)
    return render(request, "withdrawals/cancel.html", {"application": application})


receipt, receipt_download = receipt_views(
    namespace="withdrawals",
    own_application=lambda request, pk: _own_application(request, pk),
    receipt_paper=receipt_paper,
)


def _own_application(request, pk):
    # Another citizen's number answers 404, exactly like a number that does not exist.
    queryset = WithdrawalApplication.objects.select_related("reason", "region", "account", "holder")
    return get_object_or_404(queryset, pk=pk, applicant_id=request.user.person_id)


def application_url(application, anchor):
    return reverse("withdrawals:detail", args=[application.pk]) + f"#{anchor}"


def detail_context(application, *, upload_form=None, submit_form=None):
    """Return what the detail page shows: status, materials per kind with their upload forms, timeline."""
    materials = list(materials_of(application))
    to_replace = services.kinds_to_replace(application, materials)
    kinds = [
        {
            "code": kind["code"],
            "label": kind["label"],
            "required": kind["required"],
            "to_replace": kind["code"] in to_replace,
            "files": [material for material in materials if material.kind == kind["code"]],
            "form": upload_form if upload_form is not None and upload_form.kind == kind["code"]
            else MaterialUploadForm(kind=kind["code"], label=kind["label"]),
        }
        for kind in application.material_kinds
    ]
    accepted = services.accepted_kinds(application)
    return {
        "application": application,
        "kinds": kinds,
        "missing": list(services.missing_kinds(application, materials).values()),
        "returned_kinds": [
            {"label": accepted.get(code, code), "replaced": code not in to_replace}
            for code in application.missing_kinds
        ],
        "steps": timeline(application),
        "deadlines": due_dates(*application.pending_deadlines),
        "upload_error_form": upload_form if upload_form is not None and upload_form.errors else None,
        "submit_form": submit_form or SubmitForm(),
    }
