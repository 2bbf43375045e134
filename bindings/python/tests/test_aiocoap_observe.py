"""Information Reporting against aiocoap (an independent CoAP stack) as the LwM2M Server and
RFC 7641 observer of a Python device: a second check of the RFC 7641 wire rules next to the
sans-I/O tests (tests/observe_sim.rs), from a stack whose Observe client we did not write.

The device polls on its own thread (ctypes releases the GIL during library calls); the server
runs on asyncio. Every request, the Observe included, goes out of the server context the device
registered with, so from the address and port the device knows as its server's (it answers no
one else). Every wait is bounded (T seconds) and the device is stopped and joined in every
outcome."""

import asyncio
import json
import threading
import time
import warnings

import aiocoap
import aiocoap.error
from aiocoap import CON, DELETE, EMPTY, GET, NON, POST, PUT, RST, Message

import lwm2mc
from aiocoap_peer import Site

T = 5.0  # seconds: the bound of every single wait
PATH = "/3303/0/5700"
TEXT, LINK_FORMAT, SENML_JSON = 0, 40, 110


class Temperature(lwm2mc.Object):
    """IPSO Temperature with its value held by Python: the library reads it, and learns of a
    change only from `client.changed` (the application's duty for objects it holds)."""

    object_id = 3303
    resources = [lwm2mc.Resource(5700, lwm2mc.Type.FLOAT, "R", mandatory=True)]

    def __init__(self, value: float) -> None:
        self.value = value  # set by the test's thread, read on the device's

    def read(self, instance, resource):
        if (instance, resource) != (0, 5700):
            raise lwm2mc.NotFound()
        return self.value


