-- Roles and databases of a company deployment: one database per server, each owned by
-- its own role (none of them a superuser). Run once, as PostgreSQL's superuser:
--   sudo -u postgres psql -v ON_ERROR_STOP=1 \
--     -v kw_pass="'...'" -v mlflow_pass="'...'" -v prefect_pass="'...'" \
--     -f deploy/create-databases.sql
-- The passwords are the ones in /etc/keepwarm/keepwarm.env.
CREATE ROLE keepwarm LOGIN PASSWORD :kw_pass;
CREATE ROLE mlflow LOGIN PASSWORD :mlflow_pass;
CREATE ROLE prefect LOGIN PASSWORD :prefect_pass;
CREATE DATABASE keepwarm OWNER keepwarm ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE mlflow OWNER mlflow ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE prefect OWNER prefect ENCODING 'UTF8' TEMPLATE template0;
