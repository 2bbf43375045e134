#!/usr/bin/env python3
"""An LwM2M Bootstrap-Server and LwM2M Server written on aiocoap, an independent CoAP stack,
driving the real CLI device (examples/client.rs) over UDP on 127.0.0.1.

    python lwm2m_peers.py target/debug/examples/client --scenario bootstrap
    python lwm2m_peers.py target/debug/examples/client --scenario direct

Scenario "bootstrap": the device holds only a Bootstrap-Server account; this script answers
POST /bs, provisions a server account with DELETE /, PUT /0/1, PUT /1/0 and Bootstrap-Finish,
then accepts the registration and manages the device. Scenario "direct": the device starts
with a server account and registers at once. Both end with SIGTERM: the device must
de-register (DELETE /rd/<id>) and exit 0.

Prints one line per step; exits 1 with the reason and the device transcript on any failure.
Everything the peers send to the device goes out from the port the device talks to: the
device's own transcript (--verbose prints the source of every datagram it receives) is
checked for that at the end.
"""

import argparse
import asyncio
import json
import logging
import re
import signal
import sys
import time

import aiocoap
import aiocoap.resource
from aiocoap import Message, GET, PUT, POST, DELETE

HOST = "127.0.0.1"
STEP_TIMEOUT = 5.0

# Content-Format numbers (LwM2M Core 1.1 §7 / FACTS §6.1).
CF_TEXT = 0
CF_LINK = 40
CF_SENML_JSON = 110
CF_TLV = 11542


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# TLV (application/vnd.oma.lwm2m+tlv), written from the layout in LwM2M Core "TLV format":
# type byte = identifier kind (bits 7-6) | 16-bit id flag (bit 5) | length kind (bits 4-3) |
# short length (bits 2-0); then the identifier, the length, the value; all big-endian.
# ---------------------------------------------------------------------------------------------

TLV_OBJECT_INSTANCE = 0
TLV_RESOURCE_INSTANCE = 1
TLV_MULTIPLE_RESOURCE = 2
TLV_RESOURCE = 3


def tlv_entry(kind, ident, value):
    head = kind << 6
    if ident > 0xFF:
        head |= 0x20
        id_bytes = ident.to_bytes(2, "big")
    else:
        id_bytes = bytes([ident])
    n = len(value)
    if n < 8:
        head |= n
        len_bytes = b""
    elif n <= 0xFF:
        head |= 0x08
        len_bytes = n.to_bytes(1, "big")
    elif n <= 0xFFFF:
        head |= 0x10
        len_bytes = n.to_bytes(2, "big")
    elif n <= 0xFFFFFF:
        head |= 0x18
        len_bytes = n.to_bytes(3, "big")
    else:
        raise ValueError("TLV value longer than 16 MiB")
    return bytes([head]) + id_bytes + len_bytes + bytes(value)


