"""The citizen's transfer pages: my transfers, a new application, its progress, correction, the record."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.step_up import step_up_required
from accounts.views import citizen_required
from review import printing
from review.materials import materials_of
from review.timeline import due_dates, timeline
from review.views import receipt_views

from . import services
from .forms import ApplyForm, IdCardForm, ResubmitForm
from .models import ID_CARD_KIND, TransferApplication
from .record import receipt_paper, record_paper

DETAIL_RELATED = ("old_region", "new_region", "applicant")


@citizen_required
def application_list(request):
    applications = TransferApplication.objects.filter(applicant_id=request.user.person_id).select_related(
        "old_region", "new_region"
    )
    return render(request, "transfers/list.html", {"applications": applications})


@citizen_required
@step_up_required
def apply(request):
    person = request.user.person
    old_region, new_region, answer = services.precheck(person)
    initial = {"old_region": old_region, "new_region": new_region}
    form = ApplyForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            application = services.apply_for_transfer(
                applicant=person, actor=request.user, old_region=data["old_region"],
                new_region=data["new_region"], reason=data["reason"], reason_note=data["reason_note"],
                id_card=data["id_card"],
            )
        except services.REFUSALS as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("转移申请已提交，请留意通知。"))
            return redirect("transfers:detail", pk=application.pk)
    return render(request, "transfers/apply.html", {"form": form, "answer": answer})


@citizen_required
def detail(request, pk):
    application = _own_application(request, pk)
    return render(request, "transfers/detail.html", detail_context(application))


@citizen_required
@require_POST
def replace_id_card(request, pk):
    application = _own_application(request, pk)
    form = IdCardForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.replace_id_card(
                application=application, actor=request.user, uploaded_file=form.cleaned_data["id_card"]
            )
        except services.REFUSALS as error:
            form.add_error("id_card", error.message)
        else:
            messages.success(request, _("身份证图片已更换。"))
            return redirect("transfers:detail", pk=application.pk)
    return render(request, "transfers/detail.html", detail_context(application, id_card_form=form))


@citizen_required
@require_POST
@step_up_required
def resubmit(request, pk):
    application = _own_application(request, pk)
    form = ResubmitForm(request.POST)
    if form.is_valid():
        try:
            services.resubmit_transfer(
                application=application, actor=request.user, reason=form.cleaned_data["reason"],
                reason_note=form.cleaned_data["reason_note"],
            )
        except services.REFUSALS as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("申请已重新提交，请留意通知。"))
            return redirect("transfers:detail", pk=application.pk)
    return render(request, "transfers/detail.html", detail_context(application, resubmit_form=form))


@citizen_required
def cancel(request, pk):
    application = _own_application(request, pk)
    if request.method == "POST":
        try:
            services.cancel_transfer(application=application, actor=request.user)
        except services.REFUSALS as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("申请已撤销。"))
        return redirect("transfers:detail", pk=application.pk)
    return render(request, "transfers/cancel.html", {"application": application})


@citizen_required
@never_cache
def record(request, pk):
    application = _own_application(request, pk, DETAIL_RELATED + ("old_enrolment", "new_enrolment"))
    return render(request, "transfers/record.html", {
        "application": application, "paper": record_paper(application) if application.has_record else None,
        "pdf_url": reverse("transfers:record_pdf", args=[pk]),
        "back_url": reverse("transfers:detail", args=[pk]),
    })


@citizen_required
@never_cache
def record_download(request, pk):
    application = _own_application(request, pk, DETAIL_RELATED + ("old_enrolment", "new_enrolment"))
    if not application.has_record:
        raise Http404
    return pdf_response(application)


receipt, receipt_download = receipt_views(
    namespace="transfers",
    own_application=lambda request, pk: _own_application(request, pk),
    receipt_paper=receipt_paper,
)


def pdf_response(application):
    """Return the record as a PDF download; the staff desk sends it the same way."""
    return printing.pdf_response(record_paper(application))


def _own_application(request, pk, related=DETAIL_RELATED):
    # Another citizen's number answers 404, exactly like a number that does not exist.
    queryset = TransferApplication.objects.select_related(*related)
    return get_object_or_404(queryset, pk=pk, applicant_id=request.user.person_id)


def detail_context(application, *, id_card_form=None, resubmit_form=None):
    """Return what the detail page shows: the facts, the ID-card image, what to correct, the timeline."""
    return {
        "application": application,
        "id_cards": list(materials_of(application).filter(kind=ID_CARD_KIND, replaced_by__isnull=True)),
        "id_card_replaced": application.status == "returned" and services.id_card_replaced(application),
        "id_card_form": id_card_form or IdCardForm(),
        "resubmit_form": resubmit_form or ResubmitForm(
            initial={"reason": application.reason, "reason_note": application.reason_note}
        ),
        "steps": timeline(application),
        "deadlines": due_dates(*application.pending_deadlines),
    }
