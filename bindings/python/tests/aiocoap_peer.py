"""Pieces the aiocoap-based tests share: a one-resource aiocoap site that hands every request
to a coroutine, TLV building for Bootstrap-Writes (Core 1.1 §7.4.3), and a device polled on its
own thread (ctypes releases the GIL during library calls) while the servers run on asyncio."""

from __future__ import annotations

import asyncio
import struct
import threading
import time

import aiocoap.resource

import lwm2mc

T = 5.0  # seconds: the bound of every single wait


class Site(aiocoap.resource.Resource):
    """Every request goes to `handle` (a coroutine returning the answer)."""

    def __init__(self, handle):
        super().__init__()
        self.handle = handle

    async def render(self, request):
        return await self.handle(request)


def tlv(kind: int, ident: int, value: bytes) -> bytes:
    """One TLV entry (Core 1.1 §7.4.3): 8-bit id, length in the type byte or an 8/16-bit field."""
    if len(value) < 8:
        return bytes([kind | len(value), ident]) + value
    if len(value) < 256:
        return bytes([kind | 0x08, ident, len(value)]) + value
    return bytes([kind | 0x10, ident]) + struct.pack(">H", len(value)) + value


def res(ident: int, value) -> bytes:
    """A resource TLV: Boolean, the shortest Integer, String, or Opaque bytes."""
    if isinstance(value, bool):
        return tlv(0xC0, ident, b"\x01" if value else b"\x00")
    if isinstance(value, int):
        for fmt in (">b", ">h", ">i", ">q"):
            try:
                return tlv(0xC0, ident, struct.pack(fmt, value))
            except struct.error:
                continue
    if isinstance(value, str):
        return tlv(0xC0, ident, value.encode())
    return tlv(0xC0, ident, bytes(value))


class Polled:
    """A client polled on its own thread; `events` collects (time, event) as reported.
    `unanswered_deregister` is set when the stop's De-register went unanswered (a server that
    went away, or a device that never registered)."""

    def __init__(self, client: lwm2mc.Client, stop_timeout: float = T) -> None:
        self.client, self.events, self.stop = client, [], threading.Event()
        self.stop_timeout, self.unanswered_deregister = stop_timeout, False
        self.thread = threading.Thread(target=self._run, name="device")
        self.client.start()
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                for e in self.client.poll(0.02):
                    self.events.append((time.monotonic(), e))
        finally:
            try:
                self.events.extend((time.monotonic(), e) for e in self.client.stop(self.stop_timeout))
            except TimeoutError:
                self.unanswered_deregister = True

    async def close(self) -> None:
        self.stop.set()
        await asyncio.get_running_loop().run_in_executor(None, self.thread.join, 3 * T)
        assert not self.thread.is_alive(), "the device thread did not stop"
        self.client.close()

    def kinds(self, kind: str) -> list:
        """The events of `kind`, in order."""
        return [e for _, e in self.events if e.kind == kind]

    def times(self, kind: str) -> list:
        """When each event of `kind` was reported (time.monotonic())."""
        return [at for at, e in self.events if e.kind == kind]

    def summary(self) -> str:
        return ", ".join(f"{e.kind}{'(' + e.message + ')' if e.message else ''}" for _, e in self.events)