def tlv_int(v):
    # Integers take 1, 2, 4 or 8 bytes, two's complement; the shortest that holds the value.
    for size in (1, 2, 4, 8):
        lo, hi = -(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1
        if lo <= v <= hi:
            return v.to_bytes(size, "big", signed=True)
    raise ValueError(f"integer {v} does not fit in 64 bits")


def tlv_value(v):
    if isinstance(v, bool):
        return b"\x01" if v else b"\x00"
    if isinstance(v, int):
        return tlv_int(v)
    if isinstance(v, str):
        return v.encode("utf-8")
    return bytes(v)


def tlv_instance(iid, resources):
    body = b"".join(tlv_entry(TLV_RESOURCE, rid, tlv_value(v)) for rid, v in resources)
    return tlv_entry(TLV_OBJECT_INSTANCE, iid, body)


def security_instance(iid, uri, ssid):
    # Object 0: 0 URI, 1 Bootstrap-Server, 2 Security Mode (3 = NoSec), 3/4/5 keys, 10 SSID.
    return tlv_instance(
        iid,
        [(0, uri), (1, False), (2, 3), (3, b""), (4, b""), (5, b""), (10, ssid)],
    )


def server_instance(iid, ssid, lifetime, binding):
    # Object 1: 0 SSID, 1 Lifetime, 6 Notification Storing, 7 Binding.
    return tlv_instance(iid, [(0, ssid), (1, lifetime), (6, False), (7, binding)])


def tlv_decode(data):
    """Returns [(kind, id, value-bytes or nested list)]; raises Failure on malformed input."""
    out, i = [], 0
    while i < len(data):
        head = data[i]
        i += 1
        kind = head >> 6
        id_len = 2 if head & 0x20 else 1
        len_kind = (head >> 3) & 0x03
        if i + id_len + len_kind > len(data):
            raise Failure(f"TLV header truncated at byte {i - 1}")
        ident = int.from_bytes(data[i : i + id_len], "big")
        i += id_len
        if len_kind == 0:
            n = head & 0x07
        else:
            n = int.from_bytes(data[i : i + len_kind], "big")
            i += len_kind
        if i + n > len(data):
            raise Failure(f"TLV value of id {ident} truncated ({n} B announced)")
        value = data[i : i + n]
        i += n
        if kind in (TLV_OBJECT_INSTANCE, TLV_MULTIPLE_RESOURCE):
            value = tlv_decode(value)
        out.append((kind, ident, value))
    return out


def check_tlv_encoder():
    """Our encoder must reproduce the derived Bootstrap-Write vectors (VECTORS.md §5)."""
    sec = security_instance(1, "coap://127.0.0.1:5683", 123)
    want_sec = bytes.fromhex(
        "080127c80015636f61703a2f2f3132372e302e302e313a35363833"
        "c10100c10203c003c004c005c10a7b"
    )
    srv = server_instance(0, 123, 300, "U")
    want_srv = bytes.fromhex("08000dc1007bc201012cc10600c10755")
    if sec != want_sec:
        raise Failure(f"TLV encoder: PUT /0/1 {sec.hex()} != vector {want_sec.hex()}")
    if srv != want_srv:
        raise Failure(f"TLV encoder: PUT /1/0 {srv.hex()} != vector {want_srv.hex()}")
    if tlv_decode(want_srv) != [
        (0, 0, [(3, 0, b"\x7b"), (3, 1, b"\x01\x2c"), (3, 6, b"\x00"), (3, 7, b"U")])
    ]:
        raise Failure("TLV decoder does not read back the /1/0 vector")


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------

T0 = time.monotonic()


def step(text):
    print(f"[{time.monotonic() - T0:6.2f}s] ok   {text}", flush=True)


def expect(cond, text):
    """A check the rest of the scenario depends on: stop here."""
    if not cond:
        raise Failure(text)


DEFECTS = []


def check(cond, text):
    """A check later steps do not depend on: record it, print it, go on, fail at the end."""
    if not cond:
        DEFECTS.append(text)
        print(f"[{time.monotonic() - T0:6.2f}s] FAIL {text}", flush=True)
    return cond


def describe(msg):
    code = msg.code.dotted if hasattr(msg.code, "dotted") else str(msg.code)
    ct = msg.opt.content_format
    ct = f" ct={int(ct)}" if ct is not None else ""
    payload = bytes(msg.payload)
    try:
        shown = payload.decode("utf-8")
        if any(ord(c) < 32 for c in shown):
            raise ValueError
        shown = repr(shown)
    except ValueError:
        shown = payload.hex()
    return f"{code}{ct} {shown}" if payload else f"{code}{ct}"


def query_map(request):
    out = {}
    for q in request.opt.uri_query:
        k, _, v = q.partition("=")
        out[k] = v
    return out


def expect_code(resp, code, what):
    expect(resp.code == code, f"{what}: expected {code.dotted}, got {describe(resp)}")


# ---------------------------------------------------------------------------------------------
# The device process
# ---------------------------------------------------------------------------------------------


def _die_with_parent():
    # Linux: the device gets SIGKILL if this script dies without cleaning up (say, killed by a
    # test harness timeout), so no device is left running. prctl(PR_SET_PDEATHSIG = 1, ...).
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


class Device:
    def __init__(self):
        self.proc = None
        self.lines = []
        self.port = None
        self._port_known = asyncio.Event()
        self._reader = None

    async def start(self, binary, args):
        cmd = [binary, "--verbose", "--port", "0", *args]
        print(f"[{time.monotonic() - T0:6.2f}s] run  {' '.join(cmd)}", flush=True)
        self.proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        self._reader = asyncio.create_task(self._read())
        try:
            await asyncio.wait_for(self._port_known.wait(), STEP_TIMEOUT)
        except asyncio.TimeoutError:
            raise Failure("device did not print its UDP address") from None

    async def _read(self):
        while True:
            raw = await self.proc.stdout.readline()
            if not raw:
                self._port_known.set()
                return
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(f"{time.monotonic() - T0:6.2f}s {line}")
            m = re.match(r"endpoint \S+ on udp [\d.]+:(\d+)$", line)
            if m:
                self.port = int(m.group(1))
                self._port_known.set()

    def received(self):
        """(source port, description) of every datagram the device says it received."""
        out = []
        for line in self.lines:
            m = re.match(r"\s*[\d.]+s <- ([\d.]+):(\d+) (.*)$", line)
            if m:
                out.append((m.group(1), int(m.group(2)), m.group(3)))
        return out

    async def terminate_and_wait(self, timeout):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            raise Failure(f"device still running {timeout:.0f} s after SIGTERM") from None
        await self._reader
        return code

    async def kill(self):
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 1.0)
            except (asyncio.TimeoutError, Exception):
                pass


