"""Flower, imported once with its telemetry off (unless the user turned it on) and a clear error when missing."""
from __future__ import annotations

import os

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")  # read by flwr at import: no usage reports from lamina's runs

try:
    import flwr  # noqa: E402
    import flwr.client  # noqa: E402,F401
    import flwr.server  # noqa: E402,F401
    import flwr.server.strategy  # noqa: E402,F401
except ImportError as e:  # pragma: no cover - exercised only without flwr
    raise ImportError("lamina.federated needs Flower: pip install 'lamina[federated]'  (or: pip install flwr)") from e

__all__ = ["flwr"]
