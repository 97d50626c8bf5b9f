"""Encrypted backups: the database, the key files and the instance config."""