# ---------------------------------------------------------------------------------------------
# Server sites. Each answers what the device sends and queues an event for the scenario.
# ---------------------------------------------------------------------------------------------


class PeerSite(aiocoap.resource.Resource):
    """One site per server; `render` sees every request whatever its path."""

    def __init__(self, name):
        super().__init__()
        self.name = name
        self.events = asyncio.Queue()
        self.requests = []  # (method, path, queries, source) of every request received

    async def next_event(self, kind, timeout=STEP_TIMEOUT):
        try:
            while True:
                ev = await asyncio.wait_for(self.events.get(), timeout)
                if ev[0] == kind:
                    return ev
                raise Failure(f"{self.name}: expected {kind}, got {ev[0]} {ev[1:]}")
        except asyncio.TimeoutError:
            raise Failure(f"{self.name}: no {kind} from the device within {timeout:.0f} s") from None

    async def render(self, request):
        path = tuple(request.opt.uri_path)
        self.requests.append((request.code, path, query_map(request), request.remote))
        return self.handle(request.code, path, query_map(request), request)

    def handle(self, method, path, query, request):
        return Message(code=aiocoap.NOT_FOUND)


class BootstrapSite(PeerSite):
    def handle(self, method, path, query, request):
        if method == POST and path == ("bs",):
            self.events.put_nowait(("bootstrap-request", query, request.remote))
            return Message(code=aiocoap.CHANGED)
        return Message(code=aiocoap.NOT_FOUND)


class ServerSite(PeerSite):
    def __init__(self, name):
        super().__init__(name)
        self.location = None
        self.next_id = 1

    def handle(self, method, path, query, request):
        if method == POST and path == ("rd",):
            # Core 1.1 §6.2.1 / FACTS §3.1: 2.01 Created with the location of the registration.
            self.location = f"r{self.next_id:04d}"
            self.next_id += 1
            cf = request.opt.content_format
            self.events.put_nowait(
                ("register", query, request.remote, cf, bytes(request.payload))
            )
            return Message(code=aiocoap.CREATED, location_path=("rd", self.location))
        if path == ("rd", self.location) and self.location is not None:
            if method == POST:
                self.events.put_nowait(("update", query, bytes(request.payload)))
                return Message(code=aiocoap.CHANGED)
            if method == DELETE:
                self.events.put_nowait(("deregister",))
                return Message(code=aiocoap.DELETED)
        return Message(code=aiocoap.NOT_FOUND)


async def server_context(site):
    # udp6 only: one socket that both serves and sends, so every request the peers send goes
    # out from the port the device knows them by.
    ctx = await aiocoap.Context.create_server_context(
        site, bind=(HOST, 0), transports=["udp6"]
    )
    sock = (
        ctx.request_interfaces[0]
        .token_interface.message_interface.transport.get_extra_info("socket")
    )
    return ctx, sock.getsockname()[1]


