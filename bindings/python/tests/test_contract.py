"""The Python API's promises that need no server."""

import ctypes
import gc
import threading
import time
import weakref

import pytest

import lwm2mc
from helpers import UdpTransport


def test_versions():
    assert lwm2mc.__version__ == "0.1.0"
    assert lwm2mc.library_version() == "0.1.0"


def test_values_by_path_follow_the_resource_types():
    with lwm2mc.Client("py-values", bootstrap="coap://127.0.0.1:9") as c:
        c.set("/3/0/9", 87)              # Integer
        c.set("/3/0/13", 1_700_000_000)  # Time: an int fits
        c.set("/3/0/14", "+01:00")       # String
        assert (c.get("/3/0/9"), c.get("/3/0/13"), c.get("/3/0/14")) == (87, 1_700_000_000, "+01:00")
        assert c.get("/3/0/0") == "lwm2mc project"
        with pytest.raises(lwm2mc.Lwm2mcError) as e:
            c.set("/3/0/99", 1)
        assert e.value.result == lwm2mc.NOT_FOUND and "not found" in str(e.value)
        with pytest.raises(lwm2mc.Lwm2mcError) as e:
            c.set("/3/0/0", 3.5)
        assert e.value.result == lwm2mc.INVALID_ARGUMENT
        with pytest.raises(lwm2mc.Lwm2mcError):
            c.get("/3/x")
        with pytest.raises(TypeError):
            c.set("/3/0/9", object())


def test_bad_configuration_raises_with_the_library_message():
    with pytest.raises(lwm2mc.Lwm2mcError) as e:
        lwm2mc.Client("py-bad", bootstrap="http://nope")
    assert e.value.result == lwm2mc.INVALID_ARGUMENT
    assert "invalid argument" in str(e.value)
    with pytest.raises(ValueError):
        lwm2mc.Client("py-bad", version="2.0")
    with pytest.raises(ValueError):
        lwm2mc.Client("py-bad", bootstrap="coap://127.0.0.1:9", root_ct="110 112")
    with pytest.raises(ValueError):
        lwm2mc.Client("py-bad", bootstrap="coap://127.0.0.1:9", limits={"max_bananas": 3})
    with pytest.raises(lwm2mc.Lwm2mcError) as e:
        lwm2mc.Client("py-bad", bootstrap="coap://127.0.0.1:9", limits={"max_instances": 0})
    assert e.value.result == lwm2mc.INVALID_ARGUMENT
    lwm2mc.Client("py-ok", bootstrap="coap://127.0.0.1:9", limits={"max_queued_events": 8}).close()


def test_close_twice_is_harmless_and_a_closed_client_raises():
    c = lwm2mc.Client("py-close", bootstrap="coap://127.0.0.1:9")
    c.close()
    c.close()
    assert c.closed
    for call in (c.start, lambda: c.poll(0), lambda: c.get("/3/0/0"), lambda: c.set("/3/0/9", 1), c.is_stopped):
        with pytest.raises(lwm2mc.ClientClosed):
            call()


def test_exception_in_a_storage_callback_is_reraised():
    class Burning:
        def load(self, key):
            raise RuntimeError("disk on fire")

        def store(self, key, data):
            pass

        def erase(self, key):
            pass

    with pytest.raises(RuntimeError, match="disk on fire"):
        lwm2mc.Client("py-burn", bootstrap="coap://127.0.0.1:9", storage=Burning())


def test_exception_in_a_transport_callback_is_reraised():
    class Unplugged(UdpTransport):
        def send(self, peer, data):
            raise OSError("cable cut")

    c = lwm2mc.Client("py-unplugged", bootstrap="coap://127.0.0.1:9", transport=Unplugged())
    with pytest.raises(OSError, match="cable cut"):
        c.start()
    assert c.send_failures == 1  # one lost datagram; the client goes on
    c.poll(0)
    c.close()


