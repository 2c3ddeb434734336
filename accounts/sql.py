"""Plain-SQL writes and reads of model rows, for the few paths where the ORM's cost shows.

A settlement (`sharing.settlement`) and its posting (`accounts.ledger`) run a dozen statements; building each
through the ORM costs several times what PostgreSQL spends running it. These helpers write and read the
same rows with the statement text built once per model and row count, the values converted by the model's
own fields (`get_db_prep_save`), so PostgreSQL and SQLite get exactly what the ORM would send. They skip
what the ORM adds around a save: no signals are sent (as with `bulk_create`), no validation is run. Use them
only where the ORM's cost matters; everywhere else the ORM is clearer.
"""

from decimal import Decimal
from functools import cache

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection
from django.db.models import DEFERRED

# Parameters per statement: far below PostgreSQL's limit of 65,535 and SQLite's of 32,766, so that a write
# of any size goes out in statements of a few thousand rows.
MAX_PARAMETERS = 10_000


def batches(items, per_item=1):
    """Split `items` into lists small enough for one statement at `per_item` parameters each."""
    size = max(1, MAX_PARAMETERS // per_item)
    return [items[start:start + size] for start in range(0, len(items), size)]


def insert(objs):
    """INSERT unsaved instances of one model, a few thousand rows a statement, and set their ids."""
    if not objs:
        return objs
    model = type(objs[0])
    fields = _insert_fields(model)
    for batch in batches(objs, len(fields)):
        values = []
        for obj in batch:
            _take_related_ids(obj, fields)
            values += [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
        with connection.cursor() as cursor:
            cursor.execute(_insert_sql(model, len(batch)), values)
            ids = [row[0] for row in cursor.fetchall()]
        for obj, pk in zip(batch, ids, strict=True):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, connection.alias
    return objs


def _take_related_ids(obj, fields):
    """Copy the id of a related object saved after it was assigned, as `save()` does; refuse unsaved ones."""
    for field in fields:
        if field.is_relation and getattr(obj, field.attname) is None:
            related = getattr(obj, field.name)
            if related is not None:
                if related.pk is None:
                    raise ValueError(f"{field.name} of {obj!r} is not saved yet")
                setattr(obj, field.attname, related.pk)


def update(obj, field_names):
    """UPDATE the given fields of a saved instance, like `save(update_fields=...)` without its signals."""
    meta = obj._meta
    fields = [meta.get_field(name) for name in field_names]
    _take_related_ids(obj, fields)
    assignments = ", ".join(f"{connection.ops.quote_name(field.column)} = %s" for field in fields)
    pk = meta.pk
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {assignments} "
            f"WHERE {connection.ops.quote_name(pk.column)} = %s",
            [field.get_db_prep_save(field.pre_save(obj, False), connection) for field in fields]
            + [pk.get_db_prep_value(obj.pk, connection)],
        )
        if cursor.rowcount != 1:
            raise DatabaseError(f"Updating {meta.object_name} #{obj.pk} affected {cursor.rowcount} rows.")


def instance(model, **values):
    """An instance of `model` from column values our own SQL read, as the ORM builds one (`from_db`).

    Each value goes through its field's converters, as the ORM's would (SQLite returns dates as text and
    decimals as floats). Fields not given are deferred: loaded from the database if anything reads them.
    """
    fields = model._meta.concrete_fields
    return model.from_db(
        connection.alias,
        [field.attname for field in fields if field.attname in values],
        [
            _converted(model, field, values[field.attname]) if field.attname in values else DEFERRED
            for field in fields
        ],
    )


def select_one(model, field_name, value):
    """The instance whose (unique) `field_name` is `value`, every column read; None if there is none."""
    field = model._meta.get_field(field_name)
    with connection.cursor() as cursor:
        cursor.execute(_select_sql(model, field_name), [field.get_db_prep_value(value, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    return instance(model, **{field.attname: value for field, value in zip(model._meta.concrete_fields, row)})


def money(value):
    """A decimal column's value as a two-place Decimal (SQLite returns floats)."""
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(Decimal("0.01"))


def account_page_facts(person_id):
    """What /account/ changes with (accounts.page_parts), one row per personal account of the person, newest
    first: id, status, hold, balance, the id of its last ledger entry (every movement of money adds one), and
    its enrolment's status, contribution months, contribution base and employment.

    One statement whose text is built once: through the ORM, building it took ten times what PostgreSQL
    spends running it, on every load of the page.
    """
    from .models import Account

    with connection.cursor() as cursor:
        cursor.execute(_account_facts_sql(), [Account.Kind.PERSONAL, person_id])
        return cursor.fetchall()


def user_with_person(user_id):
    """The user `user_id` (as a session keeps it) with its person loaded, as `select_related("person")` would
    load them, or None; one statement built once. Every page a citizen opens loads its user so: through the ORM,
    building the statement took longer than everything else the shortest pages do."""
    from .models import Person, User

    try:
        user_id = User._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_user_with_person_sql(), [user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    user_fields = User._meta.concrete_fields
    user = instance(User, **{field.attname: value for field, value in zip(user_fields, row)})
    if user.person_id is not None:
        person_values = row[len(user_fields):]
        user.person = instance(
            Person, **{field.attname: value for field, value in zip(Person._meta.concrete_fields, person_values)}
        )
    return user


def notice_facts(person_id):
    """What the inbox changes with (accounts.page_parts): how many notices the person has, how many of them ask
    for an action and are unread, how many are unread, and the newest one's id; one statement, built once."""
    with connection.cursor() as cursor:
        cursor.execute(_notice_facts_sql(), [person_id])
        total, to_do, unread, newest = cursor.fetchone()
    return total, to_do or 0, unread or 0, newest


def column(alias, model, name):
    """`alias."column"`: the column of `model`'s field `name` (its primary key for "pk"), quoted."""
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    return f"{alias}.{connection.ops.quote_name(field.column)}"


def table(model, alias):
    """`"table" alias`: `model`'s table, quoted, under `alias`."""
    return f"{connection.ops.quote_name(model._meta.db_table)} {alias}"


def last_entry_sql(account_column):
    """A scalar subquery: the id of the latest ledger entry of the account whose id is `account_column`, one
    step down the (account, -id) index."""
    from .models import LedgerEntry as Entry

    return (
        f"(SELECT {column('le', Entry, 'pk')} FROM {table(Entry, 'le')} "
        f"WHERE {column('le', Entry, 'account')} = {account_column} "
        f"ORDER BY {column('le', Entry, 'pk')} DESC LIMIT 1)"
    )


def personal_account_sql(person_column):
    """A scalar subquery: the id of the newest personal account of the person whose id is `person_column`;
    its one parameter is the personal kind."""
    from .models import Account, Enrolment

    return (
        f"(SELECT {column('pa', Account, 'pk')} FROM {table(Account, 'pa')} JOIN {table(Enrolment, 'pe')} "
        f"ON {column('pe', Enrolment, 'pk')} = {column('pa', Account, 'enrolment')} "
        f"WHERE {column('pa', Account, 'kind')} = %s AND {column('pe', Enrolment, 'person')} = {person_column} "
        f"ORDER BY {column('pa', Account, 'pk')} DESC LIMIT 1)"
    )


def marks(values):
    """`%s, %s, ...`: one placeholder per value, for an `IN (...)` list."""
    return ", ".join(["%s"] * len(values))


@cache
def _insert_fields(model):
    return [field for field in model._meta.concrete_fields if not field.primary_key]


@cache
def _insert_sql(model, rows):
    quote = connection.ops.quote_name
    fields = _insert_fields(model)
    columns = ", ".join(quote(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)} "
        f"RETURNING {quote(model._meta.pk.column)}"
    )


@cache
def _account_facts_sql():
    from .models import Account, Enrolment

    def a(name):
        return column("a", Account, name)

    def e(name):
        return column("e", Enrolment, name)

    columns = [a("pk"), a("status"), a("hold"), a("balance"), last_entry_sql(a("pk")),
               e("status"), e("contribution_months"), e("contribution_base"), e("employment")]
    return (
        f"SELECT {', '.join(columns)} FROM {table(Account, 'a')} JOIN {table(Enrolment, 'e')} "
        f"ON {e('pk')} = {a('enrolment')} WHERE {a('kind')} = %s AND {e('person')} = %s ORDER BY {a('pk')} DESC"
    )


@cache
def _user_with_person_sql():
    from .models import Person, User

    columns = [column("u", User, field.name) for field in User._meta.concrete_fields]
    columns += [column("p", Person, field.name) for field in Person._meta.concrete_fields]
    return (
        f"SELECT {', '.join(columns)} FROM {table(User, 'u')} LEFT JOIN {table(Person, 'p')} "
        f"ON {column('p', Person, 'pk')} = {column('u', User, 'person')} WHERE {column('u', User, 'pk')} = %s"
    )


@cache
def _notice_facts_sql():
    from .models import Notice

    def n(name):
        return column("n", Notice, name)

    # SUM(CASE ...) rather than COUNT(*) FILTER (...): SQLite before 3.30 has no FILTER.
    return (
        f"SELECT COUNT(*), SUM(CASE WHEN {n('needs_action')} AND {n('read_at')} IS NULL THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {n('read_at')} IS NULL THEN 1 ELSE 0 END), MAX({n('pk')}) "
        f"FROM {table(Notice, 'n')} WHERE {n('person')} = %s"
    )


@cache
def _select_sql(model, field_name):
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in model._meta.concrete_fields)
    where = quote(model._meta.get_field(field_name).column)
    return f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {where} = %s"


def _converted(model, field, value):
    column, converters = _converters(model, field)
    for converter in converters:
        value = converter(value, column, connection)
    return value


@cache
def _converters(model, field):
    column = field.get_col(model._meta.db_table)
    return column, tuple(connection.ops.get_db_converters(column) + column.get_db_converters(connection))
