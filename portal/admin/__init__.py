"""The operator console under /admin: institutions and their API keys,
staff and their roles, the settings in force, and the two-person rule for
the acts that could do the most harm. Administrators only, with their
second factor; everyone else gets 404. The command line calls the same
services."""
