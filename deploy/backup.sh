#!/usr/bin/env bash
# Nightly backup of a deployment: the three databases (each tenant's schema in a dump of
# its own) and MLflow's artifacts, into DEST/<UTC stamp>/.
# Run as the keepwarm user (cron or a systemd timer), after the retention flow (02:30),
# into a folder that user owns (install -d -m 700 -o keepwarm -g keepwarm DEST):
#   deploy/backup.sh /var/backups/keepwarm
# A dated folder is whole: the dumps are written into DEST/.<stamp>.partial, renamed at
# the end, and removed if anything fails (the script then exits non-zero).
# Restore: README, "Deploy", step 12.
set -euo pipefail
umask 077 # the dumps hold candidates' personal data: the keepwarm user's alone
dest=${1:?usage: backup.sh DEST_DIR}
# KEY=value lines read literally, as systemd reads them (a URL's "&" is no shell operator).
setting() { # the value of KEY in FILE ("" if unset), quotes around it dropped
    local key=$1 file=$2 k v value=""
    while IFS="=" read -r k v || [[ -n "$k" ]]; do
        if [[ "$k" == "$key" ]]; then value=$v; fi
    done < "$file"
    value=${value%\"}
    printf '%s' "${value#\"}"
}
while IFS="=" read -r key value || [[ -n "$key" ]]; do
    [[ -z "$key" || "$key" == \#* ]] && continue
    value=${value%\"}; value=${value#\"}
    export "$key=$value"
done < "${KEEPWARM_ENV_FILE:-/etc/keepwarm/keepwarm.env}"
libpq() { # pg_dump takes libpq URLs: drop SQLAlchemy's "+driver"
    local url=${1/+psycopg/}
    printf '%s' "${url/+asyncpg/}"
}
database() { # the database of a URL: after the last "/", before "?"
    local name=${1%%\?*}
    printf '%s' "${name##*/}"
}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work="$dest/.$stamp.partial"
mkdir -p "$dest"
trap 'rm -rf "$work"' EXIT
mkdir "$work"
store=$(libpq "$KEEPWARM_DATABASE_URL")
name=$(database "$store")
# Tenants' schemas (README, "Tenants"), each dumped apart: with the tenant's own role
# where its keepwarm.env names one (the keepwarm role cannot read those schemas).
schemas=$(psql "$store" -XAt -c "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\_%' ORDER BY 1")
pg_dump --format=custom --exclude-schema='tenant_*' --file="$work/$name.dump" "$store"
for schema in $schemas; do
    url=$store
    own="${KEEPWARM_HOME:-}/tenants/${schema#tenant_}/keepwarm.env"
    if [[ -n "${KEEPWARM_HOME:-}" && -f "$own" ]]; then
        tenant_url=$(setting KEEPWARM_DATABASE_URL "$own")
        if [[ -n "$tenant_url" ]]; then url=$(libpq "$tenant_url"); fi
    fi
    pg_dump --format=custom --schema="$schema" --file="$work/$name-$schema.dump" "$url"
done
for url in "$MLFLOW_BACKEND_STORE_URI" "$PREFECT_API_DATABASE_CONNECTION_URL"; do
    plain=$(libpq "$url")
    pg_dump --format=custom --file="$work/$(database "$plain").dump" "$plain"
done
tar -C "$(dirname "$MLFLOW_ARTIFACTS_DESTINATION")" -czf "$work/mlartifacts.tar.gz" \
    "$(basename "$MLFLOW_ARTIFACTS_DESTINATION")"
mv "$work" "$dest/$stamp"
trap - EXIT
# Backups hold candidates' personal data: keep them as long as the retention rules allow.
find "$dest" -mindepth 1 -maxdepth 1 -type d -mtime +"${KEEP_BACKUP_DAYS:-30}" -exec rm -rf {} +
echo "backup in $dest/$stamp"
