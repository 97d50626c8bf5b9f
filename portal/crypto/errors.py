class CryptoError(Exception):
    """Base of every error of the vault and the keyring."""


class DecryptionFailed(CryptoError):
    pass


class KeyDestroyed(CryptoError):
    """The data key was shredded: what it protected is gone for good."""
