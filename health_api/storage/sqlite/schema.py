"""The SQLite schema: the DynamoDB table specs as tables and indexes, its version, and its check.

Table names come from ``table_specs(settings)`` (prefix and overrides honoured) and are always
quoted, since they may hold ``-`` and ``.``. Each GSI becomes an index whose name carries the table
name, because SQLite index names share one namespace per file (two prefixes may share a file).

The schema version lives in ``PRAGMA user_version``. A file written by a newer release is refused
rather than guessed at; an older one is migrated by the steps in ``MIGRATIONS``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping

from health_api.domain.errors import StorageUnavailableError
from health_api.storage.table_check import TableReport, missing_report
from health_api.storage.tables import (
    DOCTORES,
    ESPECIALIDAD_INDEX,
    HORARIOS_DOCTORES,
    IDEMPOTENCY_KEYS,
    USER_ID_INDEX,
    USER_SESSIONS,
    TableSpec,
)

SCHEMA_VERSION = 6
HOLDS_INDEX = "holds"  # SQLite only: a user's live holds, counted under HOLD_MAX_PER_USER


SESSION_COLUMNS = {"user_id", "data", "created_at", "updated_at", "expires_at", "ttl", "version"}


def _session_ttl_seconds(conn: sqlite3.Connection, names: Mapping[str, str]) -> None:
    """Version 2: sessions remember their lifetime; rows stored before keep NULL (they slide by
    ``SESSION_TTL_SECONDS``). The version belongs to the file, which several table-name sets may
    share, so every sessions table in it is upgraded now, not only the one ``names`` gives."""
    del names  # every sessions table of the file, whatever its name
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")}
        if columns >= SESSION_COLUMNS and "ttl_seconds" not in columns:
            conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN ttl_seconds INTEGER")


DOCTOR_COLUMNS = {"doctor_id", "nombre", "especialidad", "especialidad_nombre", "idiomas"}


def _doctor_deletion_mark(conn: sqlite3.Connection, names: Mapping[str, str]) -> None:
    """Version 3: ``doctores.eliminando_desde``, the mark of a doctor being deleted (see
    ``services/doctors.py``); every doctores table of the file, as in version 2."""
    del names  # every doctores table of the file, whatever its name
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")}
        if columns >= DOCTOR_COLUMNS and "eliminando_desde" not in columns:
            conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN eliminando_desde TEXT")


def _idempotency_keys(conn: sqlite3.Connection, names: Mapping[str, str]) -> None:
    """Version 5: table ``idempotency_keys``. Nothing to alter: ``create_statements`` creates
    it (``IF NOT EXISTS``) in the same transaction, whatever version the file had."""
    del conn, names


IDEMPOTENCY_COLUMNS = {"clave", "huella", "token", "claimed_at", "ttl", "completed", "body"}


def _idempotency_seed(conn: sqlite3.Connection, names: Mapping[str, str]) -> None:
    """Version 6: ``idempotency_keys.seed``, kept by a takeover (``services/idempotency.py``);
    records stored before keep NULL (read as no seed); every such table of the file, as in
    version 2."""
    del names  # every idempotency table of the file, whatever its name
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")}
        if columns >= IDEMPOTENCY_COLUMNS and "seed" not in columns:
            conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN seed TEXT")


SLOT_COLUMNS = {"doctor_id", "fecha_hora", "duracion_min", "estado", "user_id", "motivo"}
SLOT_COPY = "doctor_id, fecha_hora, duracion_min, estado, user_id, motivo, reservado_en"


def _slot_holds(conn: sqlite3.Connection, names: Mapping[str, str]) -> None:
    """Version 4: holds (``retenido`` and its ``retenido_por``/``retenido_hasta``/``retencion``
    columns). SQLite cannot change a CHECK constraint in place, so every slots table of the file
    is rebuilt: renamed aside, created anew, copied, dropped (its indexes with it), indexed."""
    del names  # every slots table of the file, whatever its name
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")}
        if not columns >= SLOT_COLUMNS or "retenido_por" in columns:
            continue
        aside = f"{table}:v3"
        conn.execute(f"ALTER TABLE {quote(table)} RENAME TO {quote(aside)}")
        conn.execute(slots_table_ddl(table))
        # Quoted identifiers only, no values: nothing to bind.
        conn.execute(
            f"INSERT INTO {quote(table)} ({SLOT_COPY}) SELECT {SLOT_COPY} FROM {quote(aside)}"  # noqa: S608
        )
        conn.execute(f"DROP TABLE {quote(aside)}")
        for statement in slots_index_ddl(table):
            conn.execute(statement)


# version -> step that upgrades existing tables from version - 1. Steps are independent of
# each other (a version with no step changes no existing table).
MIGRATIONS: dict[int, Callable[[sqlite3.Connection, Mapping[str, str]], None]] = {
    2: _session_ttl_seconds,
    3: _doctor_deletion_mark,
    4: _slot_holds,
    5: _idempotency_keys,
    6: _idempotency_seed,
}


class SchemaTooNewError(StorageUnavailableError):
    """The file was written by a newer schema than this code knows; it is left untouched."""


def quote(identifier: str) -> str:
    """``identifier`` as a quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def index_name(table: str, index: str) -> str:
    """The SQLite name of the index that stands for GSI ``index`` of ``table``."""
    return f"{table}:{index}"


