"""Settings shared by every stage: where state lives and which store to use."""

from config.settings import Settings, get_settings, list_tenants, load_settings, tenant_scope

__all__ = ["Settings", "get_settings", "list_tenants", "load_settings", "tenant_scope"]
