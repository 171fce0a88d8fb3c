"""The SQLQuery profile's `:name` parameter placeholders, bound as DuckDB `$name` parameters.

SQL on FHIR's SQLQuery (a Library) writes parameters as `:name`; DuckDB binds named parameters
written `$name`. DuckDB's own tokenizer finds the placeholders: a `:` operator token directly followed
by an identifier (so `x::date` casts, strings and comments are left alone). Values are always bound
by DuckDB, never pasted into the text.
"""

from __future__ import annotations

from ..errors import InvalidRequest
from ..i18n import _


def duckdb_placeholders(sql: str) -> str:
    """`sql` with each `:name` placeholder written `$name`."""
    import duckdb  # imported on first use: the write rules that check stored queries load at every start

    names = (duckdb.token_type.identifier, duckdb.token_type.keyword)  # a name may be a keyword (`:start`)
    try:
        tokens = duckdb.tokenize(sql)
    except duckdb.Error as exc:
        raise InvalidRequest(_("The query is not valid SQL: {error}").format(error=str(exc)[:300]),
                             expression="query") from exc  # fmt: skip
    chars = list(sql)
    for (start, kind), (next_start, next_kind) in zip(tokens, tokens[1:], strict=False):
        if kind == duckdb.token_type.operator and sql[start] == ":" and next_start == start + 1 and next_kind in names:
            chars[start] = "$"
    return "".join(chars)
