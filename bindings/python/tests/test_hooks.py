"""A transport and a storage written in Python, against the testkit servers."""

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
