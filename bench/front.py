"""Serve an app's factory on drgate's HTTP front, as `drgate serve` serves drgate::

    python -m bench.front bench.apps.raw:create_app --port 18700

The raw floor served this way (``raw-front`` in ``bench.run``) is the floor for what the front
itself does: its limits and its writes coalesced at the end of the loop's turn
(``gateway.api.front``).  Settings come from the environment (``DRGATE_*``), as for drgate.
"""

from __future__ import annotations

import argparse
import importlib

from gateway.api.front import serve
from gateway.settings import Settings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.front", description=__doc__.split("\n\n")[0])
    p.add_argument("factory", help="module:function that returns the ASGI app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    module, name = args.factory.split(":")
    app = getattr(importlib.import_module(module), name)()
    return 0 if serve(app, Settings(), host=args.host, port=args.port, workers=1) else 1


if __name__ == "__main__":
    raise SystemExit(main())
