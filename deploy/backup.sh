#!/usr/bin/env bash
# Nightly backup of a company deployment: the three databases and MLflow's artifacts.
# Run as the keepwarm user (cron or a systemd timer), after the retention flow (02:30):
#   deploy/backup.sh /var/backups/keepwarm
# Restore: createdb, then pg_restore -d <db> <file>.dump; copy mlartifacts back.
set -euo pipefail
dest=${1:?usage: backup.sh DEST_DIR}
# KEY=value lines read literally, as systemd reads them (a URL's "&" is no shell operator).
while IFS='=' read -r key value; do
    [[ -z "$key" || "$key" == \#* ]] && continue
    value=${value%\"}; value=${value#\"}
    export "$key=$value"
done < "${KEEPWARM_ENV_FILE:-/etc/keepwarm/keepwarm.env}"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$dest/$stamp"
# pg_dump takes libpq URLs: drop SQLAlchemy's "+driver".
for url in "$KEEPWARM_DATABASE_URL" "$MLFLOW_BACKEND_STORE_URI" "$PREFECT_API_DATABASE_CONNECTION_URL"; do
    plain=${url/+psycopg/}; plain=${plain/+asyncpg/}
    name=${plain%%\?*}; name=${name##*/}   # the database: after the last "/", before "?"
    pg_dump --format=custom --file="$dest/$stamp/$name.dump" "$plain"
done
tar -C "$(dirname "$MLFLOW_ARTIFACTS_DESTINATION")" -czf "$dest/$stamp/mlartifacts.tar.gz" \
    "$(basename "$MLFLOW_ARTIFACTS_DESTINATION")"
# Backups hold candidates' personal data: keep them as long as the retention rules allow.
find "$dest" -mindepth 1 -maxdepth 1 -type d -mtime +"${KEEP_BACKUP_DAYS:-30}" -exec rm -rf {} +
echo "backup in $dest/$stamp"
