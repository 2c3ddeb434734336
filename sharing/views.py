"""The citizen's family-sharing pages: my relatives, who shares with me, binding, consent, quotas, premiums.

A binding's pages are for its two sides only; anyone else gets 404, as for a binding that does not exist.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from accounts import page_parts
from accounts.services import ServiceError
from accounts.step_up import step_up_required
from accounts.views import citizen_required

from . import bindings, sql, statements
from .forms import BindForm, MoveForm, TopUpForm
from .models import Binding, PremiumPayment, Relation

PAGE_SIZE = 20
Status = Binding.Status


def _related(queryset):
    return queryset.select_related(
        "payer", "relative", "region__province", "relative_region__province", "quota_account"
    )


def _binding_for(request, pk, **side):
    """Return the binding if the citizen is one of its sides (or the side named), else 404."""
    person_id = request.user.person_id
    mine = Binding.objects.filter(**side) if side else Binding.objects.filter(
        Q(payer_id=person_id) | Q(relative_id=person_id)
    )
    queryset = statements.with_figures(_related(mine), timezone.now())
    return get_object_or_404(queryset, pk=pk)


def _as_payer(request, pk):
    return _binding_for(request, pk, payer_id=request.user.person_id)


@citizen_required
@require_safe
def index(request):
    person = request.user.person
    bindings.refresh_lately(person)
    now = timezone.now()
    today = bindings.local(now).date()
    context = {
        # Everything below the header comes from the cache while these facts stay the same (page_parts).
        "part_key": page_parts.part_key(
            "sharing", person.pk, sorted(request.GET.lists()), today, sql.index_facts(person.pk)
        ),
        "part_seconds": page_parts.PART_SECONDS,
        "page": page_parts.later(_given_page, request, person, now),
        "to_confirm": page_parts.later(
            lambda: Binding.objects.filter(relative=person, status=Status.PENDING).select_related("payer")
        ),
        "received_count": page_parts.later(lambda: Binding.objects.filter(relative=person).open().count()),
        # Who shares with me, said first: for many relatives (retired parents) it is what they come to see.
        "sharing_with_me": page_parts.later(lambda: _sharing_with(person)[:PAGE_SIZE]),
    }
    return render(request, "sharing/index.html", context)


def _given_page(request, person, now):
    given = statements.with_figures(Binding.objects.filter(payer=person), now)
    given = statements.open_first(given.select_related("relative", "quota_account"))
    return Paginator(given, PAGE_SIZE).get_page(request.GET.get("page"))


def _sharing_with(person):
    return Binding.objects.filter(relative=person, status=Status.ACTIVE).select_related("payer")


@citizen_required
@require_safe
def received(request):
    person = request.user.person
    bindings.refresh_lately(person)
    mine = statements.with_figures(Binding.objects.filter(relative=person), timezone.now())
    mine = statements.open_first(mine.select_related("payer", "quota_account"))
    in_force = list(mine.filter(status=Status.ACTIVE).values_list("pk", flat=True))
    context = {
        "page": Paginator(mine, PAGE_SIZE).get_page(request.GET.get("page")),
        "first_pk": in_force[0] if in_force else None,
        "last_pk": in_force[-1] if in_force else None,
    }
    return render(request, "sharing/received.html", context)


@citizen_required
@step_up_required
def bind(request):
    person = request.user.person
    answer = bindings.may_bind(payer=person)
    if not answer:
        return render(request, "sharing/cannot_share.html", {"reason": answer.message})
    enrolment, _account = bindings.payer_standing(person)
    scope = _scope_of(enrolment.region)
    form = BindForm(request.POST or None, admitted=scope.pop("admitted_values"))
    context = {"form": form, "promise": bindings.PROMISE, **scope}
    if request.method == "POST" and form.is_valid():
        try:
            binding = bindings.bind_relative(payer=person, actor=request.user, **_bind_fields(form))
        except ServiceError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _bind_done(binding))
            return redirect("sharing:detail", pk=binding.pk)
    return render(request, "sharing/bind.html", context)


def _scope_of(region):
    """Return what the form says of the payer's region: the relations it admits today and its limit."""
    now = timezone.now()
    admitted = bindings.admitted_relations(region, bindings.local(now).date())
    return {
        "region": region,
        "limits": bindings.limits_at(region, now),
        "admitted": [relation.label for relation in Relation if relation in admitted],
        "admitted_values": {relation.value for relation in admitted},
    }


def _bind_fields(form):
    data = form.cleaned_data
    return {
        "relative_name": data["relative_name"], "relative_id_number": data["relative_id_number"],
        "relation": data["relation"], "way": data["way"], "promise_accepted": data["promise"],
    }


def _bind_done(binding):
    if binding.is_pending:
        return _("已向亲属发送确认请求。对方登录后在“通知”中确认，7天内未确认的请求自动失效。")
    if binding.uses_quota:
        return _("家庭共济已生效。请划拨共济额度，亲属看病时从额度中支付。")
    return _("家庭共济已生效。亲属看病时出示本人的医保卡或医保码即可使用。")


@citizen_required
@require_safe
def detail(request, pk):
    bindings.refresh_for(request.user.person)
    binding = _binding_for(request, pk)
    is_payer = binding.payer_id == request.user.person_id
    context = {
        "binding": binding,
        "is_payer": is_payer,
        "other": binding.relative if is_payer else binding.payer,
        "page": Paginator(statements.payments_of(binding), PAGE_SIZE).get_page(request.GET.get("page")),
        "premiums": statements.premiums_of(binding),
        "dues": bindings.premiums_due(binding) if is_payer and binding.is_active else [],
    }
    return render(request, "sharing/detail.html", context)


