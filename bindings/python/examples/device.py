#!/usr/bin/env python3
"""An LwM2M device in Python on lwm2mc, with the same flags as the Rust CLI device:
bootstraps (or registers directly), exposes a temperature sensor (IPSO 3303), runs until
SIGINT/SIGTERM, then de-registers.

    python3 bindings/python/examples/device.py --bootstrap coap://127.0.0.1:5783 --endpoint py-dev
"""

import argparse
import math
import os
import signal
import time
import zlib

import lwm2mc


class Temperature(lwm2mc.Object):
    object_id = 3303
    resources = [
        lwm2mc.Resource(5700, lwm2mc.Type.FLOAT, "R", mandatory=True),
        lwm2mc.Resource(5701, lwm2mc.Type.STRING, "R"),
    ]

    def read(self, instance, resource):
        if instance != 0:
            raise lwm2mc.NotFound()
        if resource == 5700:
            return round(21.0 + 2.0 * math.sin(time.time() / 60.0), 2)
        return "Cel" if resource == 5701 else None


class FileFirmware(lwm2mc.Firmware):
    """Firmware update by push: the package goes to a file; "installing" it makes its CRC-32
    the Firmware Version (/3/0/3), which the main loop sets."""

    def __init__(self, path: str) -> None:
        self.path, self.file, self.crc, self.installed = path, None, 0, None

    def open(self, size):
        print(f"firmware: receiving a package ({size} bytes)", flush=True)
        self.file, self.crc = open(self.path + ".part", "wb"), 0

    def write(self, offset, data):
        self.file.write(data)
        self.crc = zlib.crc32(data, self.crc)

    def verify(self):
        self.file.close()
        os.replace(self.path + ".part", self.path)
        print(f"firmware: package complete, crc32 {self.crc:08x}", flush=True)

    def apply(self):
        self.installed = f"fw-{self.crc:08x}"
        print(f"firmware: installed {self.installed}", flush=True)

    def discard(self):
        if self.file is not None:
            self.file.close()
        if os.path.exists(self.path + ".part"):
            os.remove(self.path + ".part")


def main() -> None:
    ap = argparse.ArgumentParser(description="An LwM2M 1.1 device (NoSec over UDP) on lwm2mc")
    who = ap.add_mutually_exclusive_group(required=True)
    who.add_argument("--bootstrap", metavar="URI", help="factory state: one Bootstrap-Server account")
    who.add_argument("--server", metavar="URI", help="factory state: one LwM2M Server account (SSID 1)")
    ap.add_argument("--endpoint", default="lwm2mc-py-device")
    ap.add_argument("--port", type=int, default=0, help="local UDP port (0 = ephemeral)")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--lifetime", type=int, default=300)
    ap.add_argument("--state-file", metavar="DIR", help="keep the configuration in this directory")
    ap.add_argument("--pct", type=int, choices=[110, 112, 11542], help="preferred bootstrap format")
    ap.add_argument("--firmware", metavar="PATH", help="offer firmware update by push; the package goes here")
    ap.add_argument("--psk-identity", metavar="TEXT", help="DTLS PSK identity of the coaps:// factory account")
    ap.add_argument("--psk-key", metavar="HEX", help="DTLS PSK key of the coaps:// factory account, in hex")
    args = ap.parse_args()
    if (args.psk_identity is None) != (args.psk_key is None):
        ap.error("--psk-identity and --psk-key go together")
    try:
        psk_key = bytes.fromhex(args.psk_key) if args.psk_key is not None else None
    except ValueError:
        ap.error("--psk-key: expected hex digits")

    stop = False

    def on_signal(signum, frame):
        nonlocal stop
        stop = True

    firmware = FileFirmware(args.firmware) if args.firmware else None
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with lwm2mc.Client(
        args.endpoint,
        bootstrap=args.bootstrap,
        server=args.server,
        lifetime=args.lifetime,
        pct=args.pct,
        state_dir=args.state_file,
        bind=f"{args.bind}:{args.port}",
        objects=[Temperature()],
        firmware=firmware,
        device={"model": "lwm2mc-py-device", "serial": "PY-0001"},
        psk_identity=args.psk_identity.encode() if args.psk_identity is not None else None,
        psk_key=psk_key,
    ) as client:
        print(f"endpoint {args.endpoint} on udp port {client.port}", flush=True)
        client.start()
        last = int(time.time())
        while not stop:
            now = int(time.time())
            client.set("/3/0/13", now)  # a store value: observers are notified by itself
            if now != last:  # the sensor Python holds moved: say so, for its observers
                last = now
                client.changed("/3303/0/5700")
            if firmware is not None and firmware.installed:
                client.set("/3/0/3", firmware.installed)
                firmware.installed = None
            for event in client.poll(0.2):
                print(f"event {event.kind} ssid={event.ssid} {event.path} {event.message}", flush=True)
        print("stopping: de-registering", flush=True)
        for event in client.stop():
            print(f"event {event.kind} ssid={event.ssid} {event.path} {event.message}", flush=True)


if __name__ == "__main__":
    main()
