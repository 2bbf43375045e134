"""A UDP transport and a storage written in Python, for the tests."""

from __future__ import annotations

import select
import socket

import lwm2mc


class UdpTransport:
    """lwm2mc.Transport over one Python UDP socket."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.peers: dict[int, tuple[str, int]] = {}
        self.next = 1
        self.opened: list[lwm2mc.ServerInfo] = []
        self.closed: list[int] = []
        self.sent = 0

    def open(self, info: lwm2mc.ServerInfo) -> int:
        handle, self.next = self.next, self.next + 1
        self.peers[handle] = (socket.gethostbyname(info.host), info.port)
        self.opened.append(info)
        return handle

    def send(self, peer: int, data: bytes) -> None:
        self.sent += 1
        self.sock.sendto(data, self.peers[peer])

    def close(self, peer: int) -> None:
        self.peers.pop(peer, None)
        self.closed.append(peer)

    def receive(self, timeout: float):
        out = []
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        while ready:
            data, addr = self.sock.recvfrom(65536)
            handle = next((h for h, a in self.peers.items() if a == addr), None)
            if handle is not None:
                out.append((handle, data))
            ready, _, _ = select.select([self.sock], [], [], 0)
        return out


class DictStorage:
    """lwm2mc.Storage in a dict."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.stores = 0

    def load(self, key: str):
        return self.data.get(key)

    def store(self, key: str, data: bytes) -> None:
        self.stores += 1
        self.data[key] = bytes(data)

    def erase(self, key: str) -> None:
        self.data.pop(key, None)
