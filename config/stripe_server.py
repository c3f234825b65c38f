"""Run localstripe (the Stripe-compatible server used in development and tests) on
loopback (or --host), keeping its state in a file we choose.

localstripe itself listens on every interface and pickles its state to one fixed file in
/tmp, which two instances (say ``make run`` and ``make test``) would share. This wrapper
binds 127.0.0.1 (or ``--host``) and points the store at ``--state-file``.

    python -m config.stripe_server --port 8420 --state-file .data/stripe/state.pickle
"""

from __future__ import annotations

import argparse
import logging
import pickle
import socket
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (0.0.0.0 inside a container)")
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--from-scratch", action="store_true")
    args = parser.parse_args()

    from aiohttp import web
    from localstripe import resources, server

    state_file: Path = args.state_file
    state_file.parent.mkdir(parents=True, exist_ok=True)

    def try_load_from_disk(self) -> None:
        if state_file.exists():
            with state_file.open("rb") as f:
                old = pickle.load(f)  # noqa: S301 - our own file, written by this process
            self.clear()
            self.update(old)

    def dump_to_disk(self) -> None:
        tmp = state_file.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump(dict(self), f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(state_file)

    resources.Store.try_load_from_disk = try_load_from_disk
    resources.Store.dump_to_disk = dump_to_disk

    if not args.from_scratch:
        resources.store.try_load_from_disk()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    web.run_app(server.app, sock=sock, print=None)


if __name__ == "__main__":
    main()