@citizen_required
@require_safe
def statement(request, pk):
    binding = _binding_for(request, pk)
    text = statements.statement_csv(binding, viewer_is_payer=binding.payer_id == request.user.person_id)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sharing-{binding.number}.csv"'
    response["Cache-Control"] = "no-store, private"
    return response


@citizen_required
def confirm(request, pk):
    bindings.refresh_for(request.user.person)
    binding = _binding_for(request, pk, relative_id=request.user.person_id)
    if request.method != "POST":
        return render(request, "sharing/confirm.html", {"binding": binding})
    decision = request.POST.get("decision")
    steps = {
        "confirm": (bindings.confirm_binding, _("您已确认，家庭共济已生效。")),
        "decline": (bindings.decline_binding, _("您已拒绝这个共济请求。")),
    }
    if decision not in steps:
        raise Http404
    step, done = steps[decision]
    _perform(request, step, done, binding=binding, actor=request.user)
    return redirect("sharing:detail", pk=binding.pk)


@citizen_required
def cancel(request, pk):
    binding = _as_payer(request, pk)
    if request.method != "POST":
        return render(request, "sharing/cancel.html", {"binding": binding})
    _perform(request, bindings.cancel_binding, _("请求已撤回。"), binding=binding, actor=request.user)
    return redirect("sharing:detail", pk=binding.pk)


@citizen_required
def end(request, pk):
    binding = _binding_for(request, pk)
    is_payer = binding.payer_id == request.user.person_id
    if request.method != "POST":
        return render(request, "sharing/end.html", {"binding": binding, "is_payer": is_payer})
    reason = Binding.EndReason.PAYER if is_payer else Binding.EndReason.RELATIVE
    try:
        ended = bindings.end_binding(binding=binding, actor=request.user, reason=reason)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _end_done(ended, is_payer))
    return redirect("sharing:detail", pk=binding.pk)


def _end_done(binding, is_payer):
    """Say the binding ended and, to the payer, where the unused quota went."""
    if not is_payer:
        return _("家庭共济已解除，此后看病不再从%(payer)s的账户支付，已支付的费用不受影响。") % {
            "payer": binding.payer.name
        }
    outcome = binding.quota_outcome
    if outcome.returned:
        return _("家庭共济已解除。未用完的共济额度 ¥%(amount)s 已退回您的个人账户。") % {
            "amount": f"{outcome.returned:,.2f}"
        }
    if outcome.held:
        return _(
            "家庭共济已解除。未用完的共济额度 ¥%(amount)s 仍归您所有，您的个人账户目前不能入账，"
            "暂时保留在额度中，账户恢复后自动退回。"
        ) % {"amount": f"{outcome.held:,.2f}"}
    return _("家庭共济已解除，已支付的费用不受影响。")


def _perform(request, step, done, **arguments):
    try:
        result = step(**arguments)
    except ServiceError as error:
        messages.error(request, error.message)
        return None
    messages.success(request, done)
    return result


@citizen_required
@step_up_required
def top_up(request, pk):
    binding = _as_payer(request, pk)
    now = timezone.now()
    limits = bindings.limits_at(binding.region, now)
    form = TopUpForm(request.POST or None, limits=limits)
    context = {
        "binding": binding, "form": form, "limits": limits, "done_today": bindings.topups_today(binding, now),
        "answer": bindings.may_top_up(binding=binding, now=now),
    }
    if request.method != "POST" or not form.is_valid() or not context["answer"]:
        return render(request, "sharing/top_up.html", context)
    amount = form.cleaned_data["amount"]
    if "confirmed" not in request.POST:
        try:
            bindings.check_topup(binding, amount, timezone.now())
        except ServiceError as error:
            form.add_error("amount", error.message)
            return render(request, "sharing/top_up.html", context)
        after = binding.quota_account.balance + amount
        return render(request, "sharing/top_up_confirm.html", {**context, "amount": amount, "after": after})
    try:
        bindings.top_up_quota(binding=binding, amount=amount, actor=request.user)
    except ServiceError as error:
        form.add_error("amount", error.message)
        return render(request, "sharing/top_up.html", context)
    messages.success(request, _("已划拨共济额度 ¥%(amount)s。") % {"amount": f"{amount:,.2f}"})
    return redirect("sharing:detail", pk=binding.pk)


@citizen_required
@step_up_required
def premium(request, pk, kind):
    binding = _as_payer(request, pk)
    if kind not in PremiumPayment.Kind.values:
        raise Http404
    if request.method != "POST":
        due = bindings.premium_due(binding, kind) if binding.is_active else None
        return render(request, "sharing/premium.html", {"binding": binding, "due": due})
    paid = _perform(
        request, bindings.pay_premium, _("保费已缴纳。"), binding=binding, kind=kind, actor=request.user
    )
    if paid is None:
        return redirect("sharing:premium", pk=pk, kind=kind)
    return redirect("sharing:detail", pk=binding.pk)


@citizen_required
@require_POST
def move(request, pk):
    binding = _binding_for(request, pk, relative_id=request.user.person_id)
    form = MoveForm(request.POST)
    if not form.is_valid():
        raise Http404
    _perform(
        request, bindings.move_binding, _("支付顺序已调整。"),
        binding=binding, actor=request.user, direction=form.cleaned_data["direction"],
    )
    return redirect("sharing:received")
