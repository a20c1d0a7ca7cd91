"""Statements built with the ORM once per process and then run as SQL, for the few hot paths where Django's
SQL compiler costs more than the database round trip (the token refresh: bench/README.md, "Token refresh").

Both keep the ORM's meaning: the SELECT is the queryset's own SQL, its row passes through the fields'
converters (decryption included) into ``Model.from_db`` as a queryset's rows do, and an update still runs each
field's ``pre_save`` (``auto_now``) and ``get_db_prep_save`` (encryption). What they skip is the compiling,
the queryset machinery around one row, and the model signals.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connections
from django.db.models import Model, QuerySet

_ID_PLACEHOLDER = -1  # the one parameter of a prepared lookup's SQL; never a real primary key


@dataclass(frozen=True)
class CompiledLookup:
    """What reading one row needs from Django's compiler: the SQL, and how a row becomes a model instance
    (as ModelIterable does it: field converters, ``from_db`` with the selected fields, annotations)."""

    sql: str
    field_names: list[str]
    fields: slice
    annotations: dict[str, int]
    converters: list[tuple[int, tuple]]


class PreparedLookup:
    """A one-row lookup by primary key, compiled once per database: ``lookup.get(pk)`` is ``queryset.filter(
    pk=pk).first()`` without compiling. The queryset may lock (select_for_update), annotate and defer, but not
    select_related; a locking lookup must run inside a transaction."""

    def __init__(self, queryset: QuerySet):
        self.queryset = queryset
        self._compiled: dict[str, CompiledLookup] = {}

    def compiled(self, using: str) -> CompiledLookup:
        if using not in self._compiled:
            query = self.queryset.using(using).filter(pk=_ID_PLACEHOLDER).order_by()[:1].query
            compiler = query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            if tuple(params) != (_ID_PLACEHOLDER,):
                raise ValueError("a prepared lookup takes the primary key as its only parameter")
            if compiler.klass_info.get("related_klass_infos"):
                raise ValueError("a prepared lookup reads one model's row (no select_related)")
            columns = [column for column, _sql, _alias in compiler.select]
            selected = compiler.klass_info["select_fields"]
            fields = slice(selected[0], selected[-1] + 1)
            self._compiled[using] = CompiledLookup(
                sql=sql, field_names=[column.target.attname for column in columns[fields]], fields=fields,
                annotations=dict(compiler.annotation_col_map),
                converters=list(compiler.get_converters(columns).items()))
        return self._compiled[using]

    def sql(self, using: str) -> str:
        return self.compiled(using).sql

    def get(self, pk, *, using: str = "default") -> Model | None:
        compiled = self.compiled(using)
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, [pk])
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
        for position, (converters, expression) in compiled.converters:
            value = row[position]
            for convert in converters:
                value = convert(value, expression, connection)
            row[position] = value
        instance = self.queryset.model.from_db(using, compiled.field_names, row[compiled.fields])
        for name, position in compiled.annotations.items():
            setattr(instance, name, row[position])
        return instance


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
