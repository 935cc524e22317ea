"""Storage: one database interface over SQLite (embedded) and PostgreSQL (scale-out)."""

from gateway.store.database import Database, StoreUnavailable, Tx, open_database

__all__ = ["Database", "StoreUnavailable", "Tx", "open_database"]
