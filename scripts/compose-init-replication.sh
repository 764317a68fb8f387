#!/bin/sh
# Primary only (docker-entrypoint-initdb.d, first start): the role the standby streams WAL with, and its pg_hba
# line. The standby (compose.yaml `postgres-standby`) clones the primary with pg_basebackup -R under this role.
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${REPLICATION_PASSWORD}';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
