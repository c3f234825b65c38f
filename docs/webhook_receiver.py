"""A partner platform's webhook receiver: verifies each delivery's signature, does each
event's work once, answers 2xx at once.

    python webhook_receiver.py whsec_... [port]

Register ``http://localhost:<port>/`` as an endpoint (``POST
/api/v1/partner/webhooks/endpoints/``; http is accepted for localhost only) with the
secret it gives you. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import sys
import time

TOLERANCE_SECONDS = 300
seen: set[str] = set()  # a real receiver keeps the event ids it handled in its database


def verify(secret: str, header: str, raw_body: bytes) -> bool:
    """``Platform-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">``."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        at = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret.encode(), f"{at}.".encode() + raw_body,
                        hashlib.sha256).hexdigest()
    return (hmac.compare_digest(expected, parts.get("v1", ""))
            and abs(time.time() - at) <= TOLERANCE_SECONDS)


class Receiver(http.server.BaseHTTPRequestHandler):
    secret = ""

    def do_POST(self):  # noqa: N802 - the standard library's name
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not verify(self.secret, self.headers.get("Platform-Signature", ""), raw):
            self.send_response(400)
            self.end_headers()
            return
        event = json.loads(raw)
        if event["id"] not in seen:  # deliveries are at least once
            seen.add(event["id"])
            checkout = event["data"]["checkout"]
            print(f"{event['type']}: {event['data']['order_number']} "
                  f"({checkout['customer_reference']}, {checkout['status']})", flush=True)
        self.send_response(204)
        self.end_headers()


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    Receiver.secret = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8765
    print(f"listening on http://localhost:{port}/", flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()


if __name__ == "__main__":
    main()