def test_dropping_every_reference_does_not_crash():
    # Callbacks may still run while the client is freed (the transport's close); they must
    # find their Python objects alive, and nothing may be left behind.
    t = UdpTransport()
    c = lwm2mc.Client("py-drop", bootstrap="coap://127.0.0.1:9", transport=t)
    c.start()
    c.poll(0)
    probe = weakref.ref(c)
    del c
    gc.collect()
    assert probe() is None
    assert t.closed, "the transport's close callback ran during the free"
    # And a client dropped without close, inside a reference cycle.
    class Cycle(UdpTransport):
        pass

    t2 = Cycle()
    c2 = lwm2mc.Client("py-cycle", bootstrap="coap://127.0.0.1:9", transport=t2)
    t2.owner = c2
    c2.start()
    del c2, t2
    gc.collect()
    assert not lwm2mc._registry, "every client's hooks were released"


def test_close_from_inside_a_callback_takes_effect_when_the_call_returns():
    class ClosingTransport(UdpTransport):
        """Closes its client from inside the first send (the Bootstrap-Request)."""

        client = None
        seen = None

        def send(self, peer, data):
            super().send(peer, data)
            if self.seen is None:
                self.client.close()
                # Deferred: the peer is not closed under the running call, the client counts
                # as closed, and calling it from here is refused.
                self.seen = (list(self.closed), self.client.closed)
                try:
                    self.client.get("/3/0/0")
                except lwm2mc.ClientClosed:
                    self.seen += ("refused",)

    t = ClosingTransport()
    c = lwm2mc.Client("py-close-inside", bootstrap="coap://127.0.0.1:9", transport=t)
    t.client = c
    c.start()  # the call that ran the callback returns normally
    assert t.seen == ([], True, "refused")
    assert t.closed == [1], "the free after the call closed the open peer"
    assert c.closed
    with pytest.raises(lwm2mc.ClientClosed):
        c.poll(0)
    c.close()


def test_close_from_another_thread_waits_for_the_running_poll():
    c = lwm2mc.Client("py-close-thread", bootstrap="coap://127.0.0.1:9")
    c.start()
    polled = threading.Event()
    outcome = []

    def poll():
        polled.set()
        try:
            outcome.append(c.poll(0.3))
        except BaseException as e:  # noqa: BLE001 - reported below
            outcome.append(e)

    worker = threading.Thread(target=poll)
    worker.start()
    polled.wait(5)
    time.sleep(0.05)
    c.close()  # waits for the poll, then frees
    worker.join(5)
    assert len(outcome) == 1 and isinstance(outcome[0], list), outcome
    assert c.closed


def test_a_short_server_id_used_twice_is_refused():
    with pytest.raises(lwm2mc.Lwm2mcError) as e:
        lwm2mc.Client("py-dup", servers=[(1, "coap://127.0.0.1:5683"), (1, "coap://127.0.0.1:5685")])
    assert e.value.result == lwm2mc.ALREADY_EXISTS and str(e.value) == "server 1: already exists"
    with pytest.raises(lwm2mc.Lwm2mcError) as e:
        lwm2mc.Client("py-dup", server="coap://127.0.0.1:5683", servers=[(1, "coap://127.0.0.1:5685", 60)])
    assert e.value.result == lwm2mc.ALREADY_EXISTS
    # Distinct IDs make distinct accounts.
    with lwm2mc.Client("py-two", servers=[(1, "coap://127.0.0.1:5683"), (2, "coap://127.0.0.1:5685", 60)]) as c:
        assert (c.get("/1/0/0"), c.get("/1/1/0"), c.get("/1/1/1")) == (1, 2, 60)
        with pytest.raises(lwm2mc.Lwm2mcError) as e:  # no third account
            c.get("/1/2/0")
        assert e.value.result == lwm2mc.NOT_FOUND
    with pytest.raises(ValueError):
        lwm2mc.Client("py-bad", servers=[("coap://127.0.0.1:5683",)])
    with pytest.raises(ValueError):
        lwm2mc.Client("py-bad", bootstrap="coap://127.0.0.1:9", storage=object(), state_dir="/tmp")


