"""The offline check: a listening port is online, a closed one or FEDPRIV_OFFLINE=1 is not, and proxies count."""

from __future__ import annotations

import socket

from fedpriv.utils.network import online


def test_online_follows_what_can_be_reached(monkeypatch):
    for name in ("https_proxy", "HTTPS_PROXY", "FEDPRIV_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        online.cache_clear()
        try:
            assert online("127.0.0.1", port, timeout=1)
            assert not online("127.0.0.1", 9, timeout=1)  # nothing listens on the discard port
            monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{port}")
            online.cache_clear()
            assert online("download.invalid", timeout=1)  # reached through the proxy, as urllib would
            monkeypatch.setenv("FEDPRIV_OFFLINE", "1")
            online.cache_clear()
            assert not online("127.0.0.1", port, timeout=1)
        finally:
            online.cache_clear()
