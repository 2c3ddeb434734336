"""The costly middle of a citizen's busiest pages, kept in the shared cache until what it shows changes.

/account/ and /sharing/ show figures that take a dozen statements and their planning to gather (the statement,
the credits and their reasons, what each relative was paid); citizens reload them far more often than the
figures change. Such a page reads first the few facts that say whether anything changed (each account's
status, hold, balance and last ledger entry, which every movement of money adds; the bindings' states; the
query string; today's date), in one statement built once (`accounts.sql.account_page_facts`,
`sharing.sql.index_facts`: through the ORM, building it cost more than all else the page does), passes them to
`part_key`, and wraps the part in

    {% cache part_seconds "<name>" part_key %} ... {% endcache %}

with the statements behind the part passed as `later(...)` callables, which the template calls only when the
part is rendered, so a page served from the cache does not run them. The key holds the person, so no citizen is
ever served another's part; the part holds no form token and no nonce (the header and the forms that post stay
outside it).

What the facts do not cover is bounded by `PART_SECONDS`: the name of a relative a payment names, changed at
the counter, shows within five minutes. A change of policy versions (the rule a credit follows) starts a new
generation of keys at once (`policy_changed`, connected in apps.py).
"""

import functools
import hashlib

from django.core.cache import cache
from django.utils.functional import SimpleLazyObject, empty

PART_SECONDS = 300
GENERATION_KEY = "page-parts:generation"


def part_key(*facts):
    """Return the cache key of a page part showing `facts` (anything with a stable repr), in this generation."""
    generation = cache.get(GENERATION_KEY, 0)
    return hashlib.sha256(repr((generation, facts)).encode()).hexdigest()


def new_generation():
    """Make every part kept so far stale: for changes no page's facts show (a new policy version)."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        # Not set yet (or evicted): any value other than the default 0 starts a new generation.
        cache.set(GENERATION_KEY, 1, timeout=None)


def policy_changed(sender, **kwargs):
    """Signal receiver for saved or deleted policy versions."""
    new_generation()


class Later(SimpleLazyObject):
    """A value computed at its first use: the template calls it (and gets the value itself, a number included);
    Python code reads its attributes as the value's."""

    def __call__(self):
        if self._wrapped is empty:
            self._setup()
        return self._wrapped


def later(function, *args, **kwargs):
    """Return `function(*args, **kwargs)` computed once, and only if the part is rendered (see Later)."""
    return Later(functools.partial(function, *args, **kwargs))
