"""Typed, keyword-only query functions: the only place in contimg that holds SQL.

Every function takes a SQLAlchemy ``Connection`` from ``Database.read()`` or
``Database.write()`` and runs unchanged on SQLite and PostgreSQL.
"""
