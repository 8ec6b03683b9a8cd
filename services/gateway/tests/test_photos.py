"""Photos are checked to be images and re-encoded without their metadata (decision 92)."""
import io

import pytest
from PIL import Image

from gateway.console.photos import PHOTO_MAX_BYTES, PhotoRefused, checked_image


def jpeg_with_gps(size=(64, 48)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (29.0, 12.0, 36.0)}  # GPSInfo: the resident's position
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_a_jpeg_is_re_encoded_without_its_exif():
    raw = jpeg_with_gps()
    assert b"PhoneMaker" in raw
    checked = checked_image(raw)
    assert checked.content_type == "image/jpeg" and (checked.width, checked.height) == (64, 48)
    assert b"PhoneMaker" not in checked.data
    with Image.open(io.BytesIO(checked.data)) as stored:
        assert not stored.getexif()


def test_png_and_webp_are_taken_and_big_photos_shrunk():
    out = io.BytesIO()
    Image.new("RGBA", (4000, 1000), (0, 0, 0, 0)).save(out, format="PNG")
    checked = checked_image(out.getvalue())
    assert checked.content_type == "image/png" and max(checked.width, checked.height) == 2560
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="WEBP")
    assert checked_image(out.getvalue()).content_type == "image/webp"


@pytest.mark.parametrize("raw, status", [
    (b"", 415),
    (b"<script>alert(1)</script>", 415),
    (b"\xff\xd8\xff\xe0" + b"\x00JFIF" + b"<?php system($_GET['x']); ?>" * 10, 415),  # a JPEG header, no image
    (b"GIF89a" + b"\x00" * 100, 415),
])
def test_what_is_not_a_readable_photo_is_refused(raw, status):
    with pytest.raises(PhotoRefused) as refused:
        checked_image(raw)
    assert refused.value.status == status


def test_a_file_over_the_limit_is_refused_before_it_is_decoded():
    with pytest.raises(PhotoRefused) as refused:
        checked_image(b"\x00" * (PHOTO_MAX_BYTES + 1))
    assert refused.value.status == 413


def test_a_gif_image_is_refused_as_a_format_we_do_not_take():
    out = io.BytesIO()
    Image.new("P", (5, 5)).save(out, format="GIF")
    with pytest.raises(PhotoRefused) as refused:
        checked_image(out.getvalue())
    assert refused.value.status == 415
