"""Syscalls per request of the CLI device's UDP loop (issue 15): an aiocoap LwM2M Server takes
the device's Register, then sends N Reads of /3/0/0 one after the other while the device runs
under `strace -f -c`; the same with N = 0 gives the start-up and shut-down cost, and the
difference divided by N is printed per syscall.

    cargo build --release --example client
    target/python-venv/bin/python scripts/syscalls_per_request.py [N]

Needs strace and aiocoap (the test suite's venv has it)."""

import asyncio
import os
import subprocess
import sys
import tempfile

import aiocoap
import aiocoap.resource
from aiocoap import DELETE, GET, POST, Message

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVICE = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release/examples/client")


class Site(aiocoap.resource.Resource):
    def __init__(self, handle):
        super().__init__()
        self.handle = handle

    async def render(self, request):
        return await self.handle(request)


async def run(n: int, summary: str) -> None:
    registered = asyncio.get_running_loop().create_future()

    async def serve(request):
        path = tuple(request.opt.uri_path)
        if request.code == POST and path == ("rd",):
            if not registered.done():
                registered.set_result(request)
            return Message(code=aiocoap.CREATED, location_path=("rd", "1"))
        return Message(code=aiocoap.DELETED if request.code == DELETE else aiocoap.CHANGED)

    ctx = await aiocoap.Context.create_server_context(Site(serve), bind=("127.0.0.1", 0), transports=["udp6"])
    sock = ctx.request_interfaces[0].token_interface.message_interface.transport.get_extra_info("socket")
    argv = ["strace", "-f", "-c", "-o", summary, DEVICE, "--server", f"coap://127.0.0.1:{sock.getsockname()[1]}",
            "--endpoint", "syscalls"]
    strace = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    try:
        register = await asyncio.wait_for(registered, 20)
        host, port = register.remote.sockaddr[0].replace("::ffff:", ""), register.remote.sockaddr[1]
        await asyncio.sleep(0.5)  # the device has seen its 2.01
        for _ in range(n):
            reply = await asyncio.wait_for(ctx.request(Message(code=GET, uri=f"coap://{host}:{port}/3/0/0")).response, 5)
            assert str(reply.code) == "2.05 Content", reply
    finally:
        # SIGTERM to the device (strace's child): it de-registers and exits, strace writes its summary.
        subprocess.run(["pkill", "-TERM", "-f", f"{DEVICE} --server"], check=False)
        for _ in range(100):
            if strace.poll() is not None:
                break
            await asyncio.sleep(0.1)
        await ctx.shutdown()


def calls(summary: str) -> dict:
    out = {}
    with open(summary) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[3].isdigit():
                out[parts[-1]] = int(parts[3])
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        base, loaded = os.path.join(tmp, "0.txt"), os.path.join(tmp, "n.txt")
        asyncio.run(run(0, base))
        asyncio.run(run(n, loaded))
        a, b = calls(base), calls(loaded)
    for name in sorted(set(a) | set(b)):
        per = (b.get(name, 0) - a.get(name, 0)) / n
        if name != "total" and per >= 0.01:
            print(f"{name:12} {per:.2f} per request")
    print(f"{'total':12} {(b.get('total', 0) - a.get('total', 0)) / n:.2f} per request ({n} Reads of /3/0/0)")


if __name__ == "__main__":
    main()
