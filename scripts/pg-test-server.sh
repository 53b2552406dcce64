#!/usr/bin/env bash
# Start Debian's PostgreSQL 15 cluster (with q3c) for the test suite and print a URL.
# Idempotent: safe to run when the server is already up. Needs root (apt's cluster
# runs as the postgres user; we connect over the Unix socket with peer auth).
set -euo pipefail
# stdout carries only the URL (callers capture it); everything else goes to stderr.
# The server must not inherit fd 3: a daemon holding the caller's pipe open would
# make `url="$(scripts/pg-test-server.sh)"` wait forever.
exec 3>&1 1>&2
DB="${CONTIMG_TEST_PG_DB:-contimg_test}"
ROLE="$(id -un)"
if ! command -v pg_ctlcluster >/dev/null; then
  echo "pg-test-server: PostgreSQL is not installed (run 'make deps')" >&2
  exit 1
fi
if ! pg_lsclusters -h | awk '$1==15 && $2=="main"' | grep -q .; then
  pg_createcluster 15 main >/dev/null 3>&-
fi
if ! pg_lsclusters -h | awk '$1==15 && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster 15 main start 3>&-
fi
for _ in $(seq 1 50); do
  su postgres -c "pg_isready -q -h /var/run/postgresql" && break
  sleep 0.2
done
psql_pg() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt -h /var/run/postgresql $*"; }
if [ "$(psql_pg "-c \"SELECT 1 FROM pg_roles WHERE rolname='$ROLE'\"")" != "1" ]; then
  psql_pg "-c \"CREATE ROLE \\\"$ROLE\\\" LOGIN SUPERUSER\""
fi
if [ "$(psql_pg "-c \"SELECT 1 FROM pg_database WHERE datname='$DB'\"")" != "1" ]; then
  psql_pg "-c \"CREATE DATABASE \\\"$DB\\\" OWNER \\\"$ROLE\\\"\""
fi
PGOPTIONS="-c client_min_messages=warning" \
  psql -qAt -h /var/run/postgresql -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS q3c" >/dev/null
echo "postgresql+psycopg://$ROLE@/$DB?host=/var/run/postgresql" >&3
