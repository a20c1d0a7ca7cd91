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
            _compiler, lookup, params = self._compile_select(using)
            if tuple(params) != (_ID_PLACEHOLDER,):
                raise ValueError("a prepared lookup takes the primary key as its only parameter")
            self._compiled[using] = lookup
        return self._compiled[using]

    def _compile_select(self, using: str):
        query = self.queryset.using(using).filter(pk=_ID_PLACEHOLDER).order_by()[:1].query
        compiler = query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        if compiler.klass_info.get("related_klass_infos"):
            raise ValueError("a prepared lookup reads one model's row (no select_related)")
        columns = [column for column, _sql, _alias in compiler.select]
        selected = compiler.klass_info["select_fields"]
        fields = slice(selected[0], selected[-1] + 1)
        return (
            compiler,
            CompiledLookup(
                sql=sql,
                field_names=[column.target.attname for column in columns[fields]],
                fields=fields,
                annotations=dict(compiler.annotation_col_map),
                converters=list(compiler.get_converters(columns).items()),
            ),
            params,
        )

    def sql(self, using: str) -> str:
        return self.compiled(using).sql

    def get(self, pk, *, using: str = "default") -> Model | None:
        compiled = self.compiled(using)
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, [pk])
            row = cursor.fetchone()
        return None if row is None else self.instance_from(row, compiled, using)

    def instance_from(self, row, compiled: CompiledLookup, using: str) -> Model:
        connection = connections[using]
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


class PreparedClaim(PreparedLookup):
    """A one-row claim by primary key, compiled once per database: ``claim.get(pk, token=…, until=…, now=…)``
    sets the row's claim field to ``token`` and its lease field to ``until`` where the queryset's filter
    matches and no lease is running at ``now``, and answers the row as it is after that UPDATE (RETURNING),
    else None. One statement, so it commits on its own outside a transaction, and the row it returns is the
    newest version (a concurrent writer's commit is waited for and seen, never an older snapshot)."""

    def __init__(self, queryset: QuerySet, *, claim_field: str, until_field: str):
        super().__init__(queryset)
        self.claim_field, self.until_field = claim_field, until_field
        self._params: dict[str, list] = {}

    def compiled(self, using: str) -> CompiledLookup:
        if using not in self._compiled:
            # The SELECT's columns and converters; its SQL becomes an UPDATE's WHERE and RETURNING.
            compiler, lookup, _params = self._compile_select(using)
            where, params = compiler.compile(compiler.where)
            if _ID_PLACEHOLDER not in params:
                raise ValueError("a prepared claim takes the primary key as a parameter")
            returning = []
            for _expression, (sql, select_params), alias in compiler.select:
                if select_params:
                    raise ValueError("a prepared claim's columns take no parameters")
                returning.append(f"{sql} AS {compiler.quote_name_unless_alias(alias)}" if alias else sql)
            meta = self.queryset.model._meta
            quote = connections[using].ops.quote_name
            claim, until = (quote(meta.get_field(name).column) for name in (self.claim_field, self.until_field))
            table = quote(meta.db_table)
            sql = (
                f"UPDATE {table} SET {claim} = %s, {until} = %s WHERE {where} AND "
                f"({table}.{until} IS NULL OR {table}.{until} < %s) RETURNING {', '.join(returning)}"
            )
            self._params[using] = list(params)
            self._compiled[using] = CompiledLookup(
                sql=sql,
                field_names=lookup.field_names,
                fields=lookup.fields,
                annotations=lookup.annotations,
                converters=lookup.converters,
            )
        return self._compiled[using]

    def get(self, pk, *, token: str = "", until=None, now=None, using: str = "default") -> Model | None:
        compiled = self.compiled(using)
        connection = connections[using]
        until_field = self.queryset.model._meta.get_field(self.until_field)
        params = [
            token,
            until_field.get_db_prep_save(until, connection=connection),
            *(pk if value == _ID_PLACEHOLDER else value for value in self._params[using]),
            until_field.get_db_prep_save(now, connection=connection),
        ]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        return None if row is None else self.instance_from(row, compiled, using)


def update_fields(instance: Model, fields: Sequence[str], *, only_if: dict | None = None) -> int:
    """``instance.save(update_fields=fields)`` without compiling an UPDATE each time (and without signals);
    answers the number of rows updated. ``only_if``: field values the row must still hold (a fencing token),
    else nothing is written and the answer is 0."""
    meta = instance._meta
    connection = connections[instance._state.db or "default"]
    model_fields = [meta.get_field(name) for name in fields]
    fence = [(meta.get_field(name), value) for name, value in (only_if or {}).items()]
    values = []
    for field in model_fields:
        value = field.pre_save(instance, add=False)
        values.append(field.get_db_prep_save(value, connection=connection))
    with connection.cursor() as cursor:
        cursor.execute(
            _update_sql(
                connection,
                meta.db_table,
                meta.pk.column,
                tuple(f.column for f in model_fields),
                tuple(field.column for field, _value in fence),
            ),
            [*values, instance.pk, *(field.get_db_prep_value(value, connection=connection) for field, value in fence)],
        )
        return cursor.rowcount


_update_statements: dict[tuple, str] = {}


def _update_sql(connection, table: str, pk_column: str, columns: tuple[str, ...], fence: tuple[str, ...] = ()) -> str:
    key = (connection.alias, table, columns, fence)
    if key not in _update_statements:
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
        conditions = "".join(f" AND {quote(column)} = %s" for column in fence)
        _update_statements[key] = f"UPDATE {quote(table)} SET {assignments} WHERE {quote(pk_column)} = %s{conditions}"
    return _update_statements[key]
