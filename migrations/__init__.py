"""Alembic migrations; `hashwall db upgrade` runs them on SQLite and PostgreSQL alike."""

#: The newest revision: the schema this code needs. Servers compare the database with it
#: without loading Alembic (11 MB a process); a test holds it to Alembic's own head.
HEAD = "0007"