async def call(ctx, base, method, path, what, payload=b"", content_format=None, accept=None):
    """One CON request to the device; returns the response or raises Failure."""
    msg = Message(
        code=method,
        uri=f"{base}/{path.lstrip('/')}",
        payload=payload,
        transport_tuning=aiocoap.Reliable,
    )
    if content_format is not None:
        msg.opt.content_format = content_format
    if accept is not None:
        msg.opt.accept = accept
    try:
        return await asyncio.wait_for(ctx.request(msg).response, STEP_TIMEOUT)
    except asyncio.TimeoutError:
        raise Failure(f"{what}: no response within {STEP_TIMEOUT:.0f} s") from None
    except aiocoap.error.Error as e:
        raise Failure(f"{what}: {type(e).__name__}: {e}") from None


def remote_base(remote):
    host, port = remote.sockaddr[0], remote.sockaddr[1]
    if host.startswith("::ffff:"):
        host = host[len("::ffff:") :]
    return f"coap://{host}:{port}", port


# ---------------------------------------------------------------------------------------------
# Scenario parts
# ---------------------------------------------------------------------------------------------


async def run_bootstrap(bs_ctx, bs_site, device, server_uri, endpoint):
    _, query, remote = await bs_site.next_event("bootstrap-request")
    expect(query.get("ep") == endpoint, f"Bootstrap-Request ep={query.get('ep')!r}")
    base, port = remote_base(remote)
    expect(port == device.port, f"Bootstrap-Request came from port {port}, device said {device.port}")
    step(f"POST /bs?ep={endpoint} from {base} -> 2.04")

    resp = await call(bs_ctx, base, DELETE, "/", "Bootstrap-Delete /")
    expect_code(resp, aiocoap.DELETED, "Bootstrap-Delete /")
    step("DELETE / -> 2.02")

    sec = security_instance(1, server_uri, 123)
    resp = await call(bs_ctx, base, PUT, "/0/1", "Bootstrap-Write /0/1", sec, CF_TLV)
    expect_code(resp, aiocoap.CHANGED, "Bootstrap-Write /0/1")
    step(f"PUT /0/1 (Security: {server_uri}, NoSec, SSID 123; {len(sec)} B TLV) -> 2.04")

    srv = server_instance(0, 123, 30, "U")
    resp = await call(bs_ctx, base, PUT, "/1/0", "Bootstrap-Write /1/0", srv, CF_TLV)
    expect_code(resp, aiocoap.CHANGED, "Bootstrap-Write /1/0")
    step(f"PUT /1/0 (Server: SSID 123, lifetime 30, binding U) -> 2.04 [{srv.hex()}]")

    # The device must only take bootstrap operations from the Bootstrap-Server's address and
    # port: a Bootstrap-Delete from another port must be dropped. Had it been obeyed, the
    # Finish below would find no server account and answer 4.06.
    stranger = await aiocoap.Context.create_client_context(transports=["udp6"])
    try:
        msg = Message(code=DELETE, uri=f"{base}/", transport_tuning=aiocoap.Unreliable)
        try:
            resp = await asyncio.wait_for(stranger.request(msg).response, 0.5)
            raise Failure(f"DELETE / from a foreign port was answered: {describe(resp)}")
        except asyncio.TimeoutError:
            pass
    finally:
        await stranger.shutdown()
    step("DELETE / from a foreign port -> ignored")

    resp = await call(bs_ctx, base, POST, "/bs", "Bootstrap-Finish")
    expect_code(resp, aiocoap.CHANGED, "Bootstrap-Finish")
    step("POST /bs (Bootstrap-Finish) -> 2.04")


