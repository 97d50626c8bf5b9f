"""A transparency-log witness (https://c2sp.org/tlog-witness), run apart
from the portal by someone other than its operator: its own folder, SQLite
database and Ed25519 key. It cosigns a log's checkpoint only when it is
consistent with the last one it cosigned for that log, so two views of one
log that fork can never both carry its cosignature.

Imports only the transparency and crypto areas, Flask, waitress and click:
never the portal's app, models or configuration."""
