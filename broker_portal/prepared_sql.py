"""Statements built with the ORM once per process and then run as SQL, for the few hot paths where Django's
SQL compiler costs more than the database round trip (the token refresh: bench/README.md, "Token refresh").

Both keep the ORM's meaning: the SELECT is the queryset's own SQL, model fields still pass through their
converters (decryption included), and an update still runs each field's ``pre_save`` (``auto_now``) and
``get_db_prep_save`` (encryption). What they skip is the compiling and the model signals.
"""

from collections.abc import Sequence

from django.db import connections
from django.db.models import Model, QuerySet

_ID_PLACEHOLDER = -1  # the one parameter of a prepared lookup's SQL; never a real primary key


class PreparedLookup:
    """A one-row lookup by primary key, compiled once per database: ``lookup.get(pk)`` is ``queryset.filter(
    pk=pk).first()`` without compiling. The queryset may lock (select_for_update) and annotate; a locking
    lookup must run inside a transaction."""

    def __init__(self, queryset: QuerySet):
        self.queryset = queryset
        self._sql: dict[str, str] = {}

    def sql(self, using: str) -> str:
        if using not in self._sql:
            query = self.queryset.using(using).filter(pk=_ID_PLACEHOLDER).order_by()[:1].query
            sql, params = query.get_compiler(using=using).as_sql()
            if tuple(params) != (_ID_PLACEHOLDER,):
                raise ValueError("a prepared lookup takes the primary key as its only parameter")
            self._sql[using] = sql
        return self._sql[using]

    def get(self, pk, *, using: str = "default") -> Model | None:
        manager = self.queryset.model._default_manager.db_manager(using)
        return next(iter(manager.raw(self.sql(using), [pk])), None)


def update_fields(instance: Model, fields: Sequence[str]) -> int:
    """``instance.save(update_fields=fields)`` without compiling an UPDATE each time (and without signals);
    answers the number of rows updated."""
    meta = instance._meta
    connection = connections[instance._state.db or "default"]
    model_fields = [meta.get_field(name) for name in fields]
    values = []
    for field in model_fields:
        value = field.pre_save(instance, add=False)
        values.append(field.get_db_prep_save(value, connection=connection))
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(connection, meta.db_table, meta.pk.column, tuple(f.column for f in model_fields)),
                       [*values, instance.pk])
        return cursor.rowcount


_update_statements: dict[tuple, str] = {}


def _update_sql(connection, table: str, pk_column: str, columns: tuple[str, ...]) -> str:
    key = (connection.alias, table, columns)
    if key not in _update_statements:
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
        _update_statements[key] = f"UPDATE {quote(table)} SET {assignments} WHERE {quote(pk_column)} = %s"
    return _update_statements[key]
