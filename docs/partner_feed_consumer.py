"""A partner platform's catalog consumer: a full export first, then the changes.

    python partner_feed_consumer.py https://portal.example.cn pk_xxxxxxxx_yyyy [state.json]

Keeps its copy of the catalog and the cursor in a JSON file; run it again (from cron,
say every minute) to apply what changed. Standard library only.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def call(base: str, key: str, path: str, params: dict | None = None, etag: str = ""):
    url = base.rstrip("/") + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    if not url.startswith(("https://", "http://")):
        raise SystemExit("the portal's address starts with https:// (or http://)")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})  # noqa: S310
    if etag:
        request.add_header("If-None-Match", etag)
    while True:
        try:
            return urllib.request.urlopen(request, timeout=60)  # noqa: S310 - the operator's URL
        except urllib.error.HTTPError as exc:
            if exc.code == 429:  # over the key's rate: wait as told, then again
                time.sleep(int(exc.headers.get("Retry-After", "5")))
                continue
            if exc.code == 304:
                return None
            raise SystemExit(f"{exc.code}: {exc.read().decode(errors='replace')}")


def main(base: str, key: str, state_file: str = "partner_catalog.json") -> None:
    try:
        with open(state_file, encoding="utf-8") as f:
            state = json.load(f)
    except FileNotFoundError:
        state = {"products": {}, "cursor": ""}
    if not state["products"] and not state["cursor"]:
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        with call(base, key, "/api/v1/partner/catalog/export.jsonl") as response:
            for line in response:  # streamed: one product per line
                item = json.loads(line)
                state["products"][str(item["id"])] = item
        # Changes made while the export ran are read again from the changes.
        state["since"] = started[:-2] + ":" + started[-2:]
    while True:
        params = {"limit": 500}
        if state["cursor"]:
            params["cursor"] = state["cursor"]
        elif state.get("since"):
            params["updated_since"] = state["since"]
        # The ETag of the last page read with this same cursor: 304 if it is unchanged.
        etag = state.get("etag", "") if state.get("etag_cursor") == state["cursor"] else ""
        response = call(base, key, "/api/v1/partner/catalog/changes", params, etag)
        if response is None:  # 304: nothing new
            break
        with response:
            state["etag"], state["etag_cursor"] = response.headers.get("ETag", ""), \
                state["cursor"]
            page = json.load(response)
        for item in page["items"]:
            if item["event"] == "upsert":
                state["products"][str(item["id"])] = item
            else:
                state["products"].pop(str(item["id"]), None)
        state["cursor"] = page["next_cursor"]
        if not page["has_more"]:
            break
    with open(state_file, "w", encoding="utf-8") as f:
        json.dump(state, f, ensure_ascii=False)
    print(f"{len(state['products'])} products; cursor {state['cursor'][:16]}...")


if __name__ == "__main__":
    main(*sys.argv[1:])
