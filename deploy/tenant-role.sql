-- A PostgreSQL role of its own for one tenant, owning the tenant's schema and nothing
-- else: a connection as this role cannot read or change another tenant's schema.
-- Without it, every tenant's schema belongs to the one `keepwarm` role, and isolation
-- rests on keepwarm setting each connection's search_path (README, "Tenants").
-- Run once per tenant, as PostgreSQL's superuser, in the store's database, best before
-- the tenant's first use (README, "Adding a tenant"):
--   runuser -u postgres -- psql -d keepwarm -v ON_ERROR_STOP=1 \
--     -v tenant=acme -v tenant_pass="'...'" -f deploy/tenant-role.sql
-- then put the role's URL in the tenant's own file, <KEEPWARM_HOME>/tenants/acme/keepwarm.env:
--   KEEPWARM_DATABASE_URL=postgresql+psycopg://tenant_acme:...@127.0.0.1:5432/keepwarm
-- A tenant already in use (its schema made by the `keepwarm` role) passes to its role:
-- the schema and its tables change owner. Running it again is safe: the role's password
-- is set anew, nothing else changes.
\set role tenant_ :tenant
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" LOGIN PASSWORD :tenant_pass;
ALTER ROLE :"role" SET search_path = :"role";
CREATE SCHEMA IF NOT EXISTS :"role" AUTHORIZATION :"role";
ALTER SCHEMA :"role" OWNER TO :"role";
-- a table's indexes and the sequences its columns own follow it
SELECT format('ALTER TABLE %I.%I OWNER TO %I', schemaname, tablename, :'role')
  FROM pg_tables WHERE schemaname = :'role' AND tableowner <> :'role' \gexec
-- Nothing in public for a tenant (PostgreSQL 15 and later already refuse CREATE there).
REVOKE ALL ON SCHEMA public FROM :"role";
