"""What the console refuses, with a message for the administrator."""


class Refused(ValueError):
    """An act the rules do not allow (acting on oneself, the last
    administrator, a stale or expired proposal); its text says why."""
