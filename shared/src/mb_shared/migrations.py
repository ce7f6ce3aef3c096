"""Alembic for every service that owns a database: one history per service, shipped in its package.

A service's history lives in ``<package>/migrations/``: ``env.py`` (one call to :func:`run_env`
with the service's metadata), ``script.py.mako`` and ``versions/<package>_<NNNN>_<slug>.py``.
No alembic.ini: :func:`alembic_config` builds the configuration in code, so the wheel and the image
carry everything ``migrate`` needs.

- :func:`migrate` is ``mb-<service> migrate``: create the database if missing, adopt a database
  that ``metadata.create_all`` made before there were migrations, then ``upgrade head``.
- :func:`new_revision` is ``mb-<service> revision -m MESSAGE``: autogenerate the next revision
  against a scratch database that it creates (and drops) on the server of ``DATABASE_URL``;
  ``mb-devstack revision SERVICE -m MESSAGE`` supplies a throwaway server.
"""

from __future__ import annotations

import logging
import re
import secrets
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlmodel.sql.sqltypes import AutoString

from mb_shared.database import create_database_if_missing, psycopg_url

__all__ = [
    "COMPARE_OPTIONS",
    "MigrationError",
    "alembic_config",
    "baseline_revision",
    "head_revision",
    "migrate",
    "new_revision",
    "run_env",
    "schema_differences",
    "schema_shape",
]

_log = logging.getLogger("mb_shared.migrations")

# What autogenerate (and the tests comparing a migrated database with the models) looks at.
COMPARE_OPTIONS: dict[str, Any] = {"compare_type": True, "compare_server_default": True}

_VERSION_TABLE = "alembic_version"
_SCRATCH_SCHEMA = "mb_baseline_check"


class MigrationError(RuntimeError):
    """``migrate`` refused to touch the database; the message says why."""


# ----------------------------------------------------------------------------- configuration
def alembic_config(package: str, connection: Connection | None = None) -> Config:
    """The Alembic configuration of ``<package>/migrations/``, built in code.

    ``connection`` (sync, psycopg) is handed to ``env.py`` through ``config.attributes``; every
    command that touches a database needs one.
    """
    config = Config()
    config.set_main_option("script_location", f"{package}:migrations")
    # versions/<package>_0001_baseline.py; ``%%`` because the values go through ConfigParser
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script(package: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(package))


def baseline_revision(package: str) -> str:
    """The first revision of the service's history: the schema ``create_all`` used to make."""
    bases = _script(package).get_bases()
    if len(bases) != 1:
        raise MigrationError(f"{package}: expected one base revision, found {bases}")
    return bases[0]


def head_revision(package: str) -> str:
    """The latest revision (one head: parallel branches must be rebased or merged)."""
    heads = _script(package).get_heads()
    if len(heads) != 1:
        raise MigrationError(
            f"{package}: expected one head revision, found {sorted(heads)}; set the newer "
            "revision's down_revision to the other one (or `alembic merge` them)"
        )
    return heads[0]


def _engine(database_url: str) -> Engine:
    return create_engine(psycopg_url(database_url), poolclass=NullPool)


# ------------------------------------------------------------------------------------- env.py
def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Autogenerate writes SQLModel's ``AutoString`` (a VARCHAR) as plain ``sa.String``, so that
    revisions do not import sqlmodel."""
    if type_ == "type" and isinstance(obj, AutoString):
        return "sa.String()" if obj.length is None else f"sa.String(length={obj.length})"
    return False


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``env.py``: run the migrations (or autogenerate) on the
    connection :func:`alembic_config` was given, comparing with ``metadata``."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None or context.is_offline_mode():
        raise MigrationError(
            "run Alembic through mb_shared.migrations (mb-<service> migrate | revision), "
            "which passes it a connection"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_item=_render_item,
        **COMPARE_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


# ------------------------------------------------------------------------------------ migrate
def migrate(package: str, database_url: str) -> None:
    """``mb-<service> migrate``: create the database if missing, adopt a ``create_all`` database,
    upgrade to head. Running it again is a no-op. Raises :class:`MigrationError` when the
    database holds tables but no ``alembic_version`` and they differ from the baseline."""
    create_database_if_missing(database_url)
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            # One migrate at a time per database (the lock is per server: key by database name).
            lock = text("SELECT pg_advisory_lock(hashtext('mb-migrate:' || current_database()))")
            conn.execute(lock)
            conn.commit()
            try:
                config = alembic_config(package, conn)
                _adopt_create_all_database(package, conn, config)
                command.upgrade(config, "head")
                conn.commit()
                version = conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar()
                _log.info("%s: database %s at %s", package, make_url(database_url).database,
                          version)
            finally:
                conn.rollback()
                conn.execute(
                    text("SELECT pg_advisory_unlock(hashtext('mb-migrate:' || current_database()))")
                )
                conn.commit()
    finally:
        engine.dispose()


def _tables(conn: Connection, schema: str) -> set[str]:
    rows = conn.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), {"schema": schema}
    )
    return {name for (name,) in rows}


def _adopt_create_all_database(package: str, conn: Connection, config: Config) -> None:
    """A database made by ``create_all`` (tables, no ``alembic_version``) is stamped with the
    baseline when its schema is exactly the baseline's, and refused otherwise."""
    schema = conn.execute(text("SELECT current_schema()")).scalar()
    tables = _tables(conn, schema)
    conn.rollback()
    if not tables or _VERSION_TABLE in tables:
        return  # empty (upgrade creates everything) or already under Alembic
    baseline = baseline_revision(package)
    differences = schema_differences(conn, package)
    if differences:
        raise MigrationError(
            f"{package}: the database has tables but no {_VERSION_TABLE}, and they differ from the "
            f"baseline revision {baseline}, so it cannot be adopted:\n  - "
            + "\n  - ".join(differences)
            + "\nBring it to the baseline by hand (or start from an empty database), then run "
            "migrate again."
        )
    _log.info("%s: tables made by create_all match the baseline; stamping %s", package, baseline)
    command.stamp(config, baseline)
    conn.commit()