async def run_management(ctx, site, device, endpoint, lifetime, binding="U"):
    _, query, remote, cf, payload = await site.next_event("register")
    base, port = remote_base(remote)
    expect(port == device.port, f"Register came from port {port}, device said {device.port}")
    expect(query.get("ep") == endpoint, f"Register ep={query.get('ep')!r}, want {endpoint!r}")
    expect(query.get("lt") == str(lifetime), f"Register lt={query.get('lt')!r}, want {lifetime}")
    expect(query.get("lwm2m") in ("1.0", "1.1"), f"Register lwm2m={query.get('lwm2m')!r}")
    expect(query.get("b", "U") == binding, f"Register b={query.get('b')!r}")
    expect(cf is not None and int(cf) == CF_LINK, f"Register Content-Format {cf}, want 40")
    links = payload.decode("utf-8", "replace")
    expect("</3/0>" in links, f"Register payload lacks </3/0>: {links!r}")
    rd = site.location
    step(
        f"POST /rd?{'&'.join(f'{k}={v}' for k, v in query.items())} -> 2.01 /rd/{rd} "
        f"[{links}]"
    )

    # Read /3/0 as TLV (Core 1.1 §6.3.1); the object-instance wrapper is optional with an IID.
    resp = await call(ctx, base, GET, "/3/0", "Read /3/0 TLV", accept=CF_TLV)
    expect_code(resp, aiocoap.CONTENT, "Read /3/0 TLV")
    expect(
        resp.opt.content_format is not None and int(resp.opt.content_format) == CF_TLV,
        f"Read /3/0 TLV: Content-Format {resp.opt.content_format}",
    )
    entries = tlv_decode(bytes(resp.payload))
    if len(entries) == 1 and entries[0][0] == TLV_OBJECT_INSTANCE:
        expect(entries[0][1] == 0, f"Read /3/0 TLV: instance {entries[0][1]}")
        entries = entries[0][2]
    res = {ident: value for kind, ident, value in entries if kind == TLV_RESOURCE}
    multi = {ident: value for kind, ident, value in entries if kind == TLV_MULTIPLE_RESOURCE}
    expect(res.get(0) == b"lwm2mc project", f"/3/0/0 (Manufacturer) = {res.get(0)!r}")
    expect(res.get(1) == b"lwm2mc-cli", f"/3/0/1 (Model Number) = {res.get(1)!r}")
    expect(4 not in res, "/3/0/4 (Reboot, executable) must not appear in a Read")
    expect(6 in multi, "/3/0/6 (Available Power Sources) must be a Multiple-Resource TLV")
    step(
        f"GET /3/0 accept=tlv -> 2.05, {len(resp.payload)} B, {len(res)} resources, "
        f"Manufacturer {res[0].decode()!r}, Model {res[1].decode()!r}"
    )

    resp = await call(ctx, base, GET, "/3/0/0", "Read /3/0/0 text", accept=CF_TEXT)
    expect_code(resp, aiocoap.CONTENT, "Read /3/0/0")
    expect(int(resp.opt.content_format or 0) == CF_TEXT, "Read /3/0/0: Content-Format not text")
    expect(bytes(resp.payload) == b"lwm2mc project", f"Read /3/0/0: {describe(resp)}")
    step("GET /3/0/0 accept=text -> 2.05 'lwm2mc project'")

    resp = await call(ctx, base, GET, "/3/0/9", "Read /3/0/9 SenML JSON", accept=CF_SENML_JSON)
    expect_code(resp, aiocoap.CONTENT, "Read /3/0/9 SenML JSON")
    expect(
        resp.opt.content_format is not None and int(resp.opt.content_format) == CF_SENML_JSON,
        f"Read /3/0/9: Content-Format {resp.opt.content_format}",
    )
    try:
        records = json.loads(bytes(resp.payload))
    except ValueError as e:
        raise Failure(f"Read /3/0/9: not JSON ({e}): {describe(resp)}") from None
    expect(isinstance(records, list) and len(records) == 1, f"Read /3/0/9: {records!r}")
    rec = records[0]
    name = rec.get("bn", "") + rec.get("n", "")
    expect(name == "/3/0/9", f"Read /3/0/9: SenML name {name!r} (bn+n)")
    expect("bn" in rec, f"Read /3/0/9: no bn in {rec!r}")
    expect(rec.get("v") == 87, f"Read /3/0/9: v = {rec.get('v')!r}, want 87")
    step(f"GET /3/0/9 accept=senml+json -> 2.05 {json.dumps(records)}")

    resp = await call(
        ctx, base, PUT, "/3/0/14", "Write /3/0/14", b"+01:00", content_format=CF_TEXT
    )
    expect_code(resp, aiocoap.CHANGED, "Write /3/0/14")
    resp = await call(ctx, base, GET, "/3/0/14", "Read /3/0/14", accept=CF_TEXT)
    expect_code(resp, aiocoap.CONTENT, "Read /3/0/14")
    expect(bytes(resp.payload) == b"+01:00", f"Read /3/0/14 after Write: {describe(resp)}")
    step("PUT /3/0/14 '+01:00' -> 2.04; GET /3/0/14 -> '+01:00'")

    resp = await call(ctx, base, POST, "/3/0/4", "Execute /3/0/4")
    expect_code(resp, aiocoap.CHANGED, "Execute /3/0/4")
    step("POST /3/0/4 (Execute Reboot) -> 2.04")

    resp = await call(ctx, base, GET, "/3/0", "Discover /3/0", accept=CF_LINK)
    expect_code(resp, aiocoap.CONTENT, "Discover /3/0")
    expect(
        resp.opt.content_format is not None and int(resp.opt.content_format) == CF_LINK,
        f"Discover /3/0: Content-Format {resp.opt.content_format}",
    )
    links = bytes(resp.payload).decode("utf-8", "replace")
    targets = re.findall(r"<([^>]*)>", links)
    expect(targets[:1] == ["/3/0"], f"Discover /3/0: first link {targets[:1]} in {links!r}")
    for r in ("/3/0/0", "/3/0/1", "/3/0/14"):
        expect(r in targets, f"Discover /3/0: {r} missing in {links!r}")
    # Core 1.1 §5.4.3 (Discover): the instance's resources are listed, executable ones
    # included -- the TS example for Discover /3 lists </3/0/4>. The device accepted Execute
    # on /3/0/4 above, so it supports that resource and Discover must say so.
    if check("/3/0/4" in targets, f"Discover /3/0 omits the executable /3/0/4 (Reboot) "
             f"that Execute accepted: {links!r}"):
        step(f"GET /3/0 accept=link (Discover) -> 2.05 {len(targets)} links")

    resp = await call(ctx, base, GET, "/0/0", "Read /0/0")
    expect_code(resp, aiocoap.UNAUTHORIZED, "Read /0/0 (Security object)")
    step("GET /0/0 -> 4.01")

    resp = await call(ctx, base, PUT, "/3/0/0", "Write /3/0/0", b"x", content_format=CF_TEXT)
    expect_code(resp, aiocoap.METHOD_NOT_ALLOWED, "Write /3/0/0 (read-only)")
    step("PUT /3/0/0 -> 4.05")

    # Registration Update Trigger (Object 1 resource 8): the device answers, then sends Update.
    resp = await call(ctx, base, POST, "/1/0/8", "Execute /1/0/8")
    expect_code(resp, aiocoap.CHANGED, "Execute /1/0/8")
    _, uq, _ = await site.next_event("update")
    shown = "?" + "&".join(f"{k}={v}" for k, v in uq.items()) if uq else " (empty)"
    step(f"POST /1/0/8 (Update Trigger) -> 2.04; device sent Update POST /rd/{rd}{shown} -> 2.04")
    return rd