def test_config_refusals_through_the_ctypes_layer():
    # What the Python API cannot express (a second Bootstrap-Server account, a NULL storage),
    # through the declared C functions it uses.
    lib = lwm2mc._lib
    cfg = ctypes.c_void_p()
    assert lib.lwm2mc_config_new(b"py-ctypes", ctypes.byref(cfg)) == lwm2mc.OK
    try:
        assert lib.lwm2mc_config_add_bootstrap_server(cfg, b"coap://127.0.0.1:5783", 0) == lwm2mc.OK
        assert lib.lwm2mc_config_add_bootstrap_server(cfg, b"coap://127.0.0.1:5784", 0) == lwm2mc.ALREADY_EXISTS
        assert lib.lwm2mc_config_add_server(cfg, 7, b"coap://127.0.0.1:5683", 60) == lwm2mc.OK
        assert lib.lwm2mc_config_add_server(cfg, 7, b"coap://127.0.0.1:5685", 60) == lwm2mc.ALREADY_EXISTS
        assert lib.lwm2mc_config_use_file_storage(cfg, b"/nonexistent/py-ctypes") == lwm2mc.OK
        assert lib.lwm2mc_config_set_storage(cfg, None) == lwm2mc.OK  # NULL: no storage again
        client = ctypes.c_void_p()
        assert lib.lwm2mc_client_new(cfg, ctypes.byref(client)) == lwm2mc.OK
        v = lwm2mc._ffi.Value()
        assert lib.lwm2mc_client_get_value(client, b"/0/2/0", ctypes.byref(v)) == lwm2mc.NOT_FOUND
        assert lib.lwm2mc_client_get_value(client, b"/1/1/0", ctypes.byref(v)) == lwm2mc.NOT_FOUND
        lib.lwm2mc_client_free(client)
    finally:
        lib.lwm2mc_config_free(cfg)


def test_psk_credentials_go_to_the_factory_accounts():
    key = bytes(range(16))
    with lwm2mc.Client("py-psk", bootstrap="coaps://127.0.0.1:9", psk_identity="py-psk-id", psk_key=key) as c:
        # Security Mode 0 (PSK), /0/x/3 identity, /0/x/5 key on the Bootstrap-Server account.
        assert (c.get("/0/0/1"), c.get("/0/0/2"), c.get("/0/0/3"), c.get("/0/0/5")) == (True, 0, b"py-psk-id", key)
    with lwm2mc.Client("py-psk", server="coaps://127.0.0.1:9", short_server_id=5, psk_identity=b"\x01\x02",
                       psk_key=key) as c:
        assert (c.get("/0/0/10"), c.get("/0/0/2"), c.get("/0/0/3")) == (5, 0, b"\x01\x02")
    with pytest.raises(ValueError):
        lwm2mc.Client("py-psk", bootstrap="coaps://127.0.0.1:9", psk_identity="id")
    with pytest.raises(ValueError):
        lwm2mc.Client("py-psk", servers=[(1, "coaps://127.0.0.1:9")], psk_identity="id", psk_key=key)
    with pytest.raises(lwm2mc.Lwm2mcError) as e:
        lwm2mc.Client("py-psk", bootstrap="coaps://127.0.0.1:9", psk_identity="id", psk_key=b"")
    assert e.value.result == lwm2mc.INVALID_ARGUMENT
    lib = lwm2mc._lib
    cfg = ctypes.c_void_p()
    assert lib.lwm2mc_config_set_psk(None, 0, b"id", 2, key, 16) == lwm2mc.NULL_PARAMETER
    assert lib.lwm2mc_config_new(b"py-psk", ctypes.byref(cfg)) == lwm2mc.OK
    try:
        # No such account yet; then the Bootstrap-Server account (0) and server 3 exist.
        assert lib.lwm2mc_config_set_psk(cfg, 0, b"id", 2, key, 16) == lwm2mc.NOT_FOUND
        assert lib.lwm2mc_config_add_bootstrap_server(cfg, b"coaps://127.0.0.1:5784", 0) == lwm2mc.OK
        assert lib.lwm2mc_config_add_server(cfg, 3, b"coaps://127.0.0.1:5684", 60) == lwm2mc.OK
        assert lib.lwm2mc_config_set_psk(cfg, 4, b"id", 2, key, 16) == lwm2mc.NOT_FOUND
        assert lib.lwm2mc_config_set_psk(cfg, 0xFFFF, b"id", 2, key, 16) == lwm2mc.INVALID_ARGUMENT
        assert lib.lwm2mc_config_set_psk(cfg, 3, b"", 0, key, 16) == lwm2mc.INVALID_ARGUMENT
        assert lib.lwm2mc_config_set_psk(cfg, 3, None, 2, key, 16) == lwm2mc.NULL_PARAMETER
        assert lib.lwm2mc_config_set_psk(cfg, 3, b"id", 2, key, 16) == lwm2mc.OK
        assert lib.lwm2mc_config_set_psk(cfg, 0, b"bs", 2, key, 16) == lwm2mc.OK
    finally:
        lib.lwm2mc_config_free(cfg)