class Device:
    """A device with a factory server account (SSID 1) pointing at an aiocoap LwM2M Server,
    polled on its own thread; `async with` gives it registered and stops it on the way out.

    `wire_in` holds every message aiocoap's message layer receives (notifications included,
    even those aiocoap drops after a cancel) and `wire_out` every one it sends: tapped at the
    message manager, so the tests see CoAP types and Message IDs, not only what the request
    API passes on."""

    def __init__(self, endpoint: str, objects=(), firmware=None, block_size=None, state_dir=None) -> None:
        self.endpoint, self.objects, self.firmware = endpoint, list(objects), firmware
        self.block_size, self.state_dir = block_size, state_dir
        self.events: list[lwm2mc.Event] = []
        self.sends: list[tuple] = []  # (Content-Format, payload) of each POST /dp
        self.wire_in: list[Message] = []
        self.wire_out: list[Message] = []
        self.received: list[tuple] = []  # (code, payload length, Block2) of each, on arrival
        self.block1_in: list[tuple] = []  # (Uri-Path, Block1, Size1, payload length), on arrival
        self.files: dict[tuple, bytes] = {}  # served to GET by this server (firmware pull)
        self.lose = lambda message: False  # an incoming message it says yes to is dropped
        self.stop = threading.Event()
        self.ctx = self.client = self.thread = None

    # ---- the LwM2M Server side: Register, Update, De-register ----

    async def serve(self, request):
        path = tuple(request.opt.uri_path)
        if request.code == POST and path == ("rd",):
            if not self.registration.done():
                self.registration.set_result(request)
            return Message(code=aiocoap.CREATED, location_path=("rd", "x1"))
        if request.code == POST and path == ("dp",):  # LwM2M 1.1 Send
            self.sends.append((request.opt.content_format, request.payload))
            return Message(code=aiocoap.CHANGED)
        if path == ("rd", "x1"):
            return Message(code=aiocoap.DELETED if request.code == DELETE else aiocoap.CHANGED)
        if request.code == GET and path in self.files:
            # aiocoap cuts the answer into the Block2 block asked for (RFC 7959 §2.4) itself.
            return Message(code=aiocoap.CONTENT, payload=self.files[path])
        return Message(code=aiocoap.NOT_FOUND)

    async def __aenter__(self) -> "Device":
        self.loop = asyncio.get_running_loop()
        self.registration = self.loop.create_future()
        self.woken = asyncio.Event()
        try:
            self.ctx = await aiocoap.Context.create_server_context(
                Site(self.serve), bind=("127.0.0.1", 0), transports=["udp6"])
            self.mm = self.ctx.request_interfaces[0].token_interface  # the message manager
            self._tap()
            sock = self.mm.message_interface.transport.get_extra_info("socket")
            port = self.server_port = sock.getsockname()[1]
            self.client = lwm2mc.Client(self.endpoint, server=f"coap://127.0.0.1:{port}", lifetime=60,
                                        objects=self.objects, firmware=self.firmware,
                                        block_size=self.block_size, state_dir=self.state_dir)
            self.client.start()
            self.thread = threading.Thread(target=self._run, name=f"device {self.endpoint}")
            self.thread.start()
            register = await asyncio.wait_for(self.registration, T)
            # Only once the device has seen the 2.01 is it registered, and answers DM requests.
            await self.event("registered")
            host, dport = register.remote.sockaddr[0].replace("::ffff:", ""), register.remote.sockaddr[1]
            self.base = f"coap://{host}:{dport}"
            return self
        except BaseException:
            await self.close()
            raise

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        self.stop.set()
        alive = False
        if self.thread is not None:
            # Joined while the loop runs: the device's De-register must be answered.
            await self.loop.run_in_executor(None, self.thread.join, 3 * T)
            alive = self.thread.is_alive()
        if self.client is not None and not alive:
            self.client.close()
        if self.ctx is not None:
            await self.ctx.shutdown()
        assert not alive, "the device thread did not stop"

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                self._record(self.client.poll(0.05))
        finally:
            self._record(self.client.stop(T))

    def _record(self, events) -> None:
        if not events:
            return
        self.events.extend(events)
        try:
            self.loop.call_soon_threadsafe(self.woken.set)
        except RuntimeError:
            pass  # the loop is gone: nobody waits any more

    def _tap(self) -> None:
        mm, transport = self.mm, self.mm.message_interface
        dispatch, send = mm.dispatch_message, transport.send

        def dispatched(message):
            if self.lose(message):
                return  # lost on the way: aiocoap never sees it
            # As it came: aiocoap appends later blocks to the first block's message in place.
            self.received.append((str(message.code), len(message.payload), message.opt.block2))
            if message.opt.block1 is not None:
                self.block1_in.append((message.opt.uri_path, message.opt.block1, message.opt.size1,
                                       len(message.payload)))
            dispatch(message)  # first, so what aiocoap answers to it is in wire_out already
            self.wire_in.append(message)
            self.woken.set()

        def sent(message):
            self.wire_out.append(message)
            send(message)

        mm.dispatch_message, transport.send = dispatched, sent

    # ---- waiting, bounded ----

    async def until(self, what: str, predicate, timeout: float = T):
        """The first truthy predicate() (re-checked on each device event or incoming
        message), or AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.woken.clear()
            got = predicate()
            if got:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; device events "
                                     f"{[(e.kind, e.ssid, e.path) for e in self.events]}")
            try:
                await asyncio.wait_for(self.woken.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def event(self, kind: str, path: str = "") -> lwm2mc.Event:
        return await self.until(f"event {kind} {path}", lambda: next(
            (e for e in self.events if e.kind == kind and (not path or e.path == path)), None))

    # ---- requests from the server ----

    def message(self, code, path: str, **options) -> Message:
        return Message(code=code, uri=self.base + path, **options)

    async def request(self, code, path: str, **options) -> Message:
        return await asyncio.wait_for(self.ctx.request(self.message(code, path, **options)).response, T)

    async def observe(self, path: str, **options):
        """GET with Observe=0 (RFC 7641 §3.1): the first response and a Notifications."""
        req = self.ctx.request(self.message(GET, path, observe=0, **options))
        first = await asyncio.wait_for(req.response, T)
        return req, first, Notifications(req.observation)


class Notifications:
    """What aiocoap's ClientObservation delivers after the first response, in order, with the
    end of the observation as its exception. (Its `async for` interface is a lossy one-slot
    queue, protocol.py ClientObservation._Iterator, which would let a final response be
    overwritten by the end that comes with it; the callbacks lose nothing.)"""

    def __init__(self, observation) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        with warnings.catch_warnings():  # the callback interface is deprecated, not gone
            warnings.simplefilter("ignore", DeprecationWarning)
            observation.register_callback(self.queue.put_nowait)
            observation.register_errback(self.queue.put_nowait)

    async def next(self):
        try:
            return await asyncio.wait_for(self.queue.get(), T)
        except asyncio.TimeoutError:
            raise AssertionError("no notification within the time bound") from None


def next_seq(v: int) -> int:
    """The Observe value after v (RFC 7641 §4.4: a 24-bit sequence number)."""
    return (v + 1) % (1 << 24)


def run(scenario):
    return asyncio.run(scenario())


def test_aiocoap_observes_an_application_object_and_gets_each_change():
    temperature = Temperature(21.5)

    async def scenario():
        async with Device("py-aio-observe", [temperature]) as dev:
            req, first, notes = await dev.observe(PATH)
            # RFC 7641 §3.1/§4.1: the observer is added, and the response says so with Observe.
            assert str(first.code) == "2.05 Content"
            assert first.opt.observe is not None
            assert (first.opt.content_format, first.payload) == (TEXT, b"21.5")
            started = await dev.event("observation_started", PATH)
            assert started.ssid == 1
            assert dev.client.observations() == [(1, PATH)]

            seqs, got = [first.opt.observe], []
            for value, text in ((22.25, b"22.25"), (-3.5, b"-3.5")):
                temperature.value = value
                dev.client.changed(PATH)
                n = await notes.next()
                # aiocoap passes on only notifications it takes as fresh (RFC 7641 §3.4:
                # V1 < V2 < V1 + 2^23), so a stale Observe value would time out above.
                assert isinstance(n, Message), n
                got.append((str(n.code), n.opt.content_format, n.payload, n.mtype))
                seqs.append(n.opt.observe)
                assert dev.client.observations() == [(1, PATH)]
            # Each a 2.05 to the same GET (RFC 7641 §4.2: same token, which aiocoap matched),
            # so in the same format; NON (§4.5 leaves the type to the server; this device sends a
            # CON only every 24 h); Observe values from one sequence rising by one (§4.4).
            assert got == [("2.05 Content", TEXT, b"22.25", NON), ("2.05 Content", TEXT, b"-3.5", NON)]
            assert seqs == [seqs[0], next_seq(seqs[0]), next_seq(next_seq(seqs[0]))]
            req.observation.cancel()

    run(scenario)


def test_aiocoap_cancel_forgets_then_an_rst_to_a_notification_ends_the_observation():
    """aiocoap 0.4.17's `ClientObservation.cancel()` puts nothing on the wire: it only marks the
    observation cancelled (protocol.py ClientObservation.cancel). Request._run then drops the
    token on the next notification (`if self.observation.cancelled: self._stop_interest()`,
    "We don't really support cancellation of observations yet", aiocoap issue #92), and an
    unknown response is rejected with RST only if it is a CON (messagemanager.py
    dispatch_message: "Ignoring unknown response (which is not a unicast CON)"). So aiocoap
    "forgets" (RFC 7641 §3.6) but never RSTs a NON notification (RFC 7252 §4.3 makes that a
    MAY); a device sending NON would learn of it from the CON it sends at least every 24 h
    (RFC 7641 §4.5). The RST RFC 7641 §3.6 describes for the next notification is therefore
    sent here through aiocoap's own message layer, from the same socket."""
    temperature = Temperature(10.0)

    async def scenario():
        async with Device("py-aio-rst", [temperature]) as dev:
            req, first, notes = await dev.observe(PATH)
            token = first.token
            await dev.event("observation_started", PATH)
            req.observation.cancel()
            out_before = len(dev.wire_out)

            temperature.value = 11.0
            dev.client.changed(PATH)
            note = await dev.until("the notification after the cancel", lambda: next(
                (m for m in dev.wire_in if m.token == token and m.opt.observe is not None
                 and m.payload == b"11"), None))
            assert (note.mtype, note.opt.observe) == (NON, next_seq(first.opt.observe))
            # aiocoap answered nothing and delivered nothing: the cancel was local only.
            assert [m for m in dev.wire_out[out_before:] if m.mtype == RST] == []
            assert notes.queue.empty()
            assert dev.client.observations() == [(1, PATH)]  # the device cannot know yet

            # RFC 7641 §3.6 / §4.5: a notification rejected with RST ends the observation.
            # Built as aiocoap's message manager builds its own RSTs (private-argument style).
            rst = Message(_mtype=RST, _mid=note.mid, code=EMPTY, payload=b"")
            rst.remote = note.remote.as_response_address()
            dev.mm.message_interface.send(rst)
            cancelled = await dev.event("observation_cancelled", PATH)
            assert cancelled.ssid == 1
            assert dev.client.observations() == []

    run(scenario)


def test_aiocoap_deregisters_with_get_observe_1_on_the_observation_token():
    """RFC 7641 §3.6's explicit de-registration, which aiocoap's request API cannot produce (it
    picks a fresh token for every request: tokenmanager.py TokenManager.request): a GET with
    Observe=1 and the observation's token, sent as a CON through aiocoap's message layer. The
    device must answer it as a plain GET, without Observe, and stop notifying; aiocoap, whose
    observation is still live, then takes that answer as the observation's last response."""
    temperature = Temperature(5.0)

    async def scenario():
        async with Device("py-aio-dereg", [temperature]) as dev:
            req, first, notes = await dev.observe(PATH)
            await dev.event("observation_started", PATH)
            assert dev.client.observations() == [(1, PATH)]
            temperature.value = 6.0  # the answer must be the current value, read anew

            cancel = Message(code=GET, _mtype=CON, _token=first.token, observe=1,
                             uri_path=tuple(PATH.strip("/").split("/")))
            cancel.remote = first.remote
            refused = []
            dev.mm.send_message(cancel, lambda: refused.append("RST"))
            last = await notes.next()
            assert isinstance(last, Message), last
            assert (str(last.code), last.opt.observe, last.opt.content_format, last.payload) == \
                ("2.05 Content", None, TEXT, b"6")
            assert last.mtype == aiocoap.ACK and last.mid == cancel.mid  # piggybacked
            end = await notes.next()
            assert isinstance(end, aiocoap.error.ObservationCancelled), end
            cancelled = await dev.event("observation_cancelled", PATH)
            assert (cancelled.ssid, refused) == (1, [])
            assert dev.client.observations() == []

    run(scenario)


def test_aiocoap_retransmits_a_read_and_an_execute_whose_answers_were_lost():
    """RFC 7252 §4.2/§4.5 against aiocoap's own retransmission: the device's ACK to a CON
    request is lost, aiocoap sends the request again with the same Message ID, and the device
    treats it as the duplicate it is. A GET, safe, is served again from the value as it is by
    then (§4.5 allows it; this device keeps no answers to GETs, issue 15); an Execute is not
    done twice: the retransmission gets the cached answer."""
    temperature = Temperature(21.5)

    async def scenario():
        async with Device("py-aio-lost-acks", [temperature]) as dev:
            lost = []

            def lose_the_first_answer(message):
                if lost or message.mtype != aiocoap.ACK or message.code.is_request():
                    return False
                lost.append(message)
                temperature.value = 22.25  # changes before the retransmission comes
                return True

            async def request(code, path):
                before = len(dev.wire_out)
                dev.lose = lose_the_first_answer
                # aiocoap retransmits after ACK_TIMEOUT (2-3 s, RFC 7252 §4.8).
                r = await asyncio.wait_for(dev.ctx.request(dev.message(code, path)).response, 3 * T)
                sent = [m for m in dev.wire_out[before:] if m.code == code]
                assert len(sent) == 2 and sent[0].mid == sent[1].mid, [(m.code, m.mid) for m in sent]
                assert sent[0].token == sent[1].token
                answered = lost.pop()
                dev.lose = lambda message: False
                return answered, r

            lost_read, read = await request(GET, PATH)
            assert (str(lost_read.code), lost_read.payload) == ("2.05 Content", b"21.5")
            assert (str(read.code), read.payload) == ("2.05 Content", b"22.25"), "served again"

            lost_exec, executed = await request(POST, "/3/0/4")
            assert str(lost_exec.code) == str(executed.code) == "2.04 Changed"
            assert (executed.mid, executed.payload) == (lost_exec.mid, lost_exec.payload)
            await dev.event("executed", "/3/0/4")
            await asyncio.sleep(0.2)  # a second Execute would have been reported by now
            assert [e.path for e in dev.events if e.kind == "executed"] == ["/3/0/4"], "once"

    run(scenario)


def senml_values(payload: bytes) -> dict:
    """SenML JSON (RFC 8428 §4.5.1) resolved to {name: value}: the base name carries over."""
    out, base = {}, ""
    for record in json.loads(payload):
        base = record.get("bn", base)
        for key in ("v", "vs", "vb", "vd", "vlo"):
            if key in record:
                out[base + record.get("n", "")] = record[key]
    return out


def test_aiocoap_observes_a_store_held_instance_in_senml_json():
    async def scenario():
        async with Device("py-aio-senml") as dev:
            dev.client.set("/3/0/9", 77)
            req, first, notes = await dev.observe("/3/0", accept=SENML_JSON)
            assert (str(first.code), first.opt.content_format) == ("2.05 Content", SENML_JSON)
            assert first.opt.observe is not None
            assert senml_values(first.payload)["/3/0/9"] == 77
            await dev.event("observation_started", "/3/0")
            assert dev.client.observations() == [(1, "/3/0")]

            # A store-held value: the library sees the change itself (no `changed`).
            dev.client.set("/3/0/9", 42)
            n = await notes.next()
            assert isinstance(n, Message), n
            # A notification answers the Observe's GET (RFC 7641 §4.2), so in its Accept format.
            assert (str(n.code), n.opt.content_format, n.mtype) == ("2.05 Content", SENML_JSON, NON)
            assert n.opt.observe == next_seq(first.opt.observe)
            values = senml_values(n.payload)
            assert values["/3/0/9"] == 42
            assert values["/3/0/0"] == "lwm2mc project"  # the whole instance, not the change
            req.observation.cancel()

    run(scenario)


def test_aiocoap_write_attributes_and_discover():
    async def scenario():
        async with Device("py-aio-attrs") as dev:
            # Write-Attributes (Core 1.1 §5.4.4): PUT with only a query, no payload.
            r = await dev.request(PUT, "/3/0/9", uri_query=("pmin=1",))
            assert str(r.code) == "2.04 Changed"
            # lt must stay below gt (Core "Attributes Definitions and Rules"): the whole set is refused.
            r = await dev.request(PUT, "/3/0/9", uri_query=("lt=50", "gt=40"))
            assert str(r.code) == "4.00 Bad Request"
            # Discover shows what is attached, and the refused set left nothing behind.
            r = await dev.request(GET, "/3/0/9", accept=LINK_FORMAT)
            assert (str(r.code), r.opt.content_format, r.payload) == \
                ("2.05 Content", LINK_FORMAT, b"</3/0/9>;pmin=1")

    run(scenario)


def test_aiocoap_receives_a_send_and_mute_send_refuses_it():
    async def scenario():
        async with Device("py-aio-send") as dev:
            dev.client.set("/3/0/9", 55)
            # LwM2M 1.1 Send (Core 1.1 §6.4.1): POST /dp with one SenML pack of full names.
            await dev.loop.run_in_executor(None, dev.client.send, ["/3/0/9", "/3/0/0"])
            await dev.until("the Send", lambda: dev.sends)
            cf, payload = dev.sends[0]
            assert cf == SENML_JSON
            assert json.loads(payload) == [{"n": "/3/0/9", "v": 55}, {"n": "/3/0/0", "vs": "lwm2mc project"}]
            await dev.event("send_completed")
            # Core 1.1 §E.2 /1/x/23 Mute Send: refused, nothing sent.
            dev.client.set("/1/0/23", True)
            try:
                dev.client.send(["/3/0/9"])
                raise AssertionError("a muted Send was accepted")
            except lwm2mc.Lwm2mcError as e:
                assert e.result == lwm2mc.Result.INVALID_STATE
            await asyncio.sleep(0.3)  # time for a POST that must not come
            assert len(dev.sends) == 1

    run(scenario)


def test_aiocoap_takes_a_register_and_a_send_that_come_in_block1_blocks():
    async def scenario():
        async with Device("py-aio-block1", block_size=32) as dev:
            # aiocoap put the Register together from its blocks (RFC 7959 §2.3).
            links = (await dev.registration).payload.decode()
            assert links.startswith('</>;rt="oma.lwm2m"') and "</3/0>" in links, links
            arrived = [(b, size1, n) for path, b, size1, n in dev.block1_in if path == ("rd",)]
            blocks = [b for b, _, _ in arrived]
            assert [b.block_number for b in blocks] == list(range(len(blocks)))
            assert len(blocks) == -(-len(links) // 32) and blocks[0].size == 32
            assert [b.more for b in blocks] == [True] * (len(blocks) - 1) + [False]
            assert [n for _, _, n in arrived[:-1]] == [32] * (len(blocks) - 1)
            # RFC 7959 §4: Size1 on the first block announces the whole body.
            assert [s for _, s, _ in arrived] == [len(links)] + [None] * (len(blocks) - 1)
            continues = [m for m in dev.wire_out if m.code == aiocoap.CONTINUE]
            assert len(continues) == len(blocks) - 1

            text = "".join(chr(ord("a") + i % 26) for i in range(1500))
            dev.client.set("/3/0/15", text)
            await dev.loop.run_in_executor(None, dev.client.send, ["/3/0/15"])
            await dev.event("send_completed")
            cf, payload = dev.sends[0]
            assert cf == SENML_JSON
            assert json.loads(payload) == [{"n": "/3/0/15", "vs": text}]

    run(scenario)


def test_aiocoap_writes_and_reads_a_long_value_block_wise():
    """RFC 7959 both ways with a stack that does block-wise itself: aiocoap cuts the 3,000-byte
    PUT into Block1 blocks and puts the device's Block2 answer back together."""
    text = "".join(chr(ord("a") + i % 26) for i in range(3000))

    async def scenario():
        async with Device("py-aio-blocks") as dev:
            r = await dev.request(PUT, "/3/0/15", payload=text.encode(), content_format=TEXT)
            assert str(r.code) == "2.04 Changed"
            assert dev.client.get("/3/0/15") == text
            # The device sent 2.31 Continue for every block but the last (RFC 7959 §2.3).
            continues = [m for m in dev.wire_in if str(m.code) == "2.31 Continue"]
            assert len(continues) == 2, [str(m.code) for m in dev.wire_in]
            r = await dev.request(GET, "/3/0/15")
            assert (str(r.code), r.payload.decode()) == ("2.05 Content", text)
            # It came in three Block2 blocks of 1,024 bytes at most.
            blocks = [n for code, n, b2 in dev.received if b2 is not None and code == "2.05 Content"]
            assert blocks == [1024, 1024, 952], dev.received

    run(scenario)


class Flash(lwm2mc.Firmware):
    """A firmware slot in memory; "installing" swaps the running version string."""

    def __init__(self, corrupt: bool = False) -> None:
        self.image, self.sizes, self.corrupt, self.version = bytearray(), [], corrupt, "1.0"

    def open(self, size):
        self.sizes.append(size)
        self.image.clear()

    def write(self, offset, data):
        assert offset == len(self.image), "chunks come in order"
        self.image += data

    def verify(self):
        return 5 if self.corrupt else None  # Update Result 5: integrity check failure

    def apply(self):
        self.version = "2.0"

    def discard(self):
        self.image.clear()


def test_aiocoap_pushes_a_1_mib_firmware_package_block_wise_and_the_update_succeeds():
    """Issue 12: aiocoap (which does block-wise itself) pushes 1 MiB to /5/0/0; the device's
    installer gets the exact bytes, State goes to Downloaded, Update installs (Result 1)."""
    package = bytes(i * 31 % 251 for i in range(1 << 20))
    flash = Flash()

    async def scenario():
        async with Device("py-aio-fw", firmware=flash) as dev:
            put = dev.message(PUT, "/5/0/0", payload=package, content_format=42)
            r = await asyncio.wait_for(dev.ctx.request(put).response, 120)
            assert str(r.code) == "2.04 Changed"
            assert bytes(flash.image) == package
            r = await dev.request(GET, "/5/0/3")
            assert r.payload == b"2"  # Downloaded
            r = await dev.request(POST, "/5/0/2")
            assert str(r.code) == "2.04 Changed"
            assert flash.version == "2.0"
            r = await dev.request(GET, "/5/0/5")
            assert r.payload == b"1"  # Update Result: success

    run(scenario)


def test_aiocoap_a_corrupt_package_reports_integrity_failure():
    flash = Flash(corrupt=True)

    async def scenario():
        async with Device("py-aio-fw-bad", firmware=flash) as dev:
            put = dev.message(PUT, "/5/0/0", payload=b"x" * 5000, content_format=42)
            r = await asyncio.wait_for(dev.ctx.request(put).response, 30)
            # The write itself is taken; the outcome is in State and Update Result (Core E.6).
            assert str(r.code) == "2.04 Changed"
            assert (await dev.request(GET, "/5/0/3")).payload == b"0"
            assert (await dev.request(GET, "/5/0/5")).payload == b"5"
            r = await dev.request(POST, "/5/0/2")
            assert str(r.code) == "4.05 Method Not Allowed"

    run(scenario)


def test_the_device_pulls_a_1_mib_package_from_an_aiocoap_package_uri_then_updates():
    """Issue 12: a coap:// Package URI naming a file aiocoap serves; the device fetches it in
    Block2 blocks (aiocoap does the cutting), its installer gets the exact bytes in order."""
    package = bytes(i * 17 % 253 for i in range(1 << 20))
    flash = Flash()

    async def scenario():
        async with Device("py-aio-pull", firmware=flash) as dev:
            dev.files[("fw", "image.bin")] = package
            uri = f"coap://127.0.0.1:{dev.server_port}/fw/image.bin"
            # State is observed: its notifications say when the download is over.
            _, first, notes = await dev.observe("/5/0/3")
            assert first.payload == b"0"
            r = await dev.request(PUT, "/5/0/1", payload=uri.encode(), content_format=TEXT)
            assert str(r.code) == "2.04 Changed"
            states = [(await notes.next()).payload for _ in range(2)]
            assert states == [b"1", b"2"]  # Downloading, Downloaded
            assert bytes(flash.image) == package
            assert (await dev.request(GET, "/5/0/1")).payload == uri.encode()
            # As they arrived (aiocoap renders the file once and serves later blocks itself).
            gets = [b2 for code, _, b2 in dev.received if code == "GET"]
            assert [b.block_number for b in gets] == list(range(1024)), "one GET per block"
            assert all(b.size == 1024 for b in gets)
            r = await dev.request(POST, "/5/0/2")
            assert str(r.code) == "2.04 Changed" and flash.version == "2.0"
            assert (await dev.request(GET, "/5/0/5")).payload == b"1"
            assert (await notes.next()).payload == b"0"  # Idle after the update
            # A file aiocoap does not have: 4.04, Update Result 7 (invalid URI).
            missing = f"coap://127.0.0.1:{dev.server_port}/fw/none.bin".encode()
            await dev.request(PUT, "/5/0/1", payload=missing, content_format=TEXT)
            states = [(await notes.next()).payload for _ in range(2)]
            assert states == [b"1", b"0"]  # Downloading, then Idle again
            assert dev.client.get("/5/0/5") == 7

    run(scenario)


class RestartingFlash(Flash):
    """Installs by restarting the device; after the restart the new firmware runs."""

    def apply(self):
        return lwm2mc.Firmware.RESTARTING

    def outcome(self):
        self.version = "2.0"


def test_an_update_that_restarts_the_device_is_reported_with_result_1_after_the_restart(tmp_path):
    """Issue 12: the whole cycle over UDP: push, Update (the device restarts to install), and
    the restarted device registers and reports Idle with Update Result 1 (Core 1.1 §E.6)."""
    state = str(tmp_path / "state")

    async def before():
        async with Device("py-aio-restart", firmware=RestartingFlash(), state_dir=state) as dev:
            put = dev.message(PUT, "/5/0/0", payload=b"p" * 5000, content_format=42)
            assert str((await asyncio.wait_for(dev.ctx.request(put).response, 30)).code) == "2.04 Changed"
            assert str((await dev.request(POST, "/5/0/2")).code) == "2.04 Changed"
            assert (await dev.request(GET, "/5/0/3")).payload == b"3"  # Updating, until the restart

    run(before)
    after = RestartingFlash()

    async def restarted():
        async with Device("py-aio-restart", firmware=after, state_dir=state) as dev:
            assert (await dev.request(GET, "/5/0/3")).payload == b"0"
            assert (await dev.request(GET, "/5/0/5")).payload == b"1"
            assert after.version == "2.0", "outcome() was asked"

    run(restarted)


class HttpFlash(Flash):
    """Downloads http:// itself (it only records the URI) and defers updates to its user."""

    download_protocols = (2,)

    def __init__(self) -> None:
        super().__init__()
        self.downloads: list[str] = []

    def download(self, uri):
        self.downloads.append(uri)

    def defer_update(self):
        return True


def test_an_http_package_uri_goes_to_the_python_downloader_and_the_user_defers_the_update():
    flash = HttpFlash()

    async def scenario():
        async with Device("py-aio-http", firmware=flash) as dev:
            # /5/0/8: CoAP (0) and HTTP (2).
            r = await dev.request(GET, "/5/0/8", accept=SENML_JSON)
            assert [e["v"] for e in json.loads(r.payload)] == [0, 2]
            uri = b"http://files.example/fw.bin"
            r = await dev.request(PUT, "/5/0/1", payload=uri, content_format=TEXT)
            assert str(r.code) == "2.04 Changed" and flash.downloads == [uri.decode()]
            assert dev.client.get("/5/0/3") == 1
            flash.image += b"new firmware"
            dev.client.firmware_downloaded(0)
            assert dev.client.get("/5/0/3") == 2
            r = await dev.request(POST, "/5/0/2")
            assert str(r.code) == "2.04 Changed"
            await dev.event("firmware_update_awaiting_user")
            assert dev.client.get("/5/0/5") == 11 and flash.version == "1.0"
            dev.client.firmware_accept_update()
            assert flash.version == "2.0" and dev.client.get("/5/0/5") == 1
            try:
                dev.client.firmware_accept_update()
                raise AssertionError("accepted with nothing waiting")
            except lwm2mc.Lwm2mcError as e:
                assert e.result == lwm2mc.Result.INVALID_STATE

    run(scenario)


async def push_firmware_to_a_sample_device(argv, endpoint: str, tmp_path) -> None:
    """Starts a sample device (`argv` + `--server URI --endpoint EP --firmware PATH`) against an
    aiocoap LwM2M Server, pushes a 10,240-byte package to /5/0/0 (aiocoap cuts it into ten
    Block1 blocks of 1,024 bytes) and executes Update /5/0/2. Then the file must hold the
    package exactly, /3/0/3 must become `fw-<its CRC-32>` and /5/0/5 (Update Result) 1; the
    device must de-register on SIGTERM and exit 0 (for the C device: no sanitizer report).

    Readiness comes from the device, never from a sleep: the Register it sends, the 2.04 to
    each request, and a notification of /3/0 carrying the new /3/0/3 (observed before Update:
    the device sets the version on its next loop turn, after the Execute was answered)."""
    import zlib

    package = bytes(range(256)) * 40
    target = tmp_path / "fw.bin"
    want = f"fw-{zlib.crc32(package):08x}".encode()
    loop = asyncio.get_running_loop()
    registered, deregistered = loop.create_future(), loop.create_future()

    async def serve(request):
        path = tuple(request.opt.uri_path)
        if request.code == POST and path == ("rd",):
            if not registered.done():
                registered.set_result(request)
            return Message(code=aiocoap.CREATED, location_path=("rd", "fw"))
        if request.code == DELETE and path == ("rd", "fw") and not deregistered.done():
            deregistered.set_result(request)
        return Message(code=aiocoap.DELETED if request.code == DELETE else aiocoap.CHANGED)

    ctx = await aiocoap.Context.create_server_context(Site(serve), bind=("127.0.0.1", 0), transports=["udp6"])
    transport = ctx.request_interfaces[0].token_interface.message_interface
    port = transport.transport.get_extra_info("socket").getsockname()[1]
    blocks = set()  # (Block1 number, SZX) of each PUT aiocoap sends, retransmissions once
    send = transport.send

    def sent(message):
        if message.code == PUT and message.opt.block1 is not None:
            blocks.add((message.opt.block1.block_number, message.opt.block1.size_exponent))
        send(message)

    transport.send = sent
    dev = await asyncio.create_subprocess_exec(
        *argv, "--server", f"coap://127.0.0.1:{port}", "--endpoint", endpoint, "--firmware", str(target),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    # Drained all along, so a chatty device never blocks on a full pipe; shown on failure.
    output = asyncio.ensure_future(dev.stdout.read())
    try:
        try:
            # A device that dies before registering ends the wait at once.
            exited = asyncio.ensure_future(dev.wait())
            await asyncio.wait({registered, exited}, timeout=3 * T, return_when=asyncio.FIRST_COMPLETED)
            assert registered.done(), f"no Register ({'exited' if exited.done() else 'timed out'})"
            reg = registered.result()
            host, dport = reg.remote.sockaddr[0].replace("::ffff:", ""), reg.remote.sockaddr[1]
            base = f"coap://{host}:{dport}"

            async def ask(code, path, **kw):
                return await asyncio.wait_for(ctx.request(Message(code=code, uri=base + path, **kw)).response, 3 * T)

            r = await ask(PUT, "/5/0/0", payload=package, content_format=42)
            assert str(r.code) == "2.04 Changed", r
            assert blocks == {(n, 6) for n in range(10)}, sorted(blocks)  # ten 1,024-byte blocks
            # The package is verified (and the file closed) before the last block is answered.
            assert target.read_bytes() == package
            assert (await ask(GET, "/5/0/3")).payload == b"2"  # State: Downloaded

            # The instance, not /3/0/3, which the C and Python devices have only once set.
            observe = ctx.request(Message(code=GET, uri=base + "/3/0", observe=0, accept=SENML_JSON))
            first = await asyncio.wait_for(observe.response, 3 * T)
            assert str(first.code) == "2.05 Content" and first.opt.observe is not None, first
            version = lambda m: senml_values(m.payload).get("/3/0/3")  # noqa: E731
            seen = [version(first)]
            assert seen[0] != want.decode()
            notes = Notifications(observe.observation)
            assert str((await ask(POST, "/5/0/2")).code) == "2.04 Changed"
            deadline = loop.time() + 3 * T
            while seen[-1] != want.decode():
                assert loop.time() < deadline, f"/3/0/3 went {seen}, never {want}"
                note = await notes.next()
                assert isinstance(note, Message) and note.opt.content_format == SENML_JSON, note
                seen.append(version(note))
            observe.observation.cancel()
            assert (await ask(GET, "/3/0/3")).payload == want
            assert (await ask(GET, "/5/0/5")).payload == b"1"  # Update Result: success
        finally:
            if dev.returncode is None:
                dev.terminate()
            try:
                await asyncio.wait_for(dev.wait(), 3 * T)  # de-registers against the running loop
            finally:
                if dev.returncode is None:
                    dev.kill()
                    await dev.wait()
                await ctx.shutdown()
        assert dev.returncode == 0, f"the device exited with {dev.returncode}"
        assert deregistered.done(), "no De-register after SIGTERM"
    except BaseException as e:
        printed = (await asyncio.wait_for(output, T)).decode(errors="replace")
        raise AssertionError(f"{e!r}\n--- {argv[-1]} printed:\n{printed}") from e
    output.cancel()


def test_the_python_sample_device_takes_a_firmware_push(tmp_path):
    """examples/device.py --firmware."""
    import os
    import sys

    example = os.path.join(os.path.dirname(__file__), "..", "examples", "device.py")
    run(lambda: push_firmware_to_a_sample_device([sys.executable, example], "py-sample-fw", tmp_path))


def test_the_cli_sample_device_takes_a_firmware_push(cli_device, tmp_path):
    """examples/client.rs --firmware, built by cargo for this test run."""
    run(lambda: push_firmware_to_a_sample_device([cli_device], "cli-sample-fw", tmp_path))


def test_the_c_sample_device_takes_a_firmware_push(c_device, tmp_path):
    """examples/c/device.c --firmware, built with ASan/UBSan/LSan against this run's library."""
    run(lambda: push_firmware_to_a_sample_device([c_device], "c-sample-fw", tmp_path))
