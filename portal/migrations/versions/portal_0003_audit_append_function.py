"""audit log: append a row in one round trip on PostgreSQL (portal_audit_append)

Every sign-in (and every other audited action) appends to the hash-chained log. The
append took the chain's lock, then inserted the row with the previous row's hash: two
round trips, with the lock held across both and the commit. This function does both in
one call; ``portal.audit`` calls it on PostgreSQL. SQLite keeps appending from Python.

Revision ID: portal_0003
Revises: portal_0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "portal_0003"
down_revision = "portal_0002"
branch_labels = None
depends_on = None

# The lock is the advisory lock portal.audit took itself before (7243001): processes of the
# previous release, while both run, queue on the same lock. The function is VOLATILE (the
# default), so each statement in it takes a fresh snapshot: the SELECT after the lock sees
# the row that the lock's previous holder committed. The row's hash is SHA-256 of the
# previous hash followed by p_tail, exactly as portal.audit._row_hash computes it (and
# verify_chain checks it).
FUNCTION = """
CREATE FUNCTION portal_audit_append(
    p_occurred_at timestamptz,
    p_event varchar,
    p_outcome varchar,
    p_actor_kind varchar,
    p_actor_id integer,
    p_subject_kind varchar,
    p_subject_id integer,
    p_ip varchar,
    p_details text,
    p_tail text
) RETURNS TABLE (event_id integer, event_prev_hash varchar, event_hash varchar)
LANGUAGE plpgsql AS $$
DECLARE
    previous varchar;
BEGIN
    PERFORM pg_advisory_xact_lock(7243001);
    SELECT last.hash INTO previous FROM audit_event AS last ORDER BY last.id DESC LIMIT 1;
    previous := coalesce(previous, repeat('0', 64));
    RETURN QUERY
    INSERT INTO audit_event AS added (
        occurred_at, event, outcome, actor_kind, actor_id,
        subject_kind, subject_id, ip, details, prev_hash, hash
    ) VALUES (
        p_occurred_at, p_event, p_outcome, p_actor_kind, p_actor_id,
        p_subject_kind, p_subject_id, p_ip, p_details,
        previous, encode(sha256(convert_to(previous || p_tail, 'UTF8')), 'hex')
    )
    RETURNING added.id, added.prev_hash, added.hash;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION portal_audit_append(timestamptz, varchar, varchar, varchar, integer, "
            "varchar, integer, varchar, text, text)"
        )
