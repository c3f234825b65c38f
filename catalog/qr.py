"""QR codes for batch traceability pages, as PNG and SVG, made locally (segno)."""

import io

import segno


def qr_png(url: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def qr_svg(url: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=scale, border=2,
                                    xmldecl=True, svgns=True)
    return buffer.getvalue()
