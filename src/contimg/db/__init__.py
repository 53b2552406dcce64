"""The four databases: table definitions, the gateway (engine.py), migrations and queries.

``queries/`` is the only place that holds SQL; everything else calls its functions.
"""