def slots_table_ddl(table: str) -> str:
    """The ``CREATE TABLE`` of a slots table named ``table``.

    WITHOUT ROWID: rows are stored in key order, so a doctor's range is one B-tree scan, like a
    DynamoDB partition sorted by its range key. No foreign key to doctores: DynamoDB has none,
    and the two backends must accept and refuse the same writes. A hold keeps its holder in
    ``retenido_por`` (never ``user_id``, so holds stay out of the user index), its expiry in
    ``retenido_hasta`` and its nonce in ``retencion``."""
    return f"""CREATE TABLE IF NOT EXISTS {quote(table)} (
            doctor_id TEXT NOT NULL,
            fecha_hora TEXT NOT NULL,
            duracion_min INTEGER NOT NULL,
            estado TEXT NOT NULL
                CHECK (estado IN ('disponible', 'retenido', 'reservado', 'bloqueado')),
            user_id TEXT,
            motivo TEXT,
            reservado_en TEXT,
            retenido_por TEXT,
            retenido_hasta TEXT,
            retencion TEXT,
            PRIMARY KEY (doctor_id, fecha_hora)
        ) WITHOUT ROWID"""


def slots_index_ddl(table: str) -> list[str]:
    """The indexes of a slots table: the sparse user index and the hold count's index."""
    h = quote(table)
    return [
        # Partial index = the sparse GSI: only booked slots carry a user_id. Its entries also
        # carry the primary key, so ties on fecha_hora come out ordered by doctor_id.
        f"CREATE INDEX IF NOT EXISTS {quote(index_name(table, USER_ID_INDEX))}"
        f" ON {h} (user_id, fecha_hora) WHERE user_id IS NOT NULL",
        # Only held slots carry retenido_por: counting a user's live holds (retenido_hasta >
        # now) is one range of this small partial index, whatever the table's size.
        f"CREATE INDEX IF NOT EXISTS {quote(index_name(table, HOLDS_INDEX))}"
        f" ON {h} (retenido_por, retenido_hasta) WHERE retenido_por IS NOT NULL",
    ]


def create_statements(names: Mapping[str, str]) -> list[str]:
    """The DDL of the current version, idempotent (``IF NOT EXISTS``) so that a file shared by
    several table-name sets gains the missing tables of each."""
    doctores, horarios, sessions = (names[n] for n in (DOCTORES, HORARIOS_DOCTORES, USER_SESSIONS))
    d, s = quote(doctores), quote(sessions)
    return [
        # especialidad holds the normalised form (the GSI key); especialidad_nombre the display.
        f"""CREATE TABLE IF NOT EXISTS {d} (
            doctor_id TEXT NOT NULL PRIMARY KEY,
            nombre TEXT NOT NULL,
            especialidad TEXT NOT NULL,
            especialidad_nombre TEXT NOT NULL,
            centro TEXT,
            telefono TEXT,
            email TEXT,
            idiomas TEXT NOT NULL DEFAULT '[]',
            eliminando_desde TEXT
        ) WITHOUT ROWID""",
        f"CREATE INDEX IF NOT EXISTS {quote(index_name(doctores, ESPECIALIDAD_INDEX))}"
        f" ON {d} (especialidad, doctor_id)",
        slots_table_ddl(horarios),
        *slots_index_ddl(horarios),
        f"""CREATE TABLE IF NOT EXISTS {s} (
            user_id TEXT NOT NULL PRIMARY KEY,
            data TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ttl INTEGER NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            ttl_seconds INTEGER
        )""",
        # Lets expired sessions be purged cheaply, as DynamoDB's TTL eventually does.
        f"CREATE INDEX IF NOT EXISTS {quote(index_name(sessions, 'ttl'))} ON {s} (ttl)",
        *_idempotency_statements(names[IDEMPOTENCY_KEYS]),
    ]


