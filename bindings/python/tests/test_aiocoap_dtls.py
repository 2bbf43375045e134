"""A full LwM2M cycle over DTLS 1.2 PSK (`coaps://`) against a stack nobody here wrote: aiocoap
with its tinydtls server transport (`tinydtls_server`, DTLSSocket from PyPI, which bundles
Eclipse tinydtls) as Bootstrap-Server and then as LwM2M Server.

The Python device starts with a PSK Bootstrap-Server account only. The Bootstrap-Server,
reached over DTLS with that PSK, writes a `coaps://` server account with another identity and
key (Security Mode 0), and finishes; the device registers over DTLS with the written keys, and
the server Reads, Writes, Executes and Discovers, then the device de-registers. Each server
checks which PSK identity authenticated the session (aiocoap's authenticated claims), so a
Register over any other session would fail the test.

aiocoap's DTLS server cannot open a session itself (tinydtls_server.connect raises): every
request to the device goes over the session the device opened, addressed by `request.remote`.
aiocoap 0.4.17 does not route a request to such a remote (its `recognize_remote` knows only
plain simplesocketserver addresses, so a server-initiated request over DTLS fails with
NoRequestInterface); `dtls_remotes_routed` teaches it to, for the test's duration. Nothing else
of aiocoap or tinydtls is changed.

The device polls on its own thread; the servers run on asyncio. Every wait is bounded."""

import asyncio
import time

import aiocoap
from aiocoap import DELETE, GET, POST, PUT, Message
from aiocoap.credentials import CredentialsMap
from aiocoap.transports import tinydtls_server
import pytest

import lwm2mc
from aiocoap_peer import Polled, Site, res, tlv

T = 10.0
TLV = 11542
TEXT = 0
LINK = 40

# tinydtls takes keys of at most 16 bytes (DTLS_PSK_MAX_KEY_LEN) and identities of at most 32
# (DTLS_PSK_MAX_CLIENT_IDENTITY_LEN); a longer key fails its handshake with internal_error.
BS_IDENTITY, BS_KEY = b"py-dtls-bs", bytes.fromhex("000102030405060708090a0b0c0d0e0f")
DM_IDENTITY, DM_KEY = b"py-dtls-dm", bytes.fromhex("f0e1d2c3b4a5968778695a4b3c2d1e0f")


@pytest.fixture
def dtls_remotes_routed(monkeypatch):
    """Lets aiocoap's DTLS server send requests over a session a client opened: the remote of
    a request it received belongs to it (the session's address object points to its socket)."""

    async def recognize_remote(self, remote):
        return isinstance(remote, tinydtls_server._AddressDTLS) and remote._protocol is self._pool

    monkeypatch.setattr(tinydtls_server.MessageInterfaceTinyDTLSServer, "recognize_remote", recognize_remote)


async def dtls_context(handle, name: str, identity: bytes, key: bytes):
    """An aiocoap server context on 127.0.0.1 speaking only DTLS (tinydtls), knowing one PSK.
    Returns it and its port."""
    creds = CredentialsMap()
    creds.load_from_dict({name: {"dtls": {"psk": {"hex": key.hex()}, "client-identity": {"hex": identity.hex()}}}})
    # aiocoap 0.4.17 adds (COAPS_PORT - COAP_PORT) = 1 to the port of a tinydtls_server bind
    # (simplesocketserver.create_server), so -1 is what binds an ephemeral port.
    ctx = await aiocoap.Context.create_server_context(
        Site(handle), bind=("127.0.0.1", -1), transports=["tinydtls_server"], server_credentials=creds)
    sock = ctx.request_interfaces[0].token_interface.message_interface._pool._transport.get_extra_info("socket")
    return ctx, sock.getsockname()[1]


def claims(request) -> list:
    """Which credential entry authenticated the DTLS session a request came on."""
    return list(request.remote.authenticated_claims)


