"""Images a broker admin uploads (a server's logo): checked by their content, not by the name they came with."""

import re
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

LOGO_MAX_BYTES = 256 * 1024  # a logo drawn at 32px high; more is a photo or an attempt at filling the disk

# Each accepted extension and its content type; the content must be of the kind its extension says.
LOGO_CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}

# What would make an SVG more than a picture where it is opened on its own: scripts, handlers, embedded pages.
SVG_ACTIVE_CONTENT = re.compile(rb"<script|<html|<iframe|<foreignobject|javascript:|\son[a-z]+\s*=")


def image_kind(head: bytes) -> str:
    """The content type that the file's first bytes show, "" where they are none of the accepted ones."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<?xml", b"<svg", b"<!--")) and b"<svg" in text and not SVG_ACTIVE_CONTENT.search(text):
        return "image/svg+xml"
    return ""


def logo_content_type(name: str) -> str:
    return LOGO_CONTENT_TYPES.get(PurePath(name).suffix.lower(), "application/octet-stream")


@deconstructible
class LogoValidator:
    """A PNG, JPEG, WebP or SVG of at most LOGO_MAX_BYTES whose content matches its extension."""

    def __call__(self, file) -> None:
        extension = PurePath(file.name).suffix.lower()
        if extension not in LOGO_CONTENT_TYPES:
            raise ValidationError("Upload a PNG, JPEG, WebP or SVG image.", code="invalid_extension")
        if file.size > LOGO_MAX_BYTES:
            raise ValidationError(f"The logo is at most {LOGO_MAX_BYTES // 1024} KB.", code="too_large")
        file.seek(0)
        # An SVG is read whole, so that active content anywhere in it is refused (SVG_ACTIVE_CONTENT).
        head = file.read() if extension == ".svg" else file.read(16)
        file.seek(0)
        if image_kind(head) != LOGO_CONTENT_TYPES[extension]:
            raise ValidationError("The file is not the image its name says.", code="invalid_image")

    def __eq__(self, other):
        return isinstance(other, LogoValidator)


validate_logo = LogoValidator()
