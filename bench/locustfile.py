"""The shopper workload of ``bench/load.py`` for locust (run by it; alone:
``LOAD_DATA=bench/out/load-data.json locust -f bench/locustfile.py --host http://127.0.0.1:PORT``).

Each simulated shopper stays on one bank's storefront (a ``Host:`` header such as
``qinghe.localhost``, the server being reached on 127.0.0.1) and, between pauses:

* 70%: browses anonymously: the home page, a category page or a product page;
* 20%: searches (the storefront's search page, a word from the catalog);
* 10%: buys: one SKU into the cart, a checkout, a card payment through the local
  Stripe-compatible server (API calls with the shopper's own API token).

``LOAD_MODE`` picks the mix: ``mixed`` (the above, with pauses of ``LOAD_WAIT`` seconds,
default 0.5-2), ``browse`` (browsing only, no pause: the storefront's pages at their
highest rate), ``bare`` (the same pages, no pause, from the bare Django view of
``bench/wsgi.py``: the baseline) or ``bare_mw`` (the same through the platform's
middleware). The data (hosts, categories, products, SKUs, search
words, tokens) comes from the JSON file named by ``LOAD_DATA``, written by ``bench/load.py``.
"""

from __future__ import annotations

import json
import os
import random
import uuid

from locust import FastHttpUser, between, constant, task

DATA = json.loads(open(os.environ["LOAD_DATA"], encoding="utf-8").read())  # noqa: SIM115
MODE = os.environ.get("LOAD_MODE", "mixed")
_low, _high = (float(x) for x in os.environ.get("LOAD_WAIT", "0.5,2").split(","))
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
DELIVERY = {"recipient_name": "张三", "recipient_phone": "13700000001",
            "address": "甲县人民路 18 号 3 单元"}
_rng = random.Random(int(os.environ.get("LOAD_SEED", "20261204")))
_tokens = list(DATA["tokens"])


class Shopper(FastHttpUser):
    wait_time = between(_low, _high) if MODE == "mixed" else constant(0)

    def on_start(self):
        self.rng = random.Random(_rng.random())
        self.host_name = self.rng.choice(DATA["hosts"])
        self.pages = DATA["pages"][self.host_name]
        self.token = _tokens.pop() if _tokens else None

    def _get(self, path: str, name: str):
        if MODE == "bare":
            path = f"/__bare__/{self.host_name}{path}"
        elif MODE == "bare_mw":
            path = f"/__bare_mw__/{self.host_name}{path}"
        self.client.get(path, headers={"Host": self.host_name}, name=name)

    @task(7)
    def browse(self):
        r = self.rng.random()
        if r < 0.25:
            self._get("/", "home")
        elif r < 0.50:
            self._get(self.rng.choice(self.pages["categories"]), "category")
        else:
            self._get(self.rng.choice(self.pages["products"]), "product")

    @task(2 if MODE == "mixed" else 0)
    def search(self):
        word = self.rng.choice(DATA["words"])
        self.client.get("/search/", params={"q": word}, headers={"Host": self.host_name},
                        name="search")

    @task(1 if MODE == "mixed" else 0)
    def buy(self):
        if self.token is None:
            return
        headers = {"Host": self.host_name, "Authorization": f"Token {self.token}",
                   "Accept-Language": "en"}
        sku = self.rng.choice(DATA["skus"])
        with self.client.post("/api/v1/cart/items/", json={"sku": sku, "quantity": 1},
                              headers=headers, name="api cart add",
                              catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"{r.status_code} {r.text[:200]}")
                return
        with self.client.post("/api/v1/checkouts/", json={"delivery": DELIVERY},
                              headers=headers, name="api checkout",
                              catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"{r.status_code} {r.text[:200]}")
                return
            number = r.json()["number"]
        with self.client.post(f"/api/v1/checkouts/{number}/payments/", json={"card": CARD},
                              headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                              name="api pay", catch_response=True) as r:
            if r.status_code != 201 or r.json().get("status") != "succeeded":
                r.failure(f"{r.status_code} {r.text[:200]}")