async def run_deregister(site, device, rd):
    """SIGTERM: the CLI promises to de-register (Core 1.1 §6.2.3 De-register) and exit 0."""
    exited = asyncio.create_task(device.terminate_and_wait(12.0))
    dereg = asyncio.create_task(site.next_event("deregister", timeout=STEP_TIMEOUT))
    done, _ = await asyncio.wait({exited, dereg}, return_when=asyncio.FIRST_COMPLETED)
    if exited in done and dereg not in done:
        # The process is gone; a DELETE it sent just before would already be here or close.
        await asyncio.wait({dereg}, timeout=0.3)
    got_dereg = False
    if dereg.done():
        try:
            dereg.result()
            got_dereg = True
        except Failure:
            pass
    else:
        dereg.cancel()
    code = await exited
    last = device.lines[-1].strip().split(" ", 1)[-1] if device.lines else "(no output)"
    if check(got_dereg, f"SIGTERM: no De-register (DELETE /rd/{rd}) reached the server; "
             f"device exit status {code}, last line {last!r}"):
        step(f"SIGTERM -> DELETE /rd/{rd} -> 2.02")
    if check(code == 0, f"SIGTERM: device exited with status {code}, want 0; "
             f"last line {last!r}"):
        step("device exited 0")


def check_sources(device, peers):
    """Every request the device received must come from the port of one of our peers, and the
    peers' requests must come from the port the device sent its own request to."""
    seen = 0
    for host, port, text in device.received():
        if not re.match(r"(CON|NON) (GET|POST|PUT|DELETE) ", text):
            continue
        seen += 1
        allowed = peers.get(port)
        if allowed is None and text.startswith("NON DELETE /"):
            continue  # the deliberate foreign-port Bootstrap-Delete
        expect(
            host == HOST and allowed is not None,
            f"device received {text!r} from {host}:{port}, not from a peer port {sorted(peers)}",
        )
    expect(seen > 0, "device transcript shows no received requests (is --verbose printing?)")
    step(
        f"source ports: all {seen} requests the device received came from "
        + ", ".join(f"{name} port {port}" for port, name in sorted(peers.items()))
    )


