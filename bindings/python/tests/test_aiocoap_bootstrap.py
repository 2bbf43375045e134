"""Provisioning by a Bootstrap-Server written with aiocoap (an independent CoAP stack), with
TLV writes, then registration with an aiocoap LwM2M Server. The device runs on its own thread
(ctypes releases the GIL during library calls); the servers run on asyncio."""

import asyncio
import threading

import aiocoap
from aiocoap import DELETE, POST, PUT, Message

import lwm2mc
from aiocoap_peer import Site, res, tlv

TLV = 11542


def test_tlv_helper_matches_the_spec_vector():
    # VECTORS.md §5: Bootstrap-Write PUT /1/0 = OI 0 {SSID 123, lifetime 300, false, "U"}.
    body = res(0, 123) + res(1, 300) + res(6, False) + res(7, "U")
    assert tlv(0x00, 0, body).hex() == "08000dc1007bc201012cc10600c10755"


async def context(handle):
    ctx = await aiocoap.Context.create_server_context(Site(handle), bind=("127.0.0.1", 0), transports=["udp6"])
    sock = ctx.request_interfaces[0].token_interface.message_interface.transport.get_extra_info("socket")
    return ctx, sock.getsockname()[1]


def run_device(client: lwm2mc.Client, stop: threading.Event, events: list, registered: threading.Event):
    while not stop.is_set():
        for e in client.poll(0.05):
            events.append(e)
            if e.kind == "registered":
                registered.set()
    events.extend(client.stop())


def test_aiocoap_bootstrap_server_provisions_the_python_device():
    async def scenario():
        registered = asyncio.get_running_loop().create_future()
        deregistered = asyncio.get_running_loop().create_future()
        codes = []

        seen_by_dm = []

        async def dm(request):
            path = tuple(request.opt.uri_path)
            seen_by_dm.append((str(request.code), path))
            if request.code == POST and path == ("rd",):
                q = dict(x.split("=", 1) for x in request.opt.uri_query if "=" in x)
                registered.set_result((q, bytes(request.payload).decode()))
                return Message(code=aiocoap.CREATED, location_path=("rd", "x1"))
            if request.code == DELETE and path == ("rd", "x1"):
                deregistered.set_result(True)
                return Message(code=aiocoap.DELETED)
            return Message(code=aiocoap.CHANGED if path == ("rd", "x1") else aiocoap.NOT_FOUND)

        dm_ctx, dm_port = await context(dm)
        bs_ctx = None

        async def provision(remote):
            host, port = remote.sockaddr[0].replace("::ffff:", ""), remote.sockaddr[1]
            base = f"coap://{host}:{port}"
            sec = tlv(0x00, 1, res(0, f"coap://127.0.0.1:{dm_port}") + res(1, False) + res(2, 3)
                      + res(3, b"") + res(4, b"") + res(5, b"") + res(10, 77))
            srv = tlv(0x00, 0, res(0, 77) + res(1, 60) + res(6, False) + res(7, "U"))
            for code, path, payload in ((DELETE, "", b""), (PUT, "0/1", sec), (PUT, "1/0", srv), (POST, "bs", b"")):
                m = Message(code=code, uri=f"{base}/{path}", payload=payload)
                if payload:
                    m.opt.content_format = TLV
                resp = await asyncio.wait_for(bs_ctx.request(m).response, 10)
                codes.append(str(resp.code))

        async def bs(request):
            if request.code == POST and tuple(request.opt.uri_path) == ("bs",):
                asyncio.get_running_loop().create_task(provision(request.remote))
                return Message(code=aiocoap.CHANGED)
            return Message(code=aiocoap.NOT_FOUND)

        bs_ctx, bs_port = await context(bs)
        client = lwm2mc.Client("py-aiocoap", bootstrap=f"coap://127.0.0.1:{bs_port}", pct=TLV)
        client.start()
        stop, events, device_registered = threading.Event(), [], threading.Event()
        thread = threading.Thread(target=run_device, args=(client, stop, events, device_registered))
        thread.start()
        try:
            try:
                query, links = await asyncio.wait_for(registered, 15)
                # Stop only once the device itself has seen the 2.01 (else it would still be
                # registering when asked to stop).
                loop = asyncio.get_running_loop()
                await asyncio.wait_for(loop.run_in_executor(None, device_registered.wait, 15), 16)
                stop.set()
                await asyncio.wait_for(deregistered, 15)
            except asyncio.TimeoutError:
                raise AssertionError(f"timed out; bootstrap answers {codes}, device events {[e.kind for e in events]}, dm saw {seen_by_dm}") from None
        finally:
            stop.set()
            await asyncio.get_running_loop().run_in_executor(None, thread.join)
            client.close()
            await bs_ctx.shutdown()
            await dm_ctx.shutdown()
        return codes, query, links, events

    codes, query, links, events = asyncio.run(scenario())
    assert codes == ["2.02 Deleted", "2.04 Changed", "2.04 Changed", "2.04 Changed"]
    assert query["ep"] == "py-aiocoap" and query["lt"] == "60" and query["lwm2m"] == "1.1"
    assert "</3/0>" in links and "</0" not in links
    kinds = [e.kind for e in events]
    assert kinds.index("bootstrapped") < kinds.index("registered") < kinds.index("deregistered")
