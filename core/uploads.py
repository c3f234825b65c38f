"""The one upload policy: what every file and image field accepts, how it is stored and how
it is served.

A user's file is decided from its content, never from its name or the content type the
browser sent: the first bytes say which kind it claims to be, and a real parse (Pillow for
images, pypdf for PDFs) must agree. HTML, SVG, XML, scripts and anything else are refused
with a message naming what the field accepts. The size is capped while the upload streams
in (``CappedUploadHandler``), before anything is read whole.

Stored files get a random name with the extension of the detected kind; the name the
person gave is kept only as data (``file_meta`` on the model) and shown escaped. Every
model field that holds a user's file is an ``UploadField`` naming its policy; a system
check (core.checks) refuses a ``FileField`` or ``ImageField`` declared without one.

Served files (``serve_file``) go out with the detected content type, ``nosniff``, a
sandboxing Content-Security-Policy without any script source, and as an attachment unless
they are an image or a PDF: even a file that slipped past the policy cannot run as a page.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.db import models
from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from pypdf import PdfReader
from rest_framework import serializers

MB = 1024 * 1024
# Largest picture decoded: 50 megapixels (a 40000 x 40000 "bomb" is refused from its header,
# before any pixel is decoded).
MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class Kind:
    code: str
    label: str
    ext: str
    content_type: str
    image: bool


JPEG = Kind("jpeg", "JPEG", ".jpg", "image/jpeg", True)
PNG = Kind("png", "PNG", ".png", "image/png", True)
WEBP = Kind("webp", "WebP", ".webp", "image/webp", True)
PDF = Kind("pdf", "PDF", ".pdf", "application/pdf", False)
KINDS = (JPEG, PNG, WEBP, PDF)
_PILLOW_FORMATS = {"JPEG": JPEG, "PNG": PNG, "WEBP": WEBP}


@dataclass(frozen=True)
class Policy:
    code: str
    kinds: tuple[Kind, ...]
    max_bytes: int = 10 * MB

    def accepted(self) -> str:
        return "、".join(kind.label for kind in self.kinds)


POLICIES = {
    policy.code: policy for policy in (
        # Product pictures and inspection photos.
        Policy("image", (JPEG, PNG, WEBP)),
        # Licence scans and dossier documents.
        Policy("scan", (JPEG, PNG, WEBP, PDF)),
        # Lab and inspection reports of a batch.
        Policy("report", (PDF, JPEG, PNG)),
        # Electronic invoices (电子发票) a merchant issues: the PDF the tax system gave.
        Policy("invoice", (PDF,), max_bytes=5 * MB),
    )
}
# The handler's cap while streaming: the largest any field accepts.
STREAM_CAP = max(policy.max_bytes for policy in POLICIES.values())


def policy_of(code: str) -> Policy:
    return POLICIES[code]


# --- deciding what a file is ---------------------------------------------------------------

def sniff(head: bytes) -> Kind | None:
    """The kind the first bytes claim (magic numbers), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def _image_is(kind: Kind, data: io.BytesIO) -> bool:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(data) as img:
                width, height = img.size
                if _PILLOW_FORMATS.get(img.format or "") is not kind:
                    return False
                if width * height > MAX_PIXELS or width < 1 or height < 1:
                    return False
                img.verify()
            data.seek(0)
            with Image.open(data) as img:
                img.load()  # verify() does not decode; a truncated picture fails here
    except Exception:  # noqa: BLE001 - any failure to parse means "not this kind"
        return False
    return True


def _pdf_is_sound(data: io.BytesIO) -> bool:

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(data, strict=False)
            return len(reader.pages) >= 1
    except Exception:  # noqa: BLE001 - any failure to parse means "not a PDF"
        return False


def _read_all(file, limit: int) -> bytes | None:
    """The file's bytes, or None when it is over ``limit`` (read at most limit + 1)."""
    if hasattr(file, "seek"):
        file.seek(0)
    data = file.read(limit + 1)
    if hasattr(file, "seek"):
        file.seek(0)
    return None if len(data) > limit else data


