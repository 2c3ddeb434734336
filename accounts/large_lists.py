"""Admin lists that stay fast at a province's size: millions of persons, entries, events.

The admin counts a list twice on every load (the filtered count for the paginator and, with
`show_full_result_count`, the whole table), and at a million rows each count costs seconds. Here a list is
counted only up to `LargeListPaginator.limit` rows; beyond that the clerk narrows it with the search box or a
filter, which is how anyone finds one application among a million.
"""

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from .models import Person


class LargeListPaginator(Paginator):
    """Count at most `limit` rows: pages beyond them are not offered (the filters narrow the list instead)."""

    limit = 5_000

    @cached_property
    def counted(self):
        """Return the number of rows up to limit + 1: one more than the limit says that there are more."""
        # COUNT(*) over a LIMIT subquery reads at most limit + 1 rows, in whatever order the database likes.
        return self.object_list.order_by().values("pk")[: self.limit + 1].count()

    @cached_property
    def count(self):
        """Return the number of rows, or `limit` when there are more (see `capped`)."""
        return min(self.counted, self.limit)

    @property
    def capped(self):
        """Return whether the list holds more rows than the pages offer."""
        return self.counted > self.limit


class LargeListAdmin:
    """ModelAdmin mixin for a list that grows with the population: no full count, a capped paginator."""

    paginator = LargeListPaginator
    show_full_result_count = False
    # No "显示计数" link in the filters: it counts every option over the whole table at each load.
    show_facets = admin.ShowFacets.NEVER


def people_matching(term):
    """Return the ids of the persons a search term names exactly: the 18-character ID number or the card number.

    Both are unique columns, so this is two index look-ups; a list then filters on the ids it returns instead of
    joining every row to its person to compare (an OR across joined tables, which no index serves).
    """
    term = term.strip()
    condition = {"card_number": term}
    query = Person.objects.filter(**condition)
    if len(term) == 18:
        query = query | Person.objects.filter(id_number=term.upper())
    return list(query.values_list("pk", flat=True)[:2])


def people_named(term):
    """Return the persons whose name starts with `term`, as a subquery a list can filter on.

    Served by the index on the name (PostgreSQL: `varchar_pattern_ops`, so LIKE 'term%' uses it); a search for
    a part in the middle of a name would read every person, and a clerk types a name from its start.
    """
    return Person.objects.filter(name__startswith=term.strip()).values("pk")
