"""Several LwM2M Servers and queue mode over UDP (issue 13), against aiocoap (an independent
CoAP stack) as two LwM2M Servers at once: each gets its own registration and reads and
writes the device; one going away leaves the other registered; in queue mode the device
announces `Q`, says when it may sleep, and a notification due while asleep follows an Update.

The device polls on its own thread; the servers run on asyncio. Every wait is bounded."""

import asyncio
import time

import aiocoap
from aiocoap import DELETE, GET, POST, PUT, Message

import lwm2mc
from aiocoap_peer import Polled, Site, res, tlv

T = 5.0
TEXT = 0


class Server:
    """One aiocoap LwM2M Server: takes Register, Update and De-register; remembers them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.registers: list[Message] = []
        self.updates: list[float] = []
        self.sends: list[float] = []
        self.deregistered = False
        self.woken = asyncio.Event()
        self.ctx = None

    async def start(self) -> "Server":
        self.ctx = await aiocoap.Context.create_server_context(
            Site(self.serve), bind=("127.0.0.1", 0), transports=["udp6"])
        sock = self.ctx.request_interfaces[0].token_interface.message_interface.transport.get_extra_info("socket")
        self.port = sock.getsockname()[1]
        return self

    @property
    def uri(self) -> str:
        return f"coap://127.0.0.1:{self.port}"

    async def serve(self, request):
        path = tuple(request.opt.uri_path)
        try:
            if request.code == POST and path == ("rd",):
                self.registers.append(request)
                return Message(code=aiocoap.CREATED, location_path=("rd", self.name))
            if path == ("rd", self.name):
                if request.code == DELETE:
                    self.deregistered = True
                    return Message(code=aiocoap.DELETED)
                self.updates.append(time.monotonic())
                return Message(code=aiocoap.CHANGED)
            if request.code == POST and path == ("dp",):
                self.sends.append(time.monotonic())
                return Message(code=aiocoap.CHANGED)
            return Message(code=aiocoap.NOT_FOUND)
        finally:
            self.woken.set()

    async def until(self, what: str, predicate, timeout: float = T):
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.name}: timed out waiting for {what}")
            self.woken.clear()
            try:
                await asyncio.wait_for(self.woken.wait(), min(left, 0.2))
            except asyncio.TimeoutError:
                pass

    def base(self) -> str:
        host, port = self.registers[-1].remote.sockaddr[:2]
        return f"coap://{host.replace('::ffff:', '')}:{port}"

    async def request(self, code, path: str, **options) -> Message:
        msg = Message(code=code, uri=self.base() + path, **options)
        return await asyncio.wait_for(self.ctx.request(msg).response, T)


def test_two_aiocoap_servers_each_register_read_and_write_and_one_leaving_spares_the_other():
    async def scenario():
        one, two = await Server("one").start(), await Server("two").start()
        client = lwm2mc.Client("py-two-servers", servers=[(1, one.uri, 60), (2, two.uri, 60)])
        device = Polled(client, stop_timeout=1.0)
        try:
            await one.until("Register", lambda: one.registers)
            await two.until("Register", lambda: two.registers)
            for server, zone in ((one, b"Europe/Paris"), (two, b"Asia/Tokyo")):
                r = await server.request(PUT, "/3/0/15", payload=zone, content_format=TEXT)
                assert str(r.code) == "2.04 Changed", server.name
                r = await server.request(GET, "/3/0/15")
                assert r.payload == zone, server.name
            # Each registration is its own: an Update trigger to one reaches only that one.
            r = await one.request(POST, "/1/0/8")
            assert str(r.code) == "2.04 Changed"
            await one.until("Update", lambda: one.updates)
            assert not two.updates
            # Server two goes away: its Updates would fail, server one's registration stays.
            await two.ctx.shutdown()
            r = await one.request(GET, "/3/0/0")
            assert str(r.code) == "2.05 Content"
            assert device.client.registration_state(1) == "registered"
            assert device.client.registration_state(2) in ("registered", "updating")
            try:
                device.client.registration_state(9)
                raise AssertionError("a server that does not exist has a state")
            except lwm2mc.Lwm2mcError as e:
                assert e.result == lwm2mc.Result.NOT_FOUND
        finally:
            await device.close()
            await one.ctx.shutdown()
        # Server one heard its De-register; server two, gone, could not answer its own.
        assert one.deregistered and device.unanswered_deregister

    asyncio.run(scenario())


def test_queue_mode_over_udp_sleeps_after_max_transmit_wait_and_wakes_with_an_update():
    # ACK_TIMEOUT 20 ms: MAX_TRANSMIT_WAIT is 20 * 31 * 1.5 = 930 ms.
    mtw = 0.93

    async def scenario():
        server = await Server("q").start()
        client = lwm2mc.Client("py-queue", server=server.uri, lifetime=3600, ack_timeout_ms=20, queue_mode=True)
        device = Polled(client)
        try:
            await server.until("Register", lambda: server.registers)
            assert "Q" in server.registers[0].opt.uri_query, server.registers[0].opt.uri_query
            # Sleeping about MAX_TRANSMIT_WAIT after the 2.01.
            registered_at = time.monotonic()
            await server.until("sleeping", lambda: device.kinds("sleeping"), timeout=3 * mtw + T)
            slept = device.times("sleeping")[0] - registered_at
            assert mtw - 0.1 <= slept <= mtw + 0.5, slept
            # A Send while asleep: the Update wakes the client first, then the Send.
            device.client.send(["/3/0/0"])
            await server.until("Update", lambda: server.updates)
            await server.until("awake", lambda: device.kinds("awake"))
            await server.until("send_completed", lambda: device.kinds("send_completed"), timeout=T)
            assert server.updates[0] <= server.sends[0], "the Update came first"
        finally:
            await device.close()
            await server.ctx.shutdown()

    asyncio.run(scenario())


def test_an_aiocoap_bootstrap_server_writes_acls_and_the_second_server_is_refused_a_write():
    """Access Control (Core 1.1 §7.3) against independent peers: an aiocoap Bootstrap-Server
    provisions two aiocoap LwM2M Servers and an ACL for /3/0 (server 1 read and write, server
    2 read only, owner 1); server 2's Write is refused 4.01 and changes nothing."""
    async def scenario():
        one, two = await Server("one").start(), await Server("two").start()
        answers = []

        async def provision(remote):
            host, port = remote.sockaddr[0].replace("::ffff:", ""), remote.sockaddr[1]
            base = f"coap://{host}:{port}"
            writes = [(DELETE, "", b"")]
            for iid, (ssid, server) in enumerate(((1, one), (2, two))):
                sec = (res(0, server.uri) + res(1, False) + res(2, 3) + res(3, b"") + res(4, b"")
                       + res(5, b"") + res(10, ssid))
                writes.append((PUT, f"0/{iid}", tlv(0x00, iid, sec)))
                srv = res(0, ssid) + res(1, 60) + res(6, False) + res(7, "U")
                writes.append((PUT, f"1/{iid}", tlv(0x00, iid, srv)))
            # /2/0: object 3 instance 0; ACL 1 -> R|W (3), 2 -> R (1); owner 1.
            acl = tlv(0x80, 2, tlv(0x40, 1, bytes([3])) + tlv(0x40, 2, bytes([1])))
            writes.append((PUT, "2/0", tlv(0x00, 0, res(0, 3) + res(1, 0) + acl + res(3, 1))))
            writes.append((POST, "bs", b""))
            for code, path, payload in writes:
                m = Message(code=code, uri=f"{base}/{path}", payload=payload)
                if payload:
                    m.opt.content_format = 11542
                answers.append(str((await asyncio.wait_for(bs_ctx.request(m).response, T)).code))

        async def bs(request):
            if request.code == POST and tuple(request.opt.uri_path) == ("bs",):
                asyncio.get_running_loop().create_task(provision(request.remote))
                return Message(code=aiocoap.CHANGED)
            return Message(code=aiocoap.NOT_FOUND)

        bs_ctx = await aiocoap.Context.create_server_context(Site(bs), bind=("127.0.0.1", 0), transports=["udp6"])
        bs_port = bs_ctx.request_interfaces[0].token_interface.message_interface.transport.get_extra_info(
            "socket").getsockname()[1]
        device = Polled(lwm2mc.Client("py-acl", bootstrap=f"coap://127.0.0.1:{bs_port}"))
        try:
            await one.until("Register", lambda: one.registers, timeout=3 * T)
            await two.until("Register", lambda: two.registers, timeout=3 * T)
            assert answers == ["2.02 Deleted"] + ["2.04 Changed"] * 6, answers
            r = await one.request(PUT, "/3/0/15", payload=b"Europe/Paris", content_format=TEXT)
            assert str(r.code) == "2.04 Changed"
            r = await two.request(PUT, "/3/0/15", payload=b"Asia/Tokyo", content_format=TEXT)
            assert str(r.code) == "4.01 Unauthorized"
            # Server 2 may read, and reads what server 1 wrote: its refused Write changed nothing.
            r = await two.request(GET, "/3/0/15")
            assert (str(r.code), r.payload) == ("2.05 Content", b"Europe/Paris")
        finally:
            await device.close()
            await one.ctx.shutdown()
            await two.ctx.shutdown()
            await bs_ctx.shutdown()

    asyncio.run(scenario())
