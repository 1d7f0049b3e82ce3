"""Where the demo listens, by the conventions of Hugging Face Spaces, Docker images and Gradio.

- Port: ``GRADIO_SERVER_PORT``, then ``PORT``, then 7860.
- Host: ``GRADIO_SERVER_NAME``, then 0.0.0.0 on a Space (``SPACE_ID`` is set: the Space's proxy
  must reach the app), then 127.0.0.1 (this machine only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

DEFAULT_PORT = 7860


def server_address(env: Mapping[str, str] | None = None) -> tuple[str, int]:
    """``(host, port)`` from the environment (``os.environ`` unless ``env`` is given)."""
    env = os.environ if env is None else env
    host = env.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if env.get("SPACE_ID") else "127.0.0.1")
    for name in ("GRADIO_SERVER_PORT", "PORT"):
        value = env.get(name)
        if value:
            try:
                port = int(value)
            except ValueError:
                raise ValueError(f"{name}={value!r} is not a port number") from None
            if not 0 < port < 65536:
                raise ValueError(f"{name}={value!r} is not a port number (1 to 65535)")
            return host, port
    return host, DEFAULT_PORT
