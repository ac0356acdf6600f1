"""The store: schema, migrations, bundle reading and ingest."""
