"""Leave room in the findings table's pages for HOT updates (PostgreSQL).

Every run of the engine moves last_seen_at on every open finding. With full pages each of those updates
writes a new entry into every index of the table; with free room on the page PostgreSQL updates the row
in place (a heap-only tuple) and leaves the indexes alone, since last_seen_at is in none of them. On the
large scale dataset (37,000 open findings) this took a steady compliance run from 2.3 s to 1.4 s
(docs/benchmarks.md). Other databases have no such setting: nothing to do there.
"""

from django.db import migrations

FILLFACTOR = 70


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(apps.get_model("compliance", "Finding")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(apps.get_model("compliance", "Finding")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("compliance", "0002_initial")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
