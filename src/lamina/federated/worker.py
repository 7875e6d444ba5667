"""One federated client process: ``python -m lamina.federated.worker --address 127.0.0.1:PORT --spec SPEC.json
--client-index I``. SPEC holds ``{"factory": "module:function", "kwargs": {...}}``; the worker builds its
client with ``function(client_index=I, **kwargs)`` (a ``LaminaClient``) and serves it to the Flower
server at ADDRESS until the server says the run is over (``lamina.federated.simulation.run_processes``)."""
from __future__ import annotations

import argparse
import importlib
import json
import sys


def load_factory(name: str):
    """The function named ``"package.module:function"``."""
    module, _, attr = name.partition(":")
    if not module or not attr:
        raise ValueError(f"a client factory is named 'module:function', got {name!r}")
    return getattr(importlib.import_module(module), attr)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lamina.federated.worker", description=__doc__)
    p.add_argument("--address", required=True, help="the Flower server, HOST:PORT")
    p.add_argument("--spec", required=True, help="JSON file: {factory, kwargs}")
    p.add_argument("--client-index", type=int, required=True)
    p.add_argument("--max-wait", type=float, default=300.0, help="seconds to keep trying to reach the server")
    args = p.parse_args(argv)
    from ._flwr import flwr
    with open(args.spec, encoding="utf-8") as f:
        spec = json.load(f)
    client = load_factory(spec["factory"])(client_index=args.client_index, **spec.get("kwargs", {}))
    import logging
    logging.getLogger("flwr").setLevel(logging.WARNING)
    flwr.client.start_client(server_address=args.address, client=client.to_client(), insecure=True,
                             max_wait_time=args.max_wait)
    return 0


if __name__ == "__main__":
    sys.exit(main())
