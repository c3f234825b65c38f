"""The points ledger is append-only: the database refuses to change or delete an entry
(in each bank's schema)."""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION rewards_points_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the points ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER rewards_pointsentry_append_only BEFORE UPDATE OR DELETE ON rewards_pointsentry
    FOR EACH ROW EXECUTE FUNCTION rewards_points_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS rewards_pointsentry_append_only ON rewards_pointsentry;
DROP FUNCTION IF EXISTS rewards_points_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("rewards", "0002_earningrule_malloffer_pointsentry_pointslot_lotuse_and_more")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