def test_the_log_hook_never_sees_a_security_key():
    # A Bootstrap-Server played by a plain socket writes a PSK account; the device logs every
    # datagram at DEBUG (3), with the key resources redacted.
    import socket
    import struct

    def res(ident: int, value: bytes) -> bytes:
        return (bytes([0xC0 | len(value), ident]) if len(value) < 8
                else bytes([0xC8, ident, len(value)])) + value

    key, identity = b"py-s3cr3t-key-16", b"py-psk-identity"
    account = (res(0, b"coaps://127.0.0.1:5684") + res(1, b"\x00") + res(2, b"\x00") + res(3, identity)
               + res(4, b"") + res(5, key) + res(10, b"\x01"))
    instance = bytes([0x08, 1, len(account)]) + account
    bs = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bs.bind(("127.0.0.1", 0))
    bs.settimeout(0.02)
    lines = []
    with lwm2mc.Client("py-secret", bootstrap=f"coap://127.0.0.1:{bs.getsockname()[1]}",
                       log=lambda level, line: lines.append((level, line))) as c:

        def exchange() -> tuple:
            for _ in range(200):
                c.poll(0.01)
                try:
                    return bs.recvfrom(2048)
                except socket.timeout:
                    continue
            raise AssertionError(f"the device sent nothing; log: {lines}")

        c.start()
        request, device = exchange()  # CON POST /bs?ep=py-secret
        assert request[1] == 0x02
        tkl = request[0] & 0x0F
        bs.sendto(bytes([0x60 | tkl, 0x44]) + request[2:4 + tkl], device)  # ACK 2.04
        put = (bytes([0x40, 0x03]) + struct.pack(">H", 0x0101) + b"\xb1" + b"0" + b"\x01" + b"1"
               + b"\x12" + struct.pack(">H", 11542) + b"\xff" + instance)
        bs.sendto(put, device)
        answer, _ = exchange()
        assert answer[1] == 0x44 and answer[2:4] == b"\x01\x01"  # 2.04 to our Bootstrap-Write
    bs.close()
    written = [line for level, line in lines if level == 3 and "PUT /0/1" in line]
    assert len(written) == 1, lines
    assert "R3=<redacted 15 B>" in written[0] and "R5=<redacted 16 B>" in written[0], written[0]
    assert not any(key.decode() in line or identity.decode() in line for _, line in lines), lines


def test_enums_and_one_exception_class_per_result_code():
    assert lwm2mc.Type.FLOAT == 4 and isinstance(lwm2mc.Type.FLOAT, int)
    assert lwm2mc.Result.BUSY == lwm2mc.BUSY == 13
    # Every event kind the library names has its IntEnum member of the same name.
    for kind in lwm2mc.EventKind:
        assert lwm2mc._lib.lwm2mc_event_kind_str(kind).decode() == kind.name.lower()
    assert lwm2mc._lib.lwm2mc_event_kind_str(len(lwm2mc.EventKind)).decode() == "unknown"
    with pytest.raises(lwm2mc.InvalidArgumentError) as e:
        lwm2mc.Client("py-bad", bootstrap="http://nope")
    assert isinstance(e.value, lwm2mc.Lwm2mcError)
    assert e.value.result is lwm2mc.Result.INVALID_ARGUMENT
    assert lwm2mc.error_class(lwm2mc.BUSY) is lwm2mc.BusyError
    assert lwm2mc.error_class(999) is lwm2mc.Lwm2mcError


def test_set_follows_the_resource_type_the_definition_gives():
    with lwm2mc.Client("py-types", bootstrap="coap://127.0.0.1:9") as c:
        assert c.resource_type("/3/0/13") is lwm2mc.Type.TIME
        assert c.resource_type("/3/0/9") is lwm2mc.Type.INTEGER
        with pytest.raises(lwm2mc.NotFoundError):
            c.resource_type("/3/0/99")
        c.set("/3/0/13", 1_800_000_000)  # Time, not guessed as Integer
        assert c.get("/3/0/13") == 1_800_000_000
        c.set("/3/0/9", 87)
        assert c.get("/3/0/9") == 87
