"""Encryption at rest for every stored object (docs/encryption.md has the format and key hierarchy).

- format:   the on-disk format: header, AES-256-GCM segments, streaming encrypt, range decrypt
- streams:  file-like adapters (EncryptingReader for backends' put, DecryptingReader for consumers)
- wrapping: wrapping one key with another (AES-256-GCM, AAD naming both keys)
- keyring:  versioned key-encryption keys from the environment or DATA_DIR/keys
- keys:     the candidate keys and data keys kept in the database
- rotation: re-wrapping every key under the newest key-encryption key (`talentreel keys rotate`)
- store:    EncryptedStore, a storage backend seen through all of the above
"""

from .errors import IntegrityError, KeyDestroyed, KeyUnavailable, UnknownObject
from .keyring import Keyring
from .keys import destroy_candidate_key
from .rotation import RotationResult, key_usage, rotate
from .store import EncryptedStore, PlaintextRange, StoredObject

__all__ = [
    "EncryptedStore",
    "IntegrityError",
    "KeyDestroyed",
    "KeyUnavailable",
    "Keyring",
    "PlaintextRange",
    "RotationResult",
    "StoredObject",
    "UnknownObject",
    "destroy_candidate_key",
    "key_usage",
    "rotate",
]
