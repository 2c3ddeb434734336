"""Which regions a member of staff serves, and the admin pieces that keep them to those regions."""

from django.contrib import admin
from django.contrib.admin.utils import lookup_spawns_duplicates, unquote
from django.db.models import Exists, OuterRef
from django.http import Http404

from .large_lists import LargeListAdmin
from .models import Region


def regions_of(user):
    """Return the regions `user` serves: all for a superuser, none for staff without a profile."""
    if user.is_active and user.is_superuser:
        return Region.objects.all()
    if not (user.is_active and user.is_staff):
        return Region.objects.none()
    return Region.objects.filter(staff__user=user)


def region_ids_of(user):
    """Return the ids of the regions `user` serves (see regions_of) as a list, read once per user object.

    For the lists staff read: with the very ids in the query, the database plans for those regions (one region
    is an equality whose indexes give a queue in order, and the statistics say how many rows it holds) instead
    of guessing for a subquery's. The user object lives for one request, so a change of regions shows at the
    next page.
    """
    ids = getattr(user, "_served_region_ids", None)
    if ids is None:
        ids = user._served_region_ids = list(regions_of(user).values_list("pk", flat=True))
    return ids


def limit_to_regions(queryset, user, lookup):
    """Return the rows of `queryset` whose `lookup` (a path to a Region) is a region `user` serves."""
    if user.is_active and user.is_superuser:
        return queryset
    regions = region_ids_of(user)
    # A path through a to-many relation (a person's enrolments, a transaction's entries) would join one row per
    # match and need DISTINCT, which at a million rows makes every count sort them all. EXISTS asks the same
    # question per row and stops at the first match, served by the relation's index.
    if lookup_spawns_duplicates(queryset.model._meta, lookup):
        return queryset.filter(_exists_in_regions(queryset.model, lookup, regions))
    return queryset.filter(**{f"{lookup}__in": regions})


def _exists_in_regions(model, lookup, regions):
    """Return EXISTS over the rows of the path's first to-many relation that lead to one of `regions`.

    "person__enrolments__region" on a notice becomes EXISTS (an enrolment of the notice's person in the regions):
    one probe of the enrolments' person index per row, with no join back to the listed table.
    """
    parts = lookup.split("__")
    opts, outer, outer_fields = model._meta, [], []
    for position, name in enumerate(parts):
        field = opts.get_field(name)
        if field.one_to_many and field.auto_created:
            rest = "__".join(parts[position + 1 :])
            # The listed row's own foreign key column when one hop leads here (a notice's person_id).
            target = outer_fields[0].attname if len(outer) == 1 else "__".join([*outer, "pk"])
            inner = field.related_model._default_manager.filter(
                **{field.field.name: OuterRef(target)},
                **{f"{rest}__in" if rest else "pk__in": regions},
            )
            return Exists(inner)
        if not (field.many_to_one or field.one_to_one) or field.related_model is None:
            break
        outer.append(name)
        outer_fields.append(field)
        opts = field.related_model._meta
    # Any other shape (a many-to-many field): the listed table joined to itself.
    return Exists(model._default_manager.filter(pk=OuterRef("pk"), **{f"{lookup}__in": regions}))


class RegionScopedAdmin(LargeListAdmin):
    """ModelAdmin mixin: staff see, pick and open only rows of the regions they serve; lists count no further
    than a page needs (LargeListAdmin).

    Set `region_lookup` to the path from the model to its Region: "region", "enrolments__region",
    "entries__account__region", or "pk" for Region itself. Superusers see every region.
    """

    region_lookup = "region"

    def get_queryset(self, request):
        """Limit the rows to the user's regions."""
        return limit_to_regions(super().get_queryset(request), request.user, self.region_lookup)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Offer only the user's regions in a region field."""
        if db_field.related_model is Region:
            kwargs["queryset"] = regions_of(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        """Offer only the user's regions in a many-regions field."""
        if db_field.related_model is Region:
            kwargs["queryset"] = regions_of(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def history_view(self, request, object_id, extra_context=None):
        """Show a row's history only to staff who may see the row."""
        # django-simple-history falls back to the last historical version of a row it cannot find,
        # which would show another region's row; refuse before it looks.
        self._get_scoped_object_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """Show an old version of a row only to staff who may see the row."""
        self._get_scoped_object_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _get_scoped_object_or_404(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        return obj


class RegionListFilter(admin.RelatedFieldListFilter):
    """A region filter offering only the regions the member of staff serves."""

    def field_choices(self, field, request, model_admin):
        """Return the user's regions as (pk, label) choices."""
        return [(region.pk, str(region)) for region in regions_of(request.user)]


def passed_second_factor(user):
    """Return whether a staff session passed the second factor (set by django-otp's OTPMiddleware).

    A user that came through no request (a service called by a command or a test) carries no such mark.
    """
    is_verified = getattr(user, "is_verified", None)
    return is_verified is None or is_verified()