async def scenario(binary, which, device):
    check_tlv_encoder()
    step("TLV encoder reproduces VECTORS §5 PUT /0/1 and PUT /1/0 byte for byte")
    endpoint = f"interop-{which}"
    contexts = []
    try:
        srv_site = ServerSite("LwM2M Server")
        srv_ctx, srv_port = await server_context(srv_site)
        contexts.append(srv_ctx)
        server_uri = f"coap://{HOST}:{srv_port}"
        peers = {srv_port: "LwM2M Server"}
        if which == "bootstrap":
            bs_site = BootstrapSite("Bootstrap-Server")
            bs_ctx, bs_port = await server_context(bs_site)
            contexts.append(bs_ctx)
            peers[bs_port] = "Bootstrap-Server"
            step(f"aiocoap {aiocoap.meta.version}: Bootstrap-Server on {HOST}:{bs_port}, "
                 f"LwM2M Server on {HOST}:{srv_port}")
            await device.start(
                binary, ["--bootstrap", f"coap://{HOST}:{bs_port}", "--endpoint", endpoint]
            )
            step(f"device up on {HOST}:{device.port}")
            await run_bootstrap(bs_ctx, bs_site, device, server_uri, endpoint)
            lifetime = 30
        else:
            step(f"aiocoap {aiocoap.meta.version}: LwM2M Server on {HOST}:{srv_port}")
            lifetime = 60
            await device.start(
                binary,
                ["--server", server_uri, "--endpoint", endpoint, "--lifetime", str(lifetime)],
            )
            step(f"device up on {HOST}:{device.port}")
        rd = await run_management(srv_ctx, srv_site, device, endpoint, lifetime)
        await run_deregister(srv_site, device, rd)
        if which == "bootstrap":
            order = [t for _, p, t in device.received() if p == bs_port]
            expect(
                order[:2] and order[0].startswith("ACK 2.04") and order[1].startswith("CON DELETE /"),
                f"Bootstrap-Server traffic order at the device: {order[:2]}",
            )
        check_sources(device, peers)
    finally:
        await device.kill()
        for ctx in contexts:
            await ctx.shutdown()
    return device


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("device", help="path to the CLI device binary (examples/client.rs)")
    ap.add_argument("--scenario", choices=["bootstrap", "direct"], default="bootstrap")
    ap.add_argument("--timeout", type=float, default=30.0, help="overall limit in seconds")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)

    device = Device()

    async def top():
        await asyncio.wait_for(scenario(args.device, args.scenario, device), args.timeout)

    failure = None
    try:
        asyncio.run(top())
    except Failure as e:
        failure = str(e)
    except asyncio.TimeoutError:
        failure = f"scenario did not finish within {args.timeout:.0f} s"
    except OSError as e:
        failure = f"{type(e).__name__}: {e}"
    if failure is None and DEFECTS:
        failure = f"{len(DEFECTS)} check(s) failed: " + "; ".join(DEFECTS)
    if failure is not None:
        print(f"FAIL {args.scenario}: {failure}", flush=True)
        print("device transcript:", flush=True)
        for line in device.lines:
            print(f"  | {line}", flush=True)
        sys.exit(1)
    print(f"PASS {args.scenario} ({time.monotonic() - T0:.2f} s)", flush=True)


if __name__ == "__main__":
    main()
