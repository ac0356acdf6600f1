-- A PostgreSQL role of its own for one tenant, owning the tenant's schema and nothing
-- else: a connection as this role cannot read or change another tenant's schema.
-- Without it, every tenant's schema belongs to the one `keepwarm` role, and isolation
-- rests on keepwarm setting each connection's search_path (README, "Tenants").
-- Run once per tenant, before its first use, as PostgreSQL's superuser, in the store's
-- database:
--   sudo -u postgres psql -d keepwarm -v ON_ERROR_STOP=1 \
--     -v tenant=acme -v tenant_pass="'...'" -f deploy/tenant-role.sql
-- then put the role's URL in the tenant's own file, <KEEPWARM_HOME>/tenants/acme/keepwarm.env:
--   KEEPWARM_DATABASE_URL=postgresql+psycopg://tenant_acme:...@127.0.0.1:5432/keepwarm
\set role tenant_ :tenant
CREATE ROLE :"role" LOGIN PASSWORD :tenant_pass;
CREATE SCHEMA :"role" AUTHORIZATION :"role";
ALTER ROLE :"role" SET search_path = :"role";
-- Nothing in public for a tenant (PostgreSQL 15 and later already refuse CREATE there).
REVOKE ALL ON SCHEMA public FROM :"role";
