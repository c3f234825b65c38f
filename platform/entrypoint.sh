#!/bin/sh
# Entry point of the platform image (platform/Dockerfile).
#
#   migrate             migrate the public schema and every bank's schema; then, when
#                       LOAD_DEMO is true, load (or complete) the demo province; when
#                       STRIPE_WEBHOOK_URL is set, register it with the local Stripe server
#   healthcheck web     exit 0 when the web process answers /healthz and its database
#                       works (a 503 caused only by Redis or the worker still counts
#                       as alive: restarting web would not fix those)
#   healthcheck worker  exit 0 when this container's Celery worker answers a ping
#   healthcheck stripe  exit 0 when the Stripe-compatible server accepts connections
#   anything else       run as given (gunicorn ..., celery ..., python manage.py ...)
set -eu

# Run from the source tree (/app in the image), whatever the caller's directory.
cd "$(dirname "$0")/.."

case "${1:-}" in
  migrate)
    python manage.py migrate_schemas --noinput
    case "$(echo "${LOAD_DEMO:-false}" | tr '[:upper:]' '[:lower:]')" in
      1|true|yes|on) python manage.py load_demo ;;
    esac
    # The local Stripe-compatible server learns where to deliver webhook events.
    if [ -n "${STRIPE_WEBHOOK_URL:-}" ]; then
      python manage.py register_local_webhook "$STRIPE_WEBHOOK_URL"
    fi
    ;;

  healthcheck)
    case "${2:-}" in
      web)
        exec python - <<'PY'
import json, os, sys, urllib.error, urllib.request

host = (os.environ.get("PORTAL_DOMAINS") or "localhost").split(",")[0].strip()
url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
try:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Host": host}),
                                timeout=5) as response:
        body = response.read()
except urllib.error.HTTPError as exc:  # 503: some component is down
    body = exc.read()
except OSError as exc:
    sys.exit(f"web does not answer: {exc}")
report = json.loads(body)
sys.exit(0 if report.get("database", {}).get("ok") else "web answers, database is down")
PY
        ;;
      worker)
        exec celery -A config inspect ping --destination "worker@${HOSTNAME:-$(cat /etc/hostname)}" --timeout 5
        ;;
      stripe)
        exec python -c "import socket; socket.create_connection(('127.0.0.1', ${STRIPE_PORT:-8420}), timeout=3).close()"
        ;;
      *)
        echo "usage: entrypoint.sh healthcheck web|worker|stripe" >&2
        exit 64
        ;;
    esac
    ;;

  "")
    echo "usage: entrypoint.sh migrate | healthcheck web|worker|stripe | COMMAND [ARG...]" >&2
    exit 64
    ;;

  *)
    exec "$@"
    ;;
esac
