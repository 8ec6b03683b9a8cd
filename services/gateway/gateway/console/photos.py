"""Photos of cases, reports and projects: checked to be images, stored in GridFS, shown only to who may see their
subject (decision 92).

- :func:`checked_image` (pure: Pillow, no I/O) accepts a JPEG, PNG or WebP of at most ``PHOTO_MAX_BYTES`` (5 MB)
  and ``MAX_PIXELS``, and re-encodes it: what is stored is pixels we decoded, never the uploaded bytes, so a file
  that only pretends to be an image (a script behind a JPEG header, a polyglot) is refused, and the camera's EXIF
  (the phone's GPS position, its owner's name) is dropped; the orientation EXIF asked for is applied first.
- :class:`PhotoRepository` stores them in the gateway's database (GridFS bucket ``photos``), each with its
  township, its subject (``case:<id>``, ``report:<id>``, ``project:<id>``), who uploaded it and when; reads are
  always scoped to the reader's township.
- Who may see a photo is who may see its subject: the page serving it first asks the service owning the subject
  for it with the reader's principal (:data:`SUBJECT_READERS`); a refusal is a 404, as for a subject of another
  township.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import GridFSBucket
from gridfs.errors import NoFile
from PIL import Image, ImageOps, UnidentifiedImageError
from pymongo import ASCENDING
from pymongo.database import Database

from .i18n import N_

PHOTO_MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; beyond, a decompression bomb more likely than a camera
MAX_SIDE = 2560  # stored photos are at most this wide or high: enough to read a meter, small to serve
PHOTOS_PER_FORM = 4
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
SUBJECT_KINDS = ("case", "report", "project")


class PhotoRefused(ValueError):
    """An upload that is not accepted: ``status`` 413 (too large), 415 (not an image we take), 422 (too many)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    content_type: str
    width: int
    height: int


def checked_image(raw: bytes, max_bytes: int = PHOTO_MAX_BYTES) -> CheckedImage:
    """The upload ``raw`` decoded and re-encoded in its own format (JPEG, PNG or WebP), without metadata, at
    most :data:`MAX_SIDE` pixels a side; :class:`PhotoRefused` for anything else."""
    if len(raw) > max_bytes:
        raise PhotoRefused(413, N_("the photo is larger than the limit"))
    if not raw:
        raise PhotoRefused(415, N_("the file is empty"))
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            kind = probe.format
            if kind not in FORMATS:
                raise PhotoRefused(415, N_("send a JPEG, PNG or WebP photo"))
            if probe.width * probe.height > MAX_PIXELS:
                raise PhotoRefused(413, N_("the photo has too many pixels"))
            probe.verify()
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            if kind == "JPEG" and image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            out = io.BytesIO()
            options = {"quality": 85} if kind in ("JPEG", "WEBP") else {"optimize": True}
            image.save(out, format=kind, **options)
            return CheckedImage(out.getvalue(), FORMATS[kind], image.width, image.height)
    except PhotoRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoRefused(415, N_("the file is not an image we can read (JPEG, PNG or WebP)")) from None


def subject(kind: str, ident: str) -> str:
    if kind not in SUBJECT_KINDS:
        raise ValueError(f"no photos of a {kind!r}")
    return f"{kind}:{ident}"


class PhotoRepository:
    """GridFS bucket ``photos`` in the gateway's database; every read names the township."""

    def __init__(self, db: Database):
        self.db = db
        self.bucket = GridFSBucket(db, bucket_name="photos")
        self.files = db["photos.files"]

    def ensure_indexes(self) -> None:
        self.files.create_index([("metadata.township_id", ASCENDING), ("metadata.subject", ASCENDING),
                                 ("uploadDate", ASCENDING)], name="township_subject")

    def save(self, image: CheckedImage, *, township_id: str, subject: str, uploaded_by: str, now: datetime,
             filename: str = "photo") -> str:
        photo_id = self.bucket.upload_from_stream(
            filename[:100] or "photo", io.BytesIO(image.data),
            metadata={"township_id": township_id, "subject": subject, "uploaded_by": uploaded_by,
                      "uploaded_at": now, "content_type": image.content_type, "width": image.width,
                      "height": image.height})
        return str(photo_id)

    def of(self, township_id: str, subject: str, limit: int = 50) -> list[dict[str, Any]]:
        docs = self.files.find({"metadata.township_id": township_id, "metadata.subject": subject},
                               {"metadata": 1}).sort("uploadDate", ASCENDING).limit(limit)
        return [{"id": str(d["_id"]), **{k: d["metadata"].get(k) for k in ("uploaded_at", "uploaded_by",
                                                                          "width", "height", "subject")}}
                for d in docs]

    def find(self, township_id: str, photo_id: str) -> dict[str, Any] | None:
        try:
            oid = ObjectId(photo_id)
        except (InvalidId, TypeError):
            return None
        doc = self.files.find_one({"_id": oid, "metadata.township_id": township_id}, {"metadata": 1, "length": 1})
        return None if doc is None else {"id": photo_id, "length": doc.get("length"), **doc["metadata"]}

    def content(self, photo_id: str) -> bytes | None:
        try:
            return self.bucket.open_download_stream(ObjectId(photo_id)).read()
        except (NoFile, InvalidId):
            return None


def _case(ctx, ident: str) -> Any:
    return ctx.call("dispatch", "get_case", ident)


def _report(ctx, ident: str) -> Any:
    return ctx.call("feedback", "get_report", ident)


def _project(ctx, ident: str) -> Any:
    return ctx.call("funds", "get_project", ident)


# subject kind -> how a reader proves they may see it: the owning service answers it for their principal
SUBJECT_READERS: dict[str, Callable[[Any, str], Any]] = {"case": _case, "report": _report, "project": _project}
