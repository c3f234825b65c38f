"""Page weight of the storefront as a phone on a weak connection would load it.

Loads the demo province (idempotent) into the database named by EMBEDDED_DATABASE_NAME
(default: a throw-away "bench_pages"), renders pages through Django's full stack with
the test client, and adds up what a browser would fetch for each: the HTML, the CSS, and
the images the first screen shows (listing cards are lazy-loaded: only the first row of
a phone's screen, 4 cards, loads at once; all of them are counted too). Sizes are given
raw and gzip-compressed (what the proxy in front of the platform sends).

    .venv/bin/python bench/page_weight.py
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EMBEDDED_DATABASE_NAME", "bench_pages")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.staticfiles import finders  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from catalog.models import Batch, Merchant, Product  # noqa: E402

FIRST_SCREEN_IMAGES = 4


def kb(n: int) -> str:
    return f"{n / 1024:.1f}"


def main() -> None:
    call_command("migrate_schemas", verbosity=0)
    call_command("load_demo", verbosity=0)
    product = Product.objects.filter(status="listed").order_by("-sales_count").first()
    merchant = Merchant.objects.filter(status="approved").first()
    batch = Batch.objects.filter(product__status="listed").first()
    pages = {
        "home": "/",
        "search 罗汉果": "/search/?q=罗汉果",
        "category": f"/c/{(product.category.parent or product.category).slug}/",
        "product": f"/p/{product.pk}/",
        "shop": f"/shop/{merchant.pk}/",
        "traceability": f"/trace/{batch.trace_token}/",
    }
    client = Client(HTTP_HOST=f"{merchant.bank.code}.localhost")
    css = Path(finders.find("core/site.css")).read_bytes()
    rows = []
    for name, path in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        html = response.content
        images = re.findall(rb'<img[^>]+src="(/media/public/[^"]+)"', html)
        sizes = []
        for src in images:
            file = settings.MEDIA_ROOT / "public" / src.decode().removeprefix("/media/public/")
            sizes.append(file.stat().st_size if file.exists() else 0)
        first = sum(sizes[:FIRST_SCREEN_IMAGES])
        rows.append({
            "page": name, "path": path,
            "html": len(html), "html_gzip": len(gzip.compress(html)),
            "css": len(css), "css_gzip": len(gzip.compress(css)),
            "images": len(sizes), "images_bytes": sum(sizes),
            "first_screen_gzip": len(gzip.compress(html)) + len(gzip.compress(css)) + first,
            "all_gzip": len(gzip.compress(html)) + len(gzip.compress(css)) + sum(sizes),
        })
    print(f"{'page':<14}{'HTML KB':>9}{'gz':>7}{'CSS gz':>8}{'imgs':>6}{'img KB':>8}"
          f"{'1st screen KB':>15}{'all KB':>9}")
    for r in rows:
        print(f"{r['page']:<14}{kb(r['html']):>9}{kb(r['html_gzip']):>7}{kb(r['css_gzip']):>8}"
              f"{r['images']:>6}{kb(r['images_bytes']):>8}{kb(r['first_screen_gzip']):>15}"
              f"{kb(r['all_gzip']):>9}")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "page_weight.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
