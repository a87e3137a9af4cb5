"""Alembic migrations; `hashwall db upgrade` runs them on SQLite and PostgreSQL alike."""
