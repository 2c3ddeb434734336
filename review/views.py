import logging

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts.access_log import record_access
from accounts.views import citizen_required

from . import printing
from .access import can_view_application, is_applicant, is_reviewing_staff
from .models import Material

logger = logging.getLogger(__name__)

# Types a browser can show itself without running anything we did not check.
INLINE_TYPES = {"image/jpeg", "image/png", "application/pdf"}


@require_safe
def material_download(request, pk):
    """Send a material to its applicant or to staff who may review the application; 404 to anyone else."""
    material = get_object_or_404(Material.objects.select_related("content_type"), pk=pk)
    application = material.application
    # One answer for "no such file" and "not yours", so that a number reveals nothing.
    if application is None or not can_view_application(request.user, application):
        raise Http404
    inline = (
        request.GET.get("inline") == "1"
        and material.mime_type in INLINE_TYPES
        and is_reviewing_staff(request.user, application)
    )
    try:
        stream = material.file.open("rb")
    except FileNotFoundError:
        logger.error("material %s is missing from storage: %s", material.pk, material.file.name)
        raise Http404 from None
    response = FileResponse(
        stream,
        as_attachment=not inline,
        filename=f"{application.number}-{material.pk}{material.extension}",
        content_type=material.mime_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Whatever a viewer makes of the file runs without scripts, forms, plug-ins or requests of its own,
    # in an origin of its own; inline styles only lay out the browser's own image and PDF pages.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; style-src 'unsafe-inline'"
    response["Cache-Control"] = "no-store, private"
    logger.info("material %s of %s sent to user %s", material.pk, application.number, request.user.pk)
    if not is_applicant(request.user, application):
        people = [application.applicant_id, getattr(application, "holder_id", None)]
        record_access(request=request, person_ids=people, what=_("申请材料"), reference=application.number)
    return response


def receipt_views(*, namespace, own_application, receipt_paper):
    """Return a feature's two citizen views of a receipt: the page to print and its PDF.

    `own_application(request, pk)` finds the citizen's own application (404 for anyone else's),
    `receipt_paper(application, kind)` builds the 受理回执 or 办结凭证 (None where the application has none
    yet), and `namespace` names the feature's URLs (`detail`, `receipt_pdf`).
    """

    def paper_of(request, pk, kind):
        application = own_application(request, pk)
        paper = receipt_paper(application, kind)
        if paper is None:
            raise Http404
        return application, paper

    @citizen_required
    @never_cache
    def receipt(request, pk, kind):
        application, paper = paper_of(request, pk, kind)
        return render(request, "review/paper.html", {
            "application": application, "paper": paper,
            "back_url": reverse(f"{namespace}:detail", args=[pk]),
            "pdf_url": reverse(f"{namespace}:receipt_pdf", args=[pk, kind]),
        })

    @citizen_required
    @never_cache
    def receipt_download(request, pk, kind):
        return printing.pdf_response(paper_of(request, pk, kind)[1])

    return receipt, receipt_download
