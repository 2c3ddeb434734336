"""The personal-data access record (个人信息访问记录, DOMAIN.md): every look by staff at one citizen's data.

Admin pages that show one citizen (a person, an enrolment, an account and its statement, an application,
a binding, a settlement) record it through `RecordsDataAccess`; downloads, exports and searches by exact
ID number call `record_access` themselves. Lists of many citizens are not recorded row by row.
"""

import csv

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models.constants import LOOKUP_SEP
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext

from .models import Account, Person, PersonalDataAccess, StaffProfile, StaffRole
from .scoping import limit_to_regions
from .throttle import client_ip


def viewer_of(user):
    """Return (role, regions text) of a member of staff, as the citizen's page shows them."""
    profile = StaffProfile.objects.filter(user=user).prefetch_related("regions").first()
    regions = "、".join(region.name for region in profile.regions.all()) if profile else ""
    if user.is_superuser:
        return StaffRole.ADMINISTRATOR, regions or "全部统筹区"
    return (profile.role if profile else StaffRole.HANDLER), regions


@transaction.atomic
def record_access(*, request, person_ids, what, reference=""):
    """Record that the member of staff behind `request` looked at each person's `what` (a short label)."""
    person_ids = {pk for pk in person_ids if pk is not None}
    user = request.user
    if not person_ids or not (user.is_authenticated and user.is_staff):
        return []
    role, regions = viewer_of(user)
    address = client_ip(request)
    return PersonalDataAccess.objects.bulk_create(
        PersonalDataAccess(
            staff=user, person_id=pk, address=address, what=str(what), reference=str(reference)[:40],
            viewer_role=role, viewer_regions=regions[:200],
        )
        for pk in sorted(person_ids)
    )


class RecordsDataAccess:
    """ModelAdmin mixin: opening a row's change page records a look at the people it concerns.

    Set `access_label` (what the citizen reads, e.g. "提取申请详情") and override `people_of(obj)` to return
    the ids of the people whose data the page shows, and `access_reference(obj)` for the object's number.
    """

    access_label = ""

    def people_of(self, obj):
        raise NotImplementedError

    def access_reference(self, obj):
        return getattr(obj, "number", None) or obj.pk

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        self._record_look(request, response, object_id, self.access_label)
        return response

    def history_view(self, request, object_id, extra_context=None):
        """The row's history (every version, who changed it): a look at the same citizen."""
        response = super().history_view(request, object_id, extra_context)
        self._record_look(request, response, object_id, format_lazy("{}（修改历史）", self.access_label))
        return response

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """An old version in full (django-simple-history; only admins with history have this page)."""
        response = super().history_form_view(request, object_id, version_id, extra_context)
        self._record_look(request, response, object_id, format_lazy("{}（历史版本）", self.access_label))
        return response

    def _record_look(self, request, response, object_id, what):
        if request.method != "GET" or response.status_code != 200:
            return
        context = getattr(response, "context_data", None) or {}
        obj = context.get("original") or context.get("object") or self.get_object(request, unquote(object_id))
        if obj is not None:
            record_access(
                request=request, person_ids=self.people_of(obj), what=what, reference=self.access_reference(obj)
            )


class RecordsStatementLook:
    """ModelAdmin mixin for rows of accounts: the list narrowed to one account is that citizen's statement.

    It opens as ?account=<id> (the account page's link), and that records the look. Any other way of naming
    accounts in the address (account__exact, account_id, account__in, ...) is refused, so that none
    escapes the record; the region filter (account__region__...) stays open.
    """

    statement_label = ""

    def changelist_view(self, request, extra_context=None):
        if any(_names_accounts(key) for key in request.GET):
            raise PermissionDenied(gettext("请从账户页面的“查看本账户的全部明细”打开一个账户的明细。"))
        response = super().changelist_view(request, extra_context)
        account_id = request.GET.get("account", "")
        if request.method == "GET" and response.status_code == 200 and account_id.isdigit():
            # From the account, not its rows: an account without any is still that citizen's statement.
            accounts = limit_to_regions(Account.objects.filter(pk=account_id), request.user, "region")
            holder = accounts.values_list("enrolment__person_id", flat=True).first()
            record_access(
                request=request, person_ids=[holder], what=self.statement_label, reference=account_id
            )
        return response


def _names_accounts(key):
    head, _sep, rest = key.partition(LOOKUP_SEP)
    return head in ("account", "account_id") and key != "account" and not rest.startswith("region")


def record_id_number_search(*, request, term, found):
    """Record a search by a full ID number or card number whose results (`found`, a queryset) name that person.

    A card number names one person as surely as the ID number does (the demo ones are C + ID number).
    """
    term = term.strip()
    if request.method != "GET" or not term:
        return []
    by_id = list(Person.objects.filter(id_number=term.upper()).values_list("pk", flat=True))
    by_card = [] if by_id else list(Person.objects.filter(card_number=term).values_list("pk", flat=True))
    if not (by_id or by_card) or not found.exists():
        return []
    what = gettext("按身份证号码查询") if by_id else gettext("按医保卡号查询")
    return record_access(request=request, person_ids=by_id or by_card, what=what)


def access_record_csv(rows):
    """Return the rows as a CSV download (UTF-8 with BOM, so that Excel reads the Chinese)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="personal-data-access.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(["查看时间", "查看人登录名", "岗位", "所在统筹区", "访问地址", "参保人", "身份证号码", "查看内容", "对象编号"])
    for row in rows:
        writer.writerow([
            timezone.localtime(row.accessed_at).strftime("%Y-%m-%d %H:%M:%S"), row.staff.username,
            row.get_viewer_role_display(), row.viewer_regions, row.address, row.person.name,
            row.person.masked_id_number, row.what, row.reference,
        ])
    return response