def check(file, policy: Policy | str) -> Kind:
    """The kind of this upload under the policy, or ValidationError with a message that
    names what is accepted. Remembers the answer on the file object."""
    policy = policy_of(policy) if isinstance(policy, str) else policy
    known = getattr(file, "upload_kind", None)
    if known is not None and getattr(file, "upload_policy", None) == policy.code:
        return known
    too_big = _("The file is too large: at most %(mb)d MB.") % {"mb": policy.max_bytes // MB}
    if getattr(file, "over_cap", False) or (file.size or 0) > policy.max_bytes:
        raise ValidationError(too_big, code="file_too_large")
    data = _read_all(file, policy.max_bytes)
    if data is None:
        raise ValidationError(too_big, code="file_too_large")
    kind = sniff(data[:16])
    sound = kind is not None and kind in policy.kinds and (
        _image_is(kind, io.BytesIO(data)) if kind.image else _pdf_is_sound(io.BytesIO(data)))
    if not sound:
        raise ValidationError(
            _("This kind of file is not accepted here. Upload %(kinds)s.")
            % {"kinds": policy.accepted()}, code="file_kind")
    file.upload_kind, file.upload_policy = kind, policy.code
    return kind


# --- storing ---------------------------------------------------------------------------------

class UploadField(models.FileField):
    """A model field for a person's file, under a named policy (see POLICIES)."""

    def __init__(self, *args, policy: str = "", **kwargs):
        self.upload_policy = policy
        super().__init__(*args, **kwargs)

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        if self.upload_policy not in POLICIES:
            from django.core.checks import Error

            errors.append(Error(f"{self.model.__name__}.{self.name} names no known upload "
                                f"policy ({', '.join(POLICIES)}).", obj=self,
                                id="core.E011"))
        return errors

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["policy"] = self.upload_policy
        return name, path, args, kwargs


def file_meta_field() -> models.JSONField:
    """Per file field: the name the person gave, and whether it was quarantined."""
    return models.JSONField(default=dict, blank=True, editable=False)


def attach(instance: models.Model, field_name: str, file, *, save: bool = True) -> None:
    """Check ``file`` against the field's policy and store it under a random name; the
    original name is kept in ``instance.file_meta``. Raises ValidationError keyed by the
    field's name."""
    field = instance._meta.get_field(field_name)
    try:
        kind = check(file, field.upload_policy)
    except ValidationError as exc:
        raise ValidationError({field_name: exc.messages}) from exc
    meta = dict(getattr(instance, "file_meta", None) or {})
    meta[field_name] = {"name": os.path.basename(str(file.name or ""))[:200]}
    instance.file_meta = meta
    getattr(instance, field_name).save(uuid.uuid4().hex + kind.ext, file, save=False)
    if save:
        instance.save(update_fields=[field_name, "file_meta"])


def original_name(instance: models.Model, field_name: str) -> str:
    return ((getattr(instance, "file_meta", None) or {}).get(field_name) or {}).get("name", "")


def is_quarantined(instance: models.Model, field_name: str) -> bool:
    meta = (getattr(instance, "file_meta", None) or {}).get(field_name) or {}
    return bool(meta.get("quarantined"))


def upload_fields(model) -> list[UploadField]:
    return [f for f in model._meta.get_fields() if isinstance(f, UploadField)]


# --- streaming cap ---------------------------------------------------------------------------

class OversizedUpload(UploadedFile):
    """Stands for an upload that went over the cap: its bytes were dropped as they came in,
    and the policy check refuses it with the size message."""

    over_cap = True

    def __init__(self, name: str, size: int, content_type: str | None):
        super().__init__(file=io.BytesIO(), name=name, content_type=content_type, size=size)


class CappedUploadHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: stops storing a file once it passes the largest cap
    any field has, so that a 30 MB upload never lands in memory or on disk whole."""

    def new_file(self, field_name, file_name, content_type, content_length, charset=None,
                 content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset,
                         content_type_extra)
        self.received = 0
        self.over = False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > STREAM_CAP:
            self.over = True
        return None if self.over else raw_data

    def file_complete(self, file_size):
        if self.over:
            return OversizedUpload(self.file_name, self.received, self.content_type)
        return None


# --- serving ---------------------------------------------------------------------------------

SANDBOX_CSP = ("sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
               "object-src 'self'; frame-ancestors 'self'")


def serve_file(storage, name: str, *, private: bool) -> FileResponse:
    """A stored upload, served so that it cannot run: the content type it really has,
    nosniff, a sandbox without scripts, and a download unless it is an image or a PDF."""
    name = posixpath.normpath(name).lstrip("/")
    if not name or name.startswith("..") or not storage.exists(name):
        raise Http404
    handle = storage.open(name, "rb")
    kind = sniff(handle.read(16))
    handle.seek(0)
    inline = kind is not None
    filename = posixpath.basename(name)
    if kind is not None:
        content_type = kind.content_type
    else:
        content_type = "application/octet-stream"
        filename = posixpath.splitext(filename)[0] + ".bin"
    response = FileResponse(handle, content_type=content_type, as_attachment=not inline,
                            filename=filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX_CSP
    response["Cross-Origin-Resource-Policy"] = "same-site"
    response["Cache-Control"] = ("private, no-store" if private
                                 else "public, max-age=86400")
    return response


def public_storage() -> FileSystemStorage:
    """The one public folder, served under /media/public/: the shared catalog's pictures
    and batch reports (see catalog.storage for why they are not tenant-aware)."""
    return FileSystemStorage(location=settings.MEDIA_ROOT / "public",
                             base_url=settings.MEDIA_URL + "public/")


def private_storage(folder: str = "private") -> FileSystemStorage:
    """Files of the shared schema that are not public (a merchant's e-invoices to a buyer,
    return and review photos): one folder under MEDIA_ROOT for every bank's domain, as the
    orders they belong to are shared, never under a public URL (no ``base_url``); only
    views that check who asks serve them (``serve_file``)."""
    return FileSystemStorage(location=settings.MEDIA_ROOT / folder, base_url=None)


def serve_public(request, path: str):
    """/media/public/...: the shared catalog's pictures and batch reports (see
    catalog.storage). In production a media host or object storage serves them with the
    same headers (docs/operations.md)."""
    if posixpath.normpath(path).split("/", 1)[0] == "quarantine":
        raise Http404
    return serve_file(public_storage(), path, private=False)




# --- fields for forms and the API ------------------------------------------------------------

class UploadFormField(forms.FileField):
    """A form's file field under a policy: the page refuses what the service would."""

    def __init__(self, *args, policy: str, **kwargs):
        self.upload_policy = policy
        kwargs.setdefault("help_text", _lazy_accepts(policy))
        super().__init__(*args, **kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs["accept"] = ",".join(k.ext if k is not JPEG else ".jpg,.jpeg"
                                   for k in policy_of(self.upload_policy).kinds)
        return attrs

    def clean(self, data, initial=None):
        file = super().clean(data, initial)
        if file and file is not initial:
            check(file, self.upload_policy)
        return file


class UploadSerializerField(serializers.FileField):
    """The API's file field under a policy (multipart/form-data)."""

    def __init__(self, *args, policy: str, **kwargs):
        self.upload_policy = policy
        kwargs.setdefault("help_text", _lazy_accepts(policy))
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data):
        file = super().to_internal_value(data)
        try:
            check(file, self.upload_policy)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return file


