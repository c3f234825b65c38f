"""Where the shared catalog's files go.

Product images and batch reports are public and shared by every storefront, so they must
not go through the default tenant-aware storage (which files uploads under the schema of
the request: an image uploaded on bank A's domain would then resolve to bank B's folder on
bank B's storefront). They live in one public folder, served under /media/public/.
A bank's private files (admission dossiers) use the default tenant-aware storage and are
never served publicly.
"""

from django.conf import settings
from django.core.files.storage import FileSystemStorage


def public_storage() -> FileSystemStorage:
    return FileSystemStorage(location=settings.MEDIA_ROOT / "public",
                             base_url=settings.MEDIA_URL + "public/")
