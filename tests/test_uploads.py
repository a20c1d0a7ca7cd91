"""A logo is accepted by its content and size, whatever its name says."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from broker_portal.uploads import LOGO_MAX_BYTES, validate_logo

PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)


@pytest.mark.parametrize(
    "name, content",
    [
        ("logo.png", PNG),
        ("logo.JPG", b"\xff\xd8\xff\xe0" + bytes(16)),
        ("logo.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(8)),
        ("logo.svg", b"<?xml version='1.0'?>\n<svg xmlns='http://www.w3.org/2000/svg'><rect width='4'/></svg>"),
    ],
)
def test_images_of_the_accepted_kinds_pass(name, content):
    validate_logo(SimpleUploadedFile(name, content))


@pytest.mark.parametrize(
    "name, content, code",
    [
        ("logo.gif", b"GIF89a" + bytes(16), "invalid_extension"),
        ("logo.png", b"\xff\xd8\xff\xe0" + bytes(16), "invalid_image"),  # a JPEG named PNG
        ("logo.png", b"<html><body>not a picture</body></html>", "invalid_image"),
        ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "invalid_image"),
        ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "invalid_image"),
        ("logo.png", PNG + bytes(LOGO_MAX_BYTES), "too_large"),
    ],
)
def test_other_files_are_refused(name, content, code):
    with pytest.raises(ValidationError) as refused:
        validate_logo(SimpleUploadedFile(name, content))
    assert refused.value.code == code