def _accepts(policy: str) -> str:
    p = policy_of(policy)
    return _("%(kinds)s, at most %(mb)d MB.") % {"kinds": p.accepted(), "mb": p.max_bytes // MB}


_lazy_accepts = lazy(_accepts, str)


# --- files stored before the policy ----------------------------------------------------------

QUARANTINE_DIR = "quarantine"


@dataclass
class RecheckResult:
    checked: int = 0
    quarantined: int = 0
    missing: int = 0


def recheck_rows(model, *, schema_name: str, quarantine_root, dry_run: bool = False,
                 on_quarantine=None) -> RecheckResult:
    """Check every stored file of ``model`` (in the current schema) against its field's
    policy. A file that fails is moved (never deleted) to
    ``quarantine_root/<schema>/<its path>``, its field emptied and the row flagged in
    ``file_meta`` so that staff and merchant see it must be uploaded again."""
    result = RecheckResult()
    fields = upload_fields(model)
    for field in fields:
        rows = model.objects.exclude(**{field.name: ""}).exclude(**{f"{field.name}__isnull": True})
        for row in rows.order_by("pk").iterator(chunk_size=500):
            stored = getattr(row, field.name)
            result.checked += 1
            try:
                handle = stored.storage.open(stored.name, "rb")
            except (FileNotFoundError, OSError):
                result.missing += 1
                continue
            with handle:
                probe = UploadedFile(file=handle, name=stored.name,
                                     size=stored.storage.size(stored.name))
                try:
                    check(probe, field.upload_policy)
                    continue
                except ValidationError as exc:
                    reason = " ".join(exc.messages)
            result.quarantined += 1
            if dry_run:
                continue
            target = Path(quarantine_root) / schema_name / stored.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(stored.storage.path(stored.name), target)
            meta = dict(row.file_meta or {})
            meta[field.name] = {**(meta.get(field.name) or {}),
                                "quarantined": timezone.now().isoformat(),
                                "reason": reason,
                                "stored_as": f"{QUARANTINE_DIR}/{schema_name}/{stored.name}"}
            meta[field.name].setdefault("name", posixpath.basename(stored.name))
            model.objects.filter(pk=row.pk).update(**{field.name: "", "file_meta": meta})
            if on_quarantine is not None:
                on_quarantine(row, field.name)
    return result