async def ask(ctx, remote, code, path: str, payload: bytes = b"", content_format=None, **options) -> Message:
    """A request to the device over the session it opened (`remote`)."""
    m = Message(code=code, uri_path=[p for p in path.split("/") if p], payload=payload, **options)
    if content_format is not None:
        m.opt.content_format = content_format
    m.remote = remote
    return await asyncio.wait_for(ctx.request(m).response, T)


async def until(what: str, predicate, device: Polled, timeout: float = T) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; device events: {device.summary()}")
        await asyncio.sleep(0.02)


class Servers:
    """The aiocoap Bootstrap-Server and LwM2M Server, each on its own DTLS port with its own
    PSK. The Bootstrap-Server writes an account on the LwM2M Server with `written_identity`."""

    def __init__(self, written_identity: bytes = DM_IDENTITY) -> None:
        self.written_identity = written_identity
        self.log: list = []  # (server, code, path, claims) of each request the servers got
        self.registers: list = []
        self.deregistered = False
        self.bs_answers: list = []

    async def start(self) -> "Servers":
        self.dm_ctx, self.dm_port = await dtls_context(self.dm, "dm-psk", DM_IDENTITY, DM_KEY)
        self.bs_ctx, self.bs_port = await dtls_context(self.bs, "bs-psk", BS_IDENTITY, BS_KEY)
        return self

    async def shutdown(self) -> None:
        await self.dm_ctx.shutdown()
        await self.bs_ctx.shutdown()

    async def dm(self, request):
        path = tuple(request.opt.uri_path)
        self.log.append(("dm", str(request.code), path, claims(request)))
        if request.code == POST and path == ("rd",):
            self.registers.append(request)
            return Message(code=aiocoap.CREATED, location_path=("rd", "d1"))
        if path == ("rd", "d1"):
            if request.code == DELETE:
                self.deregistered = True
                return Message(code=aiocoap.DELETED)
            return Message(code=aiocoap.CHANGED)
        return Message(code=aiocoap.NOT_FOUND)

    async def bs(self, request):
        path = tuple(request.opt.uri_path)
        self.log.append(("bs", str(request.code), path, claims(request)))
        if request.code == POST and path == ("bs",):
            asyncio.get_running_loop().create_task(self.provision(request.remote))
            return Message(code=aiocoap.CHANGED)
        return Message(code=aiocoap.NOT_FOUND)

    async def provision(self, remote) -> None:
        # The server account: Security Mode 0 (PSK) on a coaps:// URI with the identity
        # (/0/x/3) and key (/0/x/5) for the LwM2M Server (Core 1.1 §E.1; Transport 1.1 §5.2).
        sec = tlv(0x00, 1, res(0, f"coaps://127.0.0.1:{self.dm_port}") + res(1, False) + res(2, 0)
                  + res(3, self.written_identity) + res(4, b"") + res(5, DM_KEY) + res(10, 77))
        srv = tlv(0x00, 0, res(0, 77) + res(1, 60) + res(6, False) + res(7, "U"))
        for code, path, payload in ((DELETE, "/", b""), (PUT, "/0/1", sec), (PUT, "/1/0", srv), (POST, "/bs", b"")):
            r = await ask(self.bs_ctx, remote, code, path, payload, TLV if payload else None)
            self.bs_answers.append(str(r.code))

    def device(self, stop_timeout: float = T) -> Polled:
        """The Python device, with a PSK Bootstrap-Server account only."""
        return Polled(lwm2mc.Client("py-dtls", bootstrap=f"coaps://127.0.0.1:{self.bs_port}", pct=TLV,
                                    psk_identity=BS_IDENTITY, psk_key=BS_KEY), stop_timeout)

    def claims_of(self, server: str) -> set:
        return {tuple(c) for s, _, _, c in self.log if s == server}


