"""The product's ASGI application (`config.asgi`) served by uvicorn with httptools and uvloop, for
`bench/e2e_webhooks.py --server uvicorn`: the same application, settings and start-up as
`python -m config.server`, with another HTTP server in front.

Not how the product is served: `config/server.py` adds to daphne the limits on slow, idle and
too many connections of RELIABILITY.md, which uvicorn does not have, and the product's own
tests run against daphne. This measures what the HTTP side costs.

    .venv/bin/python bench/uvicorn_server.py -p PORT
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("-b", "--bind", default="127.0.0.1")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import uvicorn

    from config import heap
    from config.asgi import application

    heap.settle()  # as config.server does once the application is loaded
    # An access line per request, as daphne writes; no lifespan (channels' router has none).
    uvicorn.run(application, host=args.bind, port=args.port, http="httptools", loop="uvloop", lifespan="off",
                access_log=True, log_level="info", backlog=2048)


if __name__ == "__main__":
    main()
