"""A transport and a storage written in Python, against the testkit servers."""

import threading
import time

import pytest

import lwm2mc
from helpers import DictStorage, UdpTransport


def test_python_transport_and_storage_bootstrap_register_and_restart(bs_uri):
    t, s = UdpTransport(), DictStorage()
    with lwm2mc.Client("py-hooks", bootstrap=bs_uri, transport=t, storage=s) as c:
        c.start()
        seen = []
        c.run_until(lambda e: seen.append(e.kind) or e.kind == "registered", timeout=10)
        assert seen[0] == "bootstrapped"
        assert c.is_registered(1)
        assert [i.bootstrap for i in t.opened] == [True, False]
        assert t.opened[1].uri.startswith("coap://127.0.0.1:") and t.opened[1].security_mode == 3
        c.stop()
    assert s.stores >= 1 and s.data, "the bootstrapped configuration was saved"
    # Restart over the saved configuration: registers without the Bootstrap-Server.
    t2 = UdpTransport()
    with lwm2mc.Client("py-hooks", bootstrap=bs_uri, transport=t2, storage=s) as c2:
        c2.start()
        first = c2.run_until(lambda e: e.kind in ("registered", "bootstrapped"), timeout=10)
        assert first.kind == "registered"
        events = c2.stop()
        assert any(e.kind == "deregistered" for e in events)


@pytest.mark.parametrize("transport", ["udp", "python"])
def test_two_threads_polling_one_client_wait_for_each_other(bs_uri, transport):
    # Both threads drive the client through bootstrap and registration with the testkit
    # servers: neither may see a refused call, and no datagram may be lost on the way (a
    # lost one would cost a retransmission, 2 s and more, or the whole exchange). The Python
    # transport's send is slow, so that one thread's call is often running when the other
    # thread's comes.
    class SlowSend(UdpTransport):
        def send(self, peer, data):
            time.sleep(0.02)
            super().send(peer, data)

    t = SlowSend() if transport == "python" else None
    c = lwm2mc.Client(f"py-threads-{transport}", bootstrap=bs_uri, transport=t)
    c.start()
    events, errors = [], []
    registered = threading.Event()

    def drive():
        deadline = time.monotonic() + 15
        while not registered.is_set() and time.monotonic() < deadline:
            try:
                for e in c.poll(0.01):
                    events.append(e)
                    if e.kind == "registered":
                        registered.set()
            except Exception as e:  # noqa: BLE001 - the assertion below reports it
                errors.append(e)
                return

    threads = [threading.Thread(target=drive) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert [e.kind for e in events][:2] == ["bootstrapped", "registered"], events
    assert any(e.kind == "deregistered" for e in c.stop())
    c.close()
