"""Users, roles, permissions, authentication and the hash-chained audit log."""
