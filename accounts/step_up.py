"""Step-up (DOMAIN.md): acts that move money or widen access need the reserved phone proven in the last 10 minutes.

`step_up_required` wraps such a view. A POST that comes without a fresh proof is kept in the session (its
files in private storage), a code goes to the reserved phone and the page asks for it; once the code is
right, the kept request is carried on as if it had just been sent, so nothing is typed twice.
"""

import functools
import time
import uuid

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.utils.http import urlencode

from . import phone_codes
from .forms import CodeForm
from .models import PhoneCode
from .services import ServiceError
from .throttle import client_ip

WINDOW_SECONDS = 10 * 60
PROVEN_AT = "phone_proven_at"
PENDING = "step_up_pending"
MARKER = "step_up"
# Under the materials folder, so that prune_materials clears what an abandoned step-up left behind.
KEPT_FILES = "materials/step-up"


def mark_phone_proven(request):
    request.session[PROVEN_AT] = time.time()


def phone_recently_proven(request):
    return time.time() - request.session.get(PROVEN_AT, 0) <= WINDOW_SECONDS


def step_up_required(view):
    """Ask for a code to the reserved phone before a POST to `view`, unless one was proven in 10 minutes."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        if MARKER in request.POST:
            return _answer(request, view, args, kwargs)
        if phone_recently_proven(request):
            return view(request, *args, **kwargs)
        _keep(request)
        return _ask(request, send=True)

    return wrapper


def _phone(request):
    return request.user.person.phone


def _ask(request, *, send, form=None, sent=False):
    error = None
    if send:
        try:
            phone_codes.send_code(
                phone=_phone(request), purpose=PhoneCode.Purpose.STEP_UP, address=client_ip(request)
            )
            sent = True
        except ServiceError as refusal:
            error = refusal.message
    context = {
        "form": form or CodeForm(),
        "tail": phone_codes.masked_tail(_phone(request)),
        "action": request.path,
        "marker": MARKER,
        "sent": sent,
        "page_errors": [error] if error else [],
    }
    return render(request, "accounts/step_up.html", context)


def _answer(request, view, args, kwargs):
    if "resend" in request.POST:
        return _ask(request, send=True)
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _ask(request, send=False, form=form)
    try:
        phone_codes.verify_code(
            phone=_phone(request), purpose=PhoneCode.Purpose.STEP_UP, code=form.cleaned_data["code"]
        )
    except ServiceError as refusal:
        form.add_error("code", refusal.message)
        return _ask(request, send=False, form=form)
    mark_phone_proven(request)
    pending = request.session.pop(PENDING, None)
    if not pending or pending["path"] != request.path:
        return redirect(request.get_full_path())
    _restore(request, pending)
    return view(request, *args, **kwargs)


def _keep(request):
    """Keep the POST (and its files) in the session, to carry it on once the phone is proven."""
    files = []
    for field, uploads in request.FILES.lists():
        for upload in uploads:
            name = default_storage.save(f"{KEPT_FILES}/{uuid.uuid4().hex}", upload)
            files.append([field, name, upload.name, upload.content_type])
    previous = request.session.get(PENDING)
    if previous:
        _discard_files(previous)
    request.session[PENDING] = {
        "path": request.path,
        "post": [[key, values] for key, values in request.POST.lists() if key != "csrfmiddlewaretoken"],
        "files": files,
    }


def _restore(request, pending):
    # FILES first: reading it parses the code form's body, which would otherwise replace the POST set below.
    uploads = request.FILES
    request.POST = QueryDict(urlencode(pending["post"], doseq=True))
    for field, name, original_name, content_type in pending["files"]:
        with default_storage.open(name, "rb") as stored:
            uploads.appendlist(field, SimpleUploadedFile(original_name, stored.read(), content_type))
        default_storage.delete(name)


def _discard_files(pending):
    for _field, name, _original, _type in pending.get("files", []):
        default_storage.delete(name)

