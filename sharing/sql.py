"""Plain-SQL reads of the sharing pages, for the few paths where the ORM's cost shows (see accounts.sql)."""

from functools import cache

from django.db import connection

from accounts import sql as accounts_sql
from accounts.models import Account

from .models import Binding


def index_facts(person_id):
    """What /sharing/ changes with (accounts.page_parts), one row per binding the person is either side of,
    by id: id, status, way, priority, confirmation deadline, and the id of the last ledger entry of the money
    it pays from (its quota account, and the payer's personal account, which a direct binding pays from).

    One statement whose text is built once: through the ORM, building it took ten times what PostgreSQL spends
    running it, on every load of the page.
    """
    with connection.cursor() as cursor:
        cursor.execute(_index_facts_sql(), [Account.Kind.PERSONAL, person_id, person_id])
        return cursor.fetchall()


@cache
def _index_facts_sql():
    def b(name):
        return accounts_sql.column("b", Binding, name)

    columns = [
        b("pk"), b("status"), b("way"), b("priority"), b("expires_at"),
        accounts_sql.last_entry_sql(b("quota_account")),
        accounts_sql.last_entry_sql(accounts_sql.personal_account_sql(b("payer"))),
    ]
    return (
        f"SELECT {', '.join(columns)} FROM {accounts_sql.table(Binding, 'b')} "
        f"WHERE {b('payer')} = %s OR {b('relative')} = %s ORDER BY {b('pk')}"
    )
