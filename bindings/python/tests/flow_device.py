"""The device side of the Python flow test (tests/python.rs): bootstraps from argv[1] with a
temperature object held in Python; the driver's testkit LwM2M Server reads, writes and
executes; the driver closes stdin to stop us. Exits 0 only if everything we saw was right."""

import os
import select
import sys

import lwm2mc


class Temperature(lwm2mc.Object):
    object_id = 3303
    resources = [
        lwm2mc.Resource(5700, lwm2mc.Type.FLOAT, "R", mandatory=True),
        lwm2mc.Resource(5701, lwm2mc.Type.STRING, "R"),
        lwm2mc.Resource(5750, lwm2mc.Type.STRING, "RW"),
    ]

    def __init__(self):
        self.app_type = "lab"
        self.ids = [0]
        self.journal = []  # the transaction steps, in order
        self.saved = None

    def begin(self):
        self.journal.append("begin")
        self.saved = (self.app_type, list(self.ids))

    def validate(self):
        self.journal.append("validate")
        if self.app_type == "nope":  # accepted by write, refused as a whole
            raise lwm2mc.BadRequest()

    def commit(self):
        self.journal.append("commit")

    def rollback(self):
        self.journal.append("rollback")
        self.app_type, self.ids = self.saved

    def instances(self):
        return self.ids

    def present(self, instance):
        # Discover is answered from this: no read (the driver checks 5701 is not read then).
        return [5700, 5701, 5750]

    def create(self, instance):
        self.ids.append(instance)

    def delete(self, instance):
        if instance not in self.ids:
            raise lwm2mc.NotFound()
        self.ids.remove(instance)

    def read(self, instance, resource):
        if instance != 0:
            raise lwm2mc.NotFound()
        if resource == 5700:
            return 21.5
        if resource == 5701:
            raise RuntimeError("sensor unplugged")  # the server gets 5.00, we see it re-raised
        if resource == 5750:
            return self.app_type
        return None

    def write(self, instance, resource, value):
        if resource == 5750 and len(value) <= 8:
            self.app_type = value
            return
        raise lwm2mc.BadRequest()


def main() -> int:
    temp = Temperature()
    reraised = []
    events = []
    with lwm2mc.Client("py-flow", bootstrap=sys.argv[1], objects=[temp]) as client:
        client.start()
        while True:
            try:
                events.extend(client.poll(0.05))
            except RuntimeError as e:  # raised in our read callback, handed back here
                reraised.append(str(e))
            ready, _, _ = select.select([sys.stdin], [], [], 0)
            if ready and not os.read(sys.stdin.fileno(), 64):
                break
        events.extend(client.stop())
    kinds = [e.kind for e in events]
    print("events:", kinds, "reraised:", reraised, "app_type:", temp.app_type, "ids:", temp.ids,
          "journal:", temp.journal, flush=True)
    done = ["begin", "validate", "commit"]
    ok = (
        kinds[:2] == ["bootstrapped", "registered"]
        and "deregistered" in kinds
        and reraised == ["sensor unplugged"]
        and temp.app_type == "office"
        and any(e.kind == "executed" and e.path == "/3/0/4" and e.data == b"1='now'" for e in events)
        and any(e.kind == "written" and e.path == "/3/0/14" for e in events)
        and temp.ids == [1]
        and any(e.kind == "created" and e.path == "/3303/1" for e in events)
        and any(e.kind == "deleted" and e.path == "/3303/0" for e in events)
        # far too long (write refuses), office, nope (validate refuses), create, delete
        and temp.journal == ["begin", "rollback"] + done + ["begin", "validate", "rollback"] + done + done
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
