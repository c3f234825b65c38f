"""Share posters: a PNG a shopper can save and send (WeChat groups, a printed sheet at the
village shop) with the product's picture or the shop's name, the price, the bank's name
and the QR code of the share link.

Made locally with Pillow and segno. Chinese text needs a CJK font: the first of
``POSTER_FONT_PATHS`` that exists (Debian's fonts-noto-cjk); without one, Pillow's own
font draws what it can and the poster is still made.
"""

from __future__ import annotations

import io
import logging
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 750, 1100
PICTURE = 480  # the picture band's height
QR_SIZE = 260
BRAND = (22, 128, 61)        # the site's green
INK = (31, 41, 55)
MUTED = (107, 114, 128)
PRICE = (220, 38, 38)
PAPER = (255, 255, 255)
BAND = (240, 253, 244)

POSTER_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


@lru_cache(maxsize=16)
def _font(size: int):
    for path in POSTER_FONT_PATHS:
        if Path(path).exists():
            try:
                # index 2 of the Noto collections is Simplified Chinese (SC)
                return ImageFont.truetype(path, size, index=2 if path.endswith(".ttc") else 0)
            except OSError:
                try:
                    return ImageFont.truetype(path, size)
                except OSError:
                    continue
    log.warning("no CJK font found for share posters; using Pillow's default font")
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow before 10.1
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int, lines: int = 2) -> list[str]:
    """``text`` wrapped by characters (Chinese has no spaces) into at most ``lines``."""
    out, current = [], ""
    for ch in text:
        if draw.textlength(current + ch, font=font) > width:
            out.append(current)
            current = ch
            if len(out) == lines:
                break
        else:
            current += ch
    else:
        if current:
            out.append(current)
        return out
    last = out[-1]
    while last and draw.textlength(last + "…", font=font) > width:
        last = last[:-1]
    out[-1] = last + "…"
    return out


def _picture(path: str | None, title: str) -> Image.Image:
    """The top band: the product's picture cropped to fill, else the title's first
    character on the brand colour (like the shop avatar)."""
    band = Image.new("RGB", (WIDTH, PICTURE), BAND)
    if path:
        try:
            with Image.open(path) as img:
                img = img.convert("RGB")
                scale = max(WIDTH / img.width, PICTURE / img.height)
                img = img.resize((max(1, round(img.width * scale)),
                                  max(1, round(img.height * scale))))
                left, top = (img.width - WIDTH) // 2, (img.height - PICTURE) // 2
                band.paste(img.crop((left, top, left + WIDTH, top + PICTURE)))
                return band
        except (OSError, ValueError) as exc:
            log.info("share poster: picture %s not usable (%s)", path, exc)
    draw = ImageDraw.Draw(band)
    r = 120
    cx, cy = WIDTH // 2, PICTURE // 2
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=BRAND)
    draw.text((cx, cy), (title or "?")[:1], font=_font(130), fill=PAPER, anchor="mm")
    return band


def _qr(url: str) -> Image.Image:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=10, border=2)
    buffer.seek(0)
    with Image.open(buffer) as img:
        return img.convert("RGB").resize((QR_SIZE, QR_SIZE), Image.NEAREST)


def share_poster_png(*, title: str, url: str, bank_name: str, price: Decimal | None = None,
                     subtitle: str = "", picture_path: str | None = None,
                     call_to_action: str = "", price_note: str = "") -> bytes:
    """The poster as PNG bytes (750 x 1100)."""
    poster = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    poster.paste(_picture(picture_path, title), (0, 0))
    draw = ImageDraw.Draw(poster)
    x, y = 40, PICTURE + 30
    for line in _fit(draw, title, _font(44), WIDTH - 80):
        draw.text((x, y), line, font=_font(44), fill=INK)
        y += 58
    if subtitle:
        for line in _fit(draw, subtitle, _font(28), WIDTH - 80, lines=1):
            draw.text((x, y), line, font=_font(28), fill=MUTED)
            y += 40
    if price is not None:
        text = f"¥{price}"
        draw.text((x, y + 6), text, font=_font(56), fill=PRICE)
        if price_note:
            draw.text((x + draw.textlength(text, font=_font(56)) + 12, y + 34), price_note,
                      font=_font(26), fill=MUTED)
    # The footer: the QR on the right, the bank and the call to action on the left.
    qr_top = HEIGHT - QR_SIZE - 40
    draw.line((40, qr_top - 20, WIDTH - 40, qr_top - 20), fill=(229, 231, 235), width=2)
    poster.paste(_qr(url), (WIDTH - QR_SIZE - 40, qr_top))
    ty = qr_top + 30
    for line in _fit(draw, bank_name, _font(34), WIDTH - QR_SIZE - 110):
        draw.text((40, ty), line, font=_font(34), fill=BRAND)
        ty += 48
    if call_to_action:
        for line in _fit(draw, call_to_action, _font(26), WIDTH - QR_SIZE - 110, lines=3):
            draw.text((40, ty + 10), line, font=_font(26), fill=MUTED)
            ty += 38
    buffer = io.BytesIO()
    poster.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
