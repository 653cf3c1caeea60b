"""Drop and create the PostgreSQL database of $DATABASE_URL (for the benchmark's scratch database).

Refuses anything but a database whose name ends in "_bench": it deletes everything in it.
"""

import os
import sys

import dj_database_url
import psycopg2
from psycopg2 import sql

config = dj_database_url.parse(os.environ["DATABASE_URL"])
name = config["NAME"]
if not config["ENGINE"].endswith("postgresql") or not name.endswith("_bench"):
    sys.exit(f"recreate_database: refusing {name!r}: only a PostgreSQL database named *_bench is recreated.")
connection = psycopg2.connect(
    dbname="postgres",
    user=config["USER"] or None,
    password=config["PASSWORD"] or None,
    host=config["HOST"] or None,
    port=config["PORT"] or None,
)
connection.autocommit = True
with connection.cursor() as cursor:
    cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
connection.close()
print(f"recreated database {name}")
