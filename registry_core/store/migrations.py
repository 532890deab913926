"""The registry schema as an ordered list of forward migrations, applied on open."""

from __future__ import annotations

import time

import duckdb

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
# DuckDB's ART indexes serve single-column equality lookups, so a model version is keyed by one
# BIGINT, `vkey` = model_id * 2**32 + version (see `version_key`), rather than a composite key.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: registered models, versions, tags, aliases and the stage/alias history.
    (
        "CREATE SEQUENCE registered_model_id_seq START 1",
        """CREATE TABLE registered_models (
            id BIGINT PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            description VARCHAR,
            creation_timestamp BIGINT NOT NULL,
            last_updated_timestamp BIGINT NOT NULL,
            next_version INTEGER NOT NULL
        )""",
        """CREATE TABLE registered_model_tags (
            model_id BIGINT NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            PRIMARY KEY (model_id, key)
        )""",
        """CREATE TABLE model_versions (
            vkey BIGINT PRIMARY KEY,
            model_id BIGINT NOT NULL,
            version INTEGER NOT NULL,
            source VARCHAR NOT NULL,
            run_id VARCHAR,
            run_link VARCHAR,
            current_stage VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            description VARCHAR,
            creation_timestamp BIGINT NOT NULL,
            last_updated_timestamp BIGINT NOT NULL
        )""",
        "CREATE INDEX model_versions_model ON model_versions (model_id)",
        "CREATE INDEX model_versions_run ON model_versions (run_id)",
        """CREATE TABLE model_version_tags (
            vkey BIGINT NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            PRIMARY KEY (vkey, key)
        )""",
        "CREATE INDEX model_version_tags_version ON model_version_tags (vkey)",
        """CREATE TABLE registered_model_aliases (
            model_id BIGINT NOT NULL,
            alias VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (model_id, alias)
        )""",
        "CREATE SEQUENCE history_id_seq START 1",
        """CREATE TABLE history (
            id BIGINT PRIMARY KEY,
            model_id BIGINT NOT NULL,
            model_name VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            event VARCHAR NOT NULL,
            from_version INTEGER,
            from_stage VARCHAR,
            to_stage VARCHAR,
            alias VARCHAR,
            actor VARCHAR NOT NULL,
            reason VARCHAR,
            timestamp BIGINT NOT NULL
        )""",
        "CREATE INDEX history_model ON history (model_id, timestamp)",
    ),
    # 2: runs (lineage) and the artifact each version points at.
    (
        """CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            run_name VARCHAR,
            status VARCHAR NOT NULL,
            start_time BIGINT NOT NULL,
            end_time BIGINT,
            code_version VARCHAR,
            data_fingerprint VARCHAR,
            source_info VARCHAR
        )""",
        """CREATE TABLE run_params (
            run_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            PRIMARY KEY (run_id, key)
        )""",
        """CREATE TABLE run_metrics (
            run_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value DOUBLE NOT NULL,
            step BIGINT NOT NULL,
            timestamp BIGINT NOT NULL
        )""",
        "CREATE INDEX run_metrics_run ON run_metrics (run_id, key)",
        """CREATE TABLE run_tags (
            run_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            PRIMARY KEY (run_id, key)
        )""",
        """CREATE TABLE run_artifacts (
            run_id VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,
            size BIGINT NOT NULL,
            format VARCHAR NOT NULL,
            signature VARCHAR,
            PRIMARY KEY (run_id, path)
        )""",
        "ALTER TABLE model_versions ADD COLUMN artifact_sha256 VARCHAR",
        "ALTER TABLE model_versions ADD COLUMN artifact_size BIGINT",
        "ALTER TABLE model_versions ADD COLUMN artifact_format VARCHAR",
        "ALTER TABLE model_versions ADD COLUMN signature VARCHAR",
    ),
    # 3: webhooks: subscriptions, the transactional outbox of registry events (`webhook_id` is
    # set only on a test event aimed at one subscription), deliveries (one per event and
    # subscription, leased by a deliverer while it sends) and every delivery attempt.
    (
        "CREATE SEQUENCE webhook_event_id_seq START 1",
        """CREATE TABLE webhook_events (
            id BIGINT PRIMARY KEY,
            entity VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            data VARCHAR NOT NULL,
            timestamp BIGINT NOT NULL,
            webhook_id BIGINT
        )""",
        "CREATE SEQUENCE webhook_id_seq START 1",
        """CREATE TABLE webhooks (
            id BIGINT PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            url VARCHAR NOT NULL,
            events VARCHAR NOT NULL,
            secret VARCHAR,
            description VARCHAR,
            status VARCHAR NOT NULL,
            format VARCHAR NOT NULL,
            creation_timestamp BIGINT NOT NULL,
            last_updated_timestamp BIGINT NOT NULL,
            event_cursor BIGINT NOT NULL
        )""",
        """CREATE TABLE webhook_deliveries (
            id VARCHAR PRIMARY KEY,
            webhook_id BIGINT NOT NULL,
            event_id BIGINT NOT NULL,
            status VARCHAR NOT NULL,
            attempts INTEGER NOT NULL,
            attempts_before_requeue INTEGER NOT NULL,
            next_attempt_at BIGINT,
            lease_owner VARCHAR,
            lease_expires_at BIGINT,
            last_status_code INTEGER,
            last_error VARCHAR,
            creation_timestamp BIGINT NOT NULL,
            last_updated_timestamp BIGINT NOT NULL
        )""",
        "CREATE SEQUENCE webhook_attempt_id_seq START 1",
        """CREATE TABLE webhook_delivery_attempts (
            id BIGINT PRIMARY KEY,
            delivery_id VARCHAR NOT NULL,
            number INTEGER NOT NULL,
            timestamp BIGINT NOT NULL,
            status_code INTEGER,
            latency_ms BIGINT,
            error VARCHAR,
            outcome VARCHAR NOT NULL,
            deliverer VARCHAR NOT NULL
        )""",
        "CREATE INDEX webhook_delivery_attempts_delivery "
        "ON webhook_delivery_attempts (delivery_id)",
    ),
    # 4: the registry's own id, which its artifact folder records as its owner.
    (
        "CREATE TABLE registry_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
        "INSERT INTO registry_meta VALUES ('registry_id', gen_random_uuid()::VARCHAR)",
    ),
    # 5: the registry server: MLflow's experiments (runs belong to one; `0` is `Default`), who
    # started a run, access tokens (only a hash of each secret is kept), and the answers to
    # idempotent writes, kept so a retried request gets the first answer instead of a repeat.
    (
        "CREATE SEQUENCE experiment_id_seq START 1",
        """CREATE TABLE experiments (
            id BIGINT PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            artifact_location VARCHAR NOT NULL,
            lifecycle_stage VARCHAR NOT NULL,
            creation_time BIGINT NOT NULL,
            last_update_time BIGINT NOT NULL
        )""",
        """CREATE TABLE experiment_tags (
            experiment_id BIGINT NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            PRIMARY KEY (experiment_id, key)
        )""",
        "INSERT INTO experiments VALUES (0, 'Default', 'artifacts:/', 'active', "
        "epoch_ms(now())::BIGINT, epoch_ms(now())::BIGINT)",
        "ALTER TABLE runs ADD COLUMN experiment_id BIGINT DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN user_id VARCHAR",
        """CREATE TABLE api_tokens (
            name VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL,
            secret_sha256 VARCHAR NOT NULL UNIQUE,
            created_by VARCHAR NOT NULL,
            creation_timestamp BIGINT NOT NULL,
            revoked_timestamp BIGINT
        )""",
        """CREATE TABLE idempotent_requests (
            key VARCHAR PRIMARY KEY,
            request_sha256 VARCHAR NOT NULL,
            status INTEGER NOT NULL,
            response VARCHAR NOT NULL,
            creation_timestamp BIGINT NOT NULL
        )""",
    ),
    # 6: human approval: transition requests (at most one open per version and stage), comments
    # on versions, each model's protected stages (JSON lists), and the request a history entry
    # belongs to.
    (
        "CREATE SEQUENCE transition_request_id_seq START 1",
        """CREATE TABLE transition_requests (
            id BIGINT PRIMARY KEY,
            model_id BIGINT NOT NULL,
            version INTEGER NOT NULL,
            to_stage VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            requested_by VARCHAR NOT NULL,
            comment VARCHAR,
            creation_timestamp BIGINT NOT NULL,
            resolved_by VARCHAR,
            resolution VARCHAR,
            resolved_timestamp BIGINT
        )""",
        "CREATE INDEX transition_requests_model ON transition_requests (model_id)",
        "CREATE SEQUENCE version_comment_id_seq START 1",
        """CREATE TABLE version_comments (
            id BIGINT PRIMARY KEY,
            model_id BIGINT NOT NULL,
            version INTEGER NOT NULL,
            author VARCHAR NOT NULL,
            comment VARCHAR NOT NULL,
            creation_timestamp BIGINT NOT NULL,
            last_updated_timestamp BIGINT NOT NULL
        )""",
        "CREATE INDEX version_comments_model ON version_comments (model_id)",
        """CREATE TABLE stage_protection (
            model_id BIGINT PRIMARY KEY,
            stages VARCHAR NOT NULL,
            direct_roles VARCHAR NOT NULL
        )""",
        "ALTER TABLE history ADD COLUMN request_id BIGINT",
    ),
    # 7: MLflow 3's logged models (an MLflow model folder a run logged, which a version may be
    # registered from) with their tags and params, the runs that output them, and the files
    # MLflow's client put through the artifact proxy, each path naming a stored artifact.
    (
        """CREATE TABLE logged_models (
            model_id VARCHAR PRIMARY KEY,
            experiment_id BIGINT NOT NULL,
            name VARCHAR NOT NULL,
            source_run_id VARCHAR,
            model_type VARCHAR,
            status VARCHAR NOT NULL,
            creation_timestamp BIGINT NOT NULL,
            last_updated_timestamp BIGINT NOT NULL
        )""",
        "CREATE INDEX logged_models_run ON logged_models (source_run_id)",
        """CREATE TABLE logged_model_tags (
            model_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            PRIMARY KEY (model_id, key)
        )""",
        """CREATE TABLE logged_model_params (
            model_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            PRIMARY KEY (model_id, key)
        )""",
        """CREATE TABLE logged_model_outputs (
            run_id VARCHAR NOT NULL,
            model_id VARCHAR NOT NULL,
            step BIGINT NOT NULL,
            PRIMARY KEY (run_id, model_id)
        )""",
        """CREATE TABLE mlflow_artifacts (
            path VARCHAR PRIMARY KEY,
            sha256 VARCHAR NOT NULL,
            size BIGINT NOT NULL,
            creation_timestamp BIGINT NOT NULL
        )""",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)
VERSION_KEY_FACTOR = 2**32


def version_key(model_id: int, version: int) -> int:
    """The single-column key of a model version."""
    return model_id * VERSION_KEY_FACTOR + version


def registry_id(conn: duckdb.DuckDBPyConnection) -> str:
    """The id the registry file was given when it was created (or first migrated)."""
    return conn.execute("SELECT value FROM registry_meta WHERE key = 'registry_id'").fetchone()[0]


def current_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The schema version recorded in the file; 0 for a new, empty file."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = 'schema_version'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: duckdb.DuckDBPyConnection, target: int = SCHEMA_VERSION) -> int:
    """Apply each migration between the file's version and `target`, one transaction each."""
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        from registry_core.errors import InvalidState

        raise InvalidState(
            f"The registry schema is version {version}, newer than this library's "
            f"{SCHEMA_VERSION}: upgrade the registry package."
        )
    if version == 0:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
        )
    while version < target:
        conn.execute("BEGIN TRANSACTION")
        try:
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            version += 1
            conn.execute(
                "INSERT INTO schema_version VALUES (?, ?)", [version, int(time.time() * 1000)]
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return version