def _idempotency_statements(table: str) -> list[str]:
    """Table ``idempotency_keys``: a claim (``completed`` 0) or a stored answer per key."""
    t = quote(table)
    return [
        f"""CREATE TABLE IF NOT EXISTS {t} (
            clave TEXT NOT NULL PRIMARY KEY,
            huella TEXT NOT NULL,
            token TEXT NOT NULL,
            claimed_at INTEGER NOT NULL,
            ttl INTEGER NOT NULL,
            completed INTEGER NOT NULL DEFAULT 0,
            status INTEGER,
            body TEXT,
            content_type TEXT,
            location TEXT,
            seed TEXT
        )""",
        # Expired records are purged through it, as DynamoDB's TTL eventually deletes them.
        f"CREATE INDEX IF NOT EXISTS {quote(index_name(table, 'ttl'))} ON {t} (ttl)",
    ]


def ensure_schema(conn: sqlite3.Connection, names: Mapping[str, str], where: str) -> None:
    """Create or upgrade the schema in one write transaction, and record its version.

    ``SchemaTooNewError`` when the file says a newer version: nothing is changed.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"{where} has schema version {version}, newer than this release understands "
                f"({SCHEMA_VERSION}); upgrade the service or use another file"
            )
        if version > 0:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                if step in MIGRATIONS:
                    MIGRATIONS[step](conn, names)
        for statement in create_statements(names):
            conn.execute(statement)
        if version != SCHEMA_VERSION:
            # PRAGMA user_version is part of the transaction: the tables and their version
            # become visible together or not at all.
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def check_tables(conn: sqlite3.Connection, specs: Mapping[str, TableSpec]) -> list[TableReport]:
    """One report per spec: the table exists, its primary key and indexes match the spec."""
    return [_check_table(conn, spec) for spec in specs.values()]


def _check_table(conn: sqlite3.Connection, spec: TableSpec) -> TableReport:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (spec.name,)
    ).fetchone()
    if found is None:
        return missing_report(spec)
    report = TableReport(spec.logical, spec.name, exists=True, status="ACTIVE")
    columns = {row["name"]: row for row in conn.execute(f"PRAGMA table_info({quote(spec.name)})")}
    primary = [r["name"] for r in sorted(columns.values(), key=lambda r: r["pk"]) if r["pk"]]
    expected = [k.name for k in (spec.hash_key, spec.range_key) if k is not None]
    if primary != expected:
        report.differences.append(
            f"key schema: primary key is ({', '.join(primary)}), expected ({', '.join(expected)})"
        )
    report.key_names = {name: name for name in expected}
    for index in spec.indexes:
        wanted = [k.name for k in (index.hash_key, index.range_key) if k is not None]
        sqlite_name = index_name(spec.name, index.name)
        indexed = [r["name"] for r in conn.execute(f"PRAGMA index_info({quote(sqlite_name)})")]
        if not indexed:
            report.differences.append(f"GSI {index.name} is missing")
        elif indexed[: len(wanted)] != wanted:
            report.differences.append(
                f"GSI {index.name}: indexes ({', '.join(indexed)}), expected ({', '.join(wanted)})"
            )
    if spec.ttl_attribute and spec.ttl_attribute not in columns:
        report.differences.append(f"TTL attribute {spec.ttl_attribute} is missing")
    return report
