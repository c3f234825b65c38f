"""Where the shared catalog's files go.

Product images and batch reports are public and shared by every storefront, so they must
not go through the default tenant-aware storage (which files uploads under the schema of
the request: an image uploaded on bank A's domain would then resolve to bank B's folder on
bank B's storefront). They live in one public folder, served under /media/public/.
A bank's private files (admission dossiers) use the default tenant-aware storage and are
never served publicly.
"""

# The folder is core's (``core.uploads`` serves it); the name stays importable here, where
# the catalog's models and migrations refer to it.
from core.uploads import public_storage  # noqa: F401