def schema_differences(conn: Connection, package: str) -> list[str]:
    """How the current schema of ``conn``'s database differs from the baseline revision, one line
    per difference (empty: identical tables, columns, types, nullability, defaults, constraints
    and indexes, names included).

    The baseline is built for comparison in a scratch schema of the same database, inside a
    transaction that is rolled back (as is whatever ``conn`` had begun): nothing is left behind.
    """
    schema = conn.execute(text("SELECT current_schema()")).scalar()
    try:
        found = schema_shape(conn, schema)
        conn.execute(text(f"CREATE SCHEMA {_SCRATCH_SCHEMA}"))
        conn.execute(text(f"SET LOCAL search_path TO {_SCRATCH_SCHEMA}"))
        command.upgrade(alembic_config(package, conn), baseline_revision(package))
        expected = schema_shape(conn, _SCRATCH_SCHEMA)
        expected.pop(_VERSION_TABLE, None)
    finally:
        conn.rollback()
    return _describe_differences(expected, found)


# A table's shape: {("column" | "constraint" | "index", name): definition}. Read while the
# schema is first on the search_path, so that names inside definitions come out unqualified.
_SHAPE_QUERY = """
SELECT c.relname, 'column', a.attname,
       format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END
       || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
       || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'
                             WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
       || CASE WHEN a.attgenerated <> '' THEN ' GENERATED ALWAYS AS STORED' ELSE '' END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')
UNION ALL
SELECT c.relname, 'constraint', k.conname, pg_get_constraintdef(k.oid)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')
UNION ALL
SELECT c.relname, 'index', i.relname,
       regexp_replace(pg_get_indexdef(x.indexrelid), ' ON (ONLY )?\\S+ USING ', ' USING ')
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')
"""


Shape = dict[str, dict[tuple[str, str], str]]


def schema_shape(conn: Connection, schema: str | None = None) -> Shape:
    """Every table of ``schema`` (default: the current one) as
    ``{table: {("column" | "constraint" | "index", name): definition}}``."""
    if schema is None:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
    shape: Shape = {name: {} for name in _tables(conn, schema)}
    for table, kind, name, definition in conn.execute(text(_SHAPE_QUERY), {"schema": schema}):
        shape[table][(kind, name)] = definition
    return shape


def _describe_differences(expected: Shape, found: Shape) -> list[str]:
    lines = [f"table {t}: missing" for t in sorted(expected.keys() - found.keys())]
    lines += [f"table {t}: not in the baseline" for t in sorted(found.keys() - expected.keys())]
    for table in sorted(expected.keys() & found.keys()):
        want, have = expected[table], found[table]
        for kind, name in sorted(want.keys() | have.keys()):
            w, h = want.get((kind, name)), have.get((kind, name))
            if w == h:
                continue
            if h is None:
                lines.append(f"table {table}: {kind} {name} missing (baseline: {w})")
            elif w is None:
                lines.append(f"table {table}: {kind} {name} not in the baseline ({h})")
            else:
                lines.append(f"table {table}: {kind} {name} is {h}, the baseline has {w}")
    return lines


# ----------------------------------------------------------------------------------- revision
def _next_revision_id(package: str) -> str:
    script = _script(package)
    if not script.get_heads():
        return f"{package}_0001"
    match = re.fullmatch(rf"{re.escape(package)}_(\d+)", head_revision(package))
    if match is None:
        raise MigrationError(f"{package}: cannot number the revision after {head_revision(package)}")
    return f"{package}_{int(match.group(1)) + 1:04d}"


def new_revision(package: str, database_url: str, message: str) -> Path:
    """Write the next revision of ``<package>/migrations/versions/``, autogenerated by comparing
    the models with a scratch database at head.

    The scratch database is created on the server of ``database_url`` and dropped afterwards:
    the database ``database_url`` names is never touched. Read and edit the file it writes.
    """
    url = make_url(database_url)
    scratch = f"{package}_revision_{secrets.token_hex(4)}"
    scratch_url = url.set(database=scratch).render_as_string(hide_password=False)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    try:
        migrate(package, scratch_url)
        engine = _engine(scratch_url)
        try:
            with engine.connect() as conn:
                revision = command.revision(
                    alembic_config(package, conn),
                    message=message,
                    autogenerate=True,
                    rev_id=_next_revision_id(package),
                )
        finally:
            engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    assert revision is not None and not isinstance(revision, list)
    return Path(revision.path)
