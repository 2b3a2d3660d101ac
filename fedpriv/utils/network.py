"""Whether this machine can reach the internet, asked once per process.

Cluster compute nodes and laptops on a plane often have no route out; a failed connection there can take seconds
(or a DNS timeout), so every trial of a sweep should not find that out again for itself.
"""

from __future__ import annotations

import functools
import os
import socket
import urllib.parse
import urllib.request

OFFLINE_ENV = "FEDPRIV_OFFLINE"  # set to 1 to skip the check and every download


@functools.cache
def online(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """True when a TCP connection to ``host:port`` (or to the HTTPS proxy that downloads go through, as urllib
    would use it) opens within ``timeout`` seconds; cached per host."""
    if os.environ.get(OFFLINE_ENV, "").lower() in ("1", "true", "yes"):
        return False
    proxy = urllib.request.getproxies().get("https")
    if proxy and not urllib.request.proxy_bypass(host):
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = parsed.hostname or host, parsed.port or 80
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
