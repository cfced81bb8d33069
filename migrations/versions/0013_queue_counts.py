"""queue counts: a topic's unseen cards kept by triggers; indexes in the study queue's order

Revision ID: 0013_queue_counts
Revises: 0012_sources
Create Date: 2026-12-02

The triggers live on `cards` and write only `topic_card_counts`. A later SQLite migration
that rebuilds `cards` (op.batch_alter_table) drops them with the old table: it must create
them again (tests/study/test_queue_counts.py fails otherwise). Nothing on `topics`
references them, so rebuilding `topics` is safe.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013_queue_counts'
down_revision = '0012_sources'
branch_labels = None
depends_on = None

# Spelt as in srs/topics/models.py (kept literal here: a migration does not follow the models).
SEEN = {"postgresql": "last_review IS NOT NULL AND suspended = false",
        "sqlite": "last_review IS NOT NULL AND suspended = 0"}
UNSEEN = {"postgresql": "last_review IS NULL AND suspended = false",
          "sqlite": "last_review IS NULL AND suspended = 0"}
FIRST = {"postgresql": "first_attempt = true", "sqlite": "first_attempt = 1"}

# PostgreSQL: inserts and deletes once per statement (an import or a deleted topic is one
# update per topic, not per card); an update per row, only when the card enters or leaves.
POSTGRES_UP = """
CREATE FUNCTION topic_card_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO topic_card_counts AS c (topic_id, unseen)
    SELECT topic_id, count(*) FROM new_cards
    WHERE last_review IS NULL AND suspended = false GROUP BY topic_id
    ON CONFLICT (topic_id) DO UPDATE SET unseen = c.unseen + EXCLUDED.unseen;
    RETURN NULL;
END $$;

CREATE FUNCTION topic_card_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE topic_card_counts AS c SET unseen = c.unseen - gone.n
    FROM (SELECT topic_id, count(*) AS n FROM old_cards
          WHERE last_review IS NULL AND suspended = false GROUP BY topic_id) AS gone
    WHERE c.topic_id = gone.topic_id;
    RETURN NULL;
END $$;

CREATE FUNCTION topic_card_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.last_review IS NULL AND OLD.suspended = false THEN
        UPDATE topic_card_counts SET unseen = unseen - 1 WHERE topic_id = OLD.topic_id;
    END IF;
    IF NEW.last_review IS NULL AND NEW.suspended = false THEN
        INSERT INTO topic_card_counts AS c (topic_id, unseen) VALUES (NEW.topic_id, 1)
        ON CONFLICT (topic_id) DO UPDATE SET unseen = c.unseen + 1;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER cards_count_insert AFTER INSERT ON cards
    REFERENCING NEW TABLE AS new_cards
    FOR EACH STATEMENT EXECUTE FUNCTION topic_card_counts_inserted();

CREATE TRIGGER cards_count_delete AFTER DELETE ON cards
    REFERENCING OLD TABLE AS old_cards
    FOR EACH STATEMENT EXECUTE FUNCTION topic_card_counts_deleted();

CREATE TRIGGER cards_count_update AFTER UPDATE OF last_review, suspended, topic_id ON cards
    FOR EACH ROW
    WHEN ((OLD.last_review IS NULL AND OLD.suspended = false)
          IS DISTINCT FROM (NEW.last_review IS NULL AND NEW.suspended = false)
          OR OLD.topic_id <> NEW.topic_id)
    EXECUTE FUNCTION topic_card_counts_updated();
"""

POSTGRES_DOWN = """
DROP TRIGGER cards_count_update ON cards;
DROP TRIGGER cards_count_delete ON cards;
DROP TRIGGER cards_count_insert ON cards;
DROP FUNCTION topic_card_counts_updated();
DROP FUNCTION topic_card_counts_deleted();
DROP FUNCTION topic_card_counts_inserted();
"""

_SQLITE_ADD = (
    "INSERT INTO topic_card_counts (topic_id, unseen) VALUES (NEW.topic_id, 1) "
    "ON CONFLICT (topic_id) DO UPDATE SET unseen = unseen + 1;"
)
_SQLITE_TAKE = "UPDATE topic_card_counts SET unseen = unseen - 1 WHERE topic_id = OLD.topic_id;"
_UNSEEN_OLD = "OLD.last_review IS NULL AND OLD.suspended = 0"
_UNSEEN_NEW = "NEW.last_review IS NULL AND NEW.suspended = 0"
_STAYS = f"{_UNSEEN_OLD} AND {_UNSEEN_NEW} AND OLD.topic_id = NEW.topic_id"
SQLITE_TRIGGERS = {
    "cards_count_insert": f"AFTER INSERT ON cards WHEN {_UNSEEN_NEW} BEGIN {_SQLITE_ADD} END",
    "cards_count_delete": f"AFTER DELETE ON cards WHEN {_UNSEEN_OLD} BEGIN {_SQLITE_TAKE} END",
    "cards_count_leave": (
        "AFTER UPDATE OF last_review, suspended, topic_id ON cards "
        f"WHEN {_UNSEEN_OLD} AND NOT ({_STAYS}) BEGIN {_SQLITE_TAKE} END"
    ),
    "cards_count_enter": (
        "AFTER UPDATE OF last_review, suspended, topic_id ON cards "
        f"WHEN {_UNSEEN_NEW} AND NOT ({_STAYS}) BEGIN {_SQLITE_ADD} END"
    ),
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        'topic_card_counts',
        sa.Column('topic_id', sa.Integer(), nullable=False),
        sa.Column('unseen', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('topic_id'),
    )
    op.execute(
        "INSERT INTO topic_card_counts (topic_id, unseen) SELECT topic_id, count(*) FROM cards"
        f" WHERE {UNSEEN[dialect]} GROUP BY topic_id"
    )
    if dialect == "postgresql":
        op.execute(POSTGRES_UP)
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    op.create_index(
        'ix_cards_queue_seen', 'cards',
        ['topic_id', 'due', 'id', 'state', 'buried_until', 'last_review', 'suspended'],
        postgresql_where=sa.text(SEEN["postgresql"]), sqlite_where=sa.text(SEEN["sqlite"]),
    )
    op.create_index(
        'ix_cards_queue_unseen', 'cards', ['topic_id', 'id', 'buried_until'],
        postgresql_where=sa.text(UNSEEN["postgresql"]), sqlite_where=sa.text(UNSEEN["sqlite"]),
    )
    op.create_index(
        'ix_cards_buried_unseen', 'cards', ['topic_id', 'buried_until', 'last_review', 'suspended'],
        postgresql_where=sa.text(f"buried_until IS NOT NULL AND {UNSEEN['postgresql']}"),
        sqlite_where=sa.text(f"buried_until IS NOT NULL AND {UNSEEN['sqlite']}"),
    )
    op.create_index(
        'ix_review_logs_topic_new', 'review_logs', ['topic_id', 'reviewed_at'],
        postgresql_where=sa.text(FIRST["postgresql"]), sqlite_where=sa.text(FIRST["sqlite"]),
    )
    # Without statistics SQLite picked it for the queue, then read every unseen card in it.
    op.drop_index('ix_cards_topic_due', table_name='cards')


def downgrade() -> None:
    op.create_index('ix_cards_topic_due', 'cards', ['topic_id', 'suspended', 'due'])
    op.drop_index('ix_review_logs_topic_new', table_name='review_logs')
    op.drop_index('ix_cards_buried_unseen', table_name='cards')
    op.drop_index('ix_cards_queue_unseen', table_name='cards')
    op.drop_index('ix_cards_queue_seen', table_name='cards')
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_DOWN)
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table('topic_card_counts')