def test_bootstrap_register_and_dm_over_dtls_psk_with_aiocoap_and_tinydtls(dtls_remotes_routed):
    async def scenario():
        servers = await Servers().start()
        started = time.monotonic()
        device = servers.device()
        try:
            await until("Register", lambda: servers.registers, device)
            registered_after = time.monotonic() - started
            await until("the registered event", lambda: device.kinds("registered"), device)
            reg = servers.registers[0]
            query = dict(q.split("=", 1) for q in reg.opt.uri_query if "=" in q)
            assert query["ep"] == "py-dtls" and query["lt"] == "60", query
            assert "</3/0>" in bytes(reg.payload).decode()

            # Read, Write, Execute, Discover over the session the device registered on.
            dm, remote = servers.dm_ctx, reg.remote
            r = await ask(dm, remote, GET, "/3/0/0", accept=TEXT)
            assert (str(r.code), r.payload) == ("2.05 Content", b"lwm2mc project"), r
            r = await ask(dm, remote, PUT, "/3/0/15", b"Europe/Berlin", TEXT)
            assert str(r.code) == "2.04 Changed", r
            r = await ask(dm, remote, GET, "/3/0/15", accept=TEXT)
            assert r.payload == b"Europe/Berlin", r
            r = await ask(dm, remote, POST, "/3/0/4")
            assert str(r.code) == "2.04 Changed", r
            await until("the executed event", lambda: device.kinds("executed"), device)
            r = await ask(dm, remote, GET, "/3/0", accept=LINK)
            assert str(r.code) == "2.05 Content" and b"</3/0/15>" in r.payload, r
            # The keys the Bootstrap-Server wrote are not for a server to read: no LwM2M Server
            # has access to the Security object (Core 1.1 §E.1).
            r = await ask(dm, remote, GET, "/0/1/5", accept=TEXT)
            assert str(r.code) == "4.01 Unauthorized", r
        finally:
            await device.close()
            await servers.shutdown()
        return servers, device, registered_after

    servers, device, registered_after = asyncio.run(scenario())
    assert servers.bs_answers == ["2.02 Deleted", "2.04 Changed", "2.04 Changed", "2.04 Changed"], servers.bs_answers
    # Every request each server got came over a session its own PSK authenticated.
    assert servers.claims_of("bs") == {("bs-psk",)}, servers.log
    assert servers.claims_of("dm") == {("dm-psk",)}, servers.log
    assert ("dm", "DELETE", ("rd", "d1"), ["dm-psk"]) in servers.log and servers.deregistered, servers.log
    kinds = [e.kind for _, e in device.events]
    assert kinds.index("bootstrapped") < kinds.index("registered") < kinds.index("deregistered"), kinds
    # Two sessions, Bootstrap-Server then LwM2M Server, each on the suite tinydtls supports
    # for PSK, the one LwM2M mandates first (Transport 1.1 §5.2.7.1; RFC 6655).
    suites = [e.message for e in device.kinds("secure_session_established")]
    assert suites[:2] == ["TLS_PSK_WITH_AES_128_CCM_8"] * 2, suites
    assert not device.kinds("secure_session_failed"), device.summary()
    assert registered_after < T, registered_after
    print(f"aiocoap/tinydtls: {suites}; bootstrap to Register in {registered_after * 1000:.0f} ms")


def test_an_identity_the_server_does_not_know_is_refused_in_the_handshake(dtls_remotes_routed):
    async def scenario():
        servers = await Servers(written_identity=b"py-dtls-stranger").start()
        device = servers.device(stop_timeout=0.5)
        try:
            await until("bootstrapped", lambda: device.kinds("bootstrapped"), device)
            started = time.monotonic()
            await until("a failed handshake", lambda: device.kinds("secure_session_failed"), device)
            failed_after = time.monotonic() - started
        finally:
            await device.close()
            await servers.shutdown()
        return servers, device, failed_after

    servers, device, failed_after = asyncio.run(scenario())
    # tinydtls finds no key for the identity the Bootstrap-Server wrote (RFC 4279 §2: the
    # ClientKeyExchange names it) and refuses the handshake with an alert; nothing the device
    # sent reaches the LwM2M Server's CoAP layer.
    assert servers.claims_of("dm") == set() and not servers.registers, servers.log
    assert not device.kinds("registered"), device.summary()
    failure = device.kinds("secure_session_failed")[0].message
    assert "alert" in failure, failure
    print(f"unknown identity: {failure!r} after {failed_after * 1000:.0f} ms")
