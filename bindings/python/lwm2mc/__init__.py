"""lwm2mc: an OMA LwM2M client (device side) for Python, over the lwm2mc C library.

    import lwm2mc

    with lwm2mc.Client("my-device", bootstrap="coap://127.0.0.1:5783") as client:
        client.start()
        client.run_until(lambda e: e.kind == "registered", timeout=10)
        client.set("/3/0/9", 87)            # battery level
        ...
        client.stop()                        # de-register

Transports, storage and application objects can be written in Python (see `Transport`,
`Storage`, `Object`); the default is the library's own UDP socket.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import enum
import itertools
import threading
import time
import weakref
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Optional, Protocol, Sequence, Union

from . import _ffi

__version__ = "0.1.0"
__all__ = [
    "Client", "Event", "EventKind", "Firmware", "Object", "Resource", "Result", "Type", "ServerInfo", "Transport",
    "Storage", "Lwm2mcError", "ClientClosed", "NotFound", "BadRequest", "MethodNotAllowed",
    "library_version", "error_class",
]

_lib = _ffi.declare(_ffi.load_library())

class Result(enum.IntEnum):
    """lwm2mc_result codes (stable numbering, include/lwm2mc.h)."""

    OK = 0
    NULL_PARAMETER = 1
    INVALID_ARGUMENT = 2
    INSUFFICIENT_SIZE = 3
    NOT_FOUND = 4
    PANIC = 5
    REENTRANT_CALL = 6
    INVALID_STATE = 7
    STORAGE_ERROR = 8
    TRANSPORT_ERROR = 9
    ALREADY_EXISTS = 10
    UNSUPPORTED = 11
    INTERNAL = 12
    BUSY = 13


# The codes as module constants too (they compare equal to plain ints).
(OK, NULL_PARAMETER, INVALID_ARGUMENT, INSUFFICIENT_SIZE, NOT_FOUND, PANIC, REENTRANT_CALL,
 INVALID_STATE, STORAGE_ERROR, TRANSPORT_ERROR, ALREADY_EXISTS, UNSUPPORTED, INTERNAL, BUSY) = tuple(Result)


def library_version() -> str:
    """Version of the loaded C library."""
    return _lib.lwm2mc_version().decode()


class Lwm2mcError(Exception):
    """A library call failed; `result` is the lwm2mc_result code, the message the library's."""

    def __init__(self, result: int, context: str = "") -> None:
        self.result = Result(result) if result in Result._value2member_map_ else result
        message = _lib.lwm2mc_result_str(result).decode()
        super().__init__(f"{context}: {message}" if context else message)


# One exception class per result code, each a Lwm2mcError: `except lwm2mc.BusyError` catches
# exactly that case, `except lwm2mc.Lwm2mcError` still catches them all.
_ERROR_CLASSES: dict[int, type] = {}
for _code in Result:
    if _code is not Result.OK:
        _name = "".join(w.capitalize() for w in _code.name.split("_")) + "Error"
        _ERROR_CLASSES[_code] = type(_name, (Lwm2mcError,), {
            "__doc__": f"The library answered {_code.name} ({int(_code)}).",
            "__module__": __name__,
        })
        globals()[_name] = _ERROR_CLASSES[_code]
        __all__.append(_name)


def error_class(result: int) -> type:
    """The Lwm2mcError subclass raised for `result` (Lwm2mcError itself for an unknown code)."""
    return _ERROR_CLASSES.get(result, Lwm2mcError)


class ClientClosed(Lwm2mcError):
    """The client was closed."""

    def __init__(self) -> None:
        Exception.__init__(self, "the client is closed")
        self.result = INVALID_STATE


class ServerError(Exception):
    """Raise from an `Object` method to answer the server with a specific error."""

    result = INTERNAL


class NotFound(ServerError):
    """The instance or resource does not exist (the server gets 4.04)."""

    result = NOT_FOUND


class BadRequest(ServerError):
    """The value or arguments are not acceptable (the server gets 4.00)."""

    result = INVALID_ARGUMENT


class MethodNotAllowed(ServerError):
    """The operation is not allowed here (the server gets 4.05)."""

    result = UNSUPPORTED


class Type(enum.IntEnum):
    """Resource data types (lwm2mc_type)."""

    NONE = 0
    STRING = 1
    INTEGER = 2
    UNSIGNED = 3
    FLOAT = 4
    BOOLEAN = 5
    OPAQUE = 6
    TIME = 7
    OBJLNK = 8
    CORELNK = 9


class Resource(NamedTuple):
    """One resource of an application object. `operations`: "R", "W", "RW" or "E"."""

    id: int
    type: int
    operations: str = "R"
    multiple: bool = False
    mandatory: bool = False


class Object:
    """Base class of an application object whose values Python holds. Override `read` (and
    `write`, `execute`, `instances` as needed). Raise `NotFound`, `BadRequest` or
    `MethodNotAllowed` to answer with that error; any other exception answers 5.00 and is
    re-raised from the client call that was running."""

    object_id: int = 0
    version: str = "1.0"
    multiple: bool = True
    resources: Sequence[Resource] = ()

    def instances(self) -> list[int]:
        return [0]

    def read(self, instance: int, resource: int) -> Any:
        raise NotFound()

    def write(self, instance: int, resource: int, value: Any) -> None:
        raise MethodNotAllowed()

    def execute(self, instance: int, resource: int, args: bytes) -> None:
        raise MethodNotAllowed()

    def create(self, instance: int) -> None:
        """A server created `instance`; its initial values follow through `write`."""
        raise MethodNotAllowed()

    def delete(self, instance: int) -> None:
        raise MethodNotAllowed()

    def present(self, instance: int) -> Optional[list[int]]:
        """The resource IDs `instance` holds, for Discover, which then reads nothing. By
        default None: the library reads the readable resources to see which are present.
        (`resources`, the class attribute, lists the definitions; this lists what is there.)"""
        return None

    # The transaction around each server request that changes this object: `begin` before
    # its first write, create or delete; then `validate` (raise to refuse the whole request)
    # and `commit`, or `rollback`, which must restore what `begin` saw. Override them together.

    def begin(self) -> None:
        """A server request is about to change this object."""

    def validate(self) -> None:
        """Every change of the request was made; raise (e.g. `BadRequest`) to refuse it."""

    def commit(self) -> None:
        """The request succeeded."""

    def rollback(self) -> None:
        """The request failed (here, in another object, or saving it): undo since `begin`."""


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """What a transport needs to reach a server (from its Security instance)."""

    uri: str
    host: str
    port: int
    secure: bool
    bootstrap: bool
    security_mode: int
    identity: bytes
    server_public_key: bytes
    secret_key: bytes


class Transport(Protocol):
    """A datagram transport written in Python. `open` returns a peer handle (a positive int)
    that `send`/`close` get back; `receive(timeout)` returns the (peer, datagram) pairs that
    arrived, waiting at most `timeout` seconds."""

    def open(self, info: ServerInfo) -> int: ...
    def send(self, peer: int, data: bytes) -> None: ...
    def close(self, peer: int) -> None: ...
    def receive(self, timeout: float) -> Iterable[tuple[int, bytes]]: ...


class Storage(Protocol):
    """Persistent storage written in Python: whole values by short ASCII keys."""

    def load(self, key: str) -> Optional[bytes]: ...
    def store(self, key: str, data: bytes) -> None: ...
    def erase(self, key: str) -> None: ...


@dataclasses.dataclass(frozen=True)
class Event:
    """Something that happened: `kind` is one of "bootstrapped", "bootstrap_failed",
    "registered", "registration_updated", "registration_failed", "deregistered", "executed",
    "written", "storage_error", "smartcard_provisioned", "smartcard_removed",
    "bootstrap_account_purged", "created", "deleted", "bootstrap_finish_refused" (the names of
    `lwm2mc_event_kind_str`)."""

    kind: str
    ssid: int = 0
    path: str = ""
    data: bytes = b""
    message: str = ""
    #: The same kind as a number (lwm2mc_event_kind); None for a kind this module predates.
    code: Optional["EventKind"] = None


class EventKind(enum.IntEnum):
    """lwm2mc_event_kind; `Event.kind` is the lower-case name of its member."""

    BOOTSTRAPPED = 0
    BOOTSTRAP_FAILED = 1
    REGISTERED = 2
    REGISTRATION_UPDATED = 3
    REGISTRATION_FAILED = 4
    DEREGISTERED = 5
    EXECUTED = 6
    WRITTEN = 7
    STORAGE_ERROR = 8
    SMARTCARD_PROVISIONED = 9
    SMARTCARD_REMOVED = 10
    BOOTSTRAP_ACCOUNT_PURGED = 11
    CREATED = 12
    DELETED = 13
    BOOTSTRAP_FINISH_REFUSED = 14
    EVENTS_DROPPED = 15
    SEND_FAILED = 16
    OBSERVATION_STARTED = 17
    OBSERVATION_CANCELLED = 18
    SEND_COMPLETED = 19
    SEND_REJECTED = 20
    FIRMWARE_UPDATE_AWAITING_USER = 21
    SECURE_SESSION_ESTABLISHED = 22
    SECURE_SESSION_FAILED = 23
    SLEEPING = 24
    AWAKE = 25



# lwm2mc_limit, in numbering order.
_LIMITS = ("max_request_payload", "max_response_payload", "max_instances", "max_queued_events",
           "max_observations", "max_attribute_levels", "max_stored_notifications")

# lwm2mc_root_formats, in numbering order.
_ROOT_FORMATS = ("preferred", "all", "none")

# ---- callback plumbing: trampolines live at module level and are never collected; userdata
# is an integer key into this registry, never a raw Python object pointer (DESIGN §5). ----


class _Hooks:
    def __init__(self) -> None:
        self.transport: Optional[Transport] = None
        self.storage: Optional[Storage] = None
        self.objects: dict[int, Object] = {}
        self.log: Optional[Callable[[int, str], None]] = None
        self.firmware: Optional["Firmware"] = None
        self.error: Optional[BaseException] = None
        self.keep: Any = None  # bytes handed to C during a callback

    def fail(self, e: BaseException, code: int) -> int:
        if isinstance(e, ServerError):
            return e.result
        if self.error is None:
            self.error = e
        return code


# Weak: the client owns its hooks. A strong global entry would root any cycle in which a
# transport or object refers back to its client, and that client could never be collected. A
# callback that finds its hooks gone (the client is being collected) does nothing.
_registry: dict[int, "weakref.ref[_Hooks]"] = {}
_registry_lock = threading.Lock()
_keys = itertools.count(1)


def _hooks(ud: Optional[int]) -> Optional[_Hooks]:
    ref = _registry.get(ud or 0)
    return ref() if ref is not None else None


def _bytes(ptr: Any, n: int) -> bytes:
    return ctypes.string_at(ptr, n) if n else b""


@_ffi.OPEN_CB
def _t_open(ud, info_p, peer_out):
    h = _hooks(ud)
    if h is None or h.transport is None:
        return TRANSPORT_ERROR
    try:
        i = info_p.contents
        info = ServerInfo(
            uri=i.uri.decode(), host=i.host.decode(), port=i.port, secure=bool(i.secure),
            bootstrap=bool(i.bootstrap), security_mode=i.security_mode,
            identity=_bytes(i.identity, i.identity_len),
            server_public_key=_bytes(i.server_public_key, i.server_public_key_len),
            secret_key=_bytes(i.secret_key, i.secret_key_len),
        )
        handle = int(h.transport.open(info))
        if handle <= 0:
            raise ValueError("Transport.open must return a positive int handle")
        peer_out[0] = handle
        return OK
    except BaseException as e:  # noqa: BLE001 - stored and re-raised after the C call
        return h.fail(e, TRANSPORT_ERROR)


@_ffi.SEND_CB
def _t_send(ud, peer, buf, n):
    h = _hooks(ud)
    if h is None or h.transport is None:
        return TRANSPORT_ERROR
    try:
        h.transport.send(int(peer), _bytes(buf, n))
        return OK
    except BaseException as e:  # noqa: BLE001
        return h.fail(e, TRANSPORT_ERROR)


@_ffi.CLOSE_CB
def _t_close(ud, peer):
    h = _hooks(ud)
    if h is None or h.transport is None:
        return
    try:
        h.transport.close(int(peer))
    except BaseException as e:  # noqa: BLE001
        h.fail(e, TRANSPORT_ERROR)


class Firmware:
    """Firmware update (object 5): the package a server writes to /5/0/0, or one the library
    pulls from a coap:// Package URI (/5/0/1), arrives through `write`, in order; `verify`
    checks it, `apply` installs it. Other schemes listed in `download_protocols` (/5/0/8
    values: 1 CoAPS, 2 HTTP, 3 HTTPS, 4 CoAP over TCP, 5 CoAP over TLS) go to `download`,
    which stores the package itself and reports the end with `Client.firmware_downloaded`.
    `defer_update` returning True makes an executed Update wait for the user (Update Result
    11, event "firmware_update_awaiting_user") until `Client.firmware_accept_update`, or until
    the server's Maximum Defer Period (/5/0/13) runs out. Each returns None for
    success or an Update Result code (Core 1.1 §E.6): 2 not enough flash, 3 out of RAM, 5
    integrity check failure, 6 unsupported package type; from `apply` 8 (failed, package kept)
    or 5, or `RESTARTING` when the device restarts to finish (the library then keeps State
    Updating in its storage and asks `outcome` after the restart). An exception counts as a
    failure (5 from verify, 2 from open/write, 8 from apply) and is re-raised from the client
    call that was running."""

    #: What `apply` returns when the device restarts to finish installing.
    RESTARTING = 256

    def open(self, size: Optional[int]) -> Optional[int]:
        return None

    def write(self, offset: int, data: bytes) -> Optional[int]:
        return None

    def verify(self) -> Optional[int]:
        return None

    def apply(self) -> Optional[int]:
        return 8

    def discard(self) -> None:
        pass

    def outcome(self) -> Optional[int]:
        """After a restart during an installation: None if the new firmware runs, else 8/5."""
        return None

    #: /5/0/8 values of the protocols `download` handles (read once, when the client is made).
    download_protocols: Sequence[int] = ()

    def download(self, uri: str) -> Optional[int]:
        """Start downloading `uri`; None once started, else an Update Result (4, 7, 9, ...)."""
        return 9

    def defer_update(self) -> bool:
        """Whether an executed Update waits for the user."""
        return False


def _fw_call(ud, name: str, failure: int, *args) -> int:
    h = _hooks(ud)
    if h is None or h.firmware is None:
        return failure
    try:
        r = getattr(h.firmware, name)(*args)
        return 0 if r is None else int(r)
    except BaseException as e:  # noqa: BLE001
        if h.error is None:
            h.error = e
        return failure


@_ffi.FW_OPEN_CB
def _fw_open(ud, size, known):
    return _fw_call(ud, "open", 2, int(size) if known else None)


@_ffi.FW_WRITE_CB
def _fw_write(ud, offset, chunk, n):
    return _fw_call(ud, "write", 2, int(offset), _bytes(chunk, n))


@_ffi.FW_STEP_CB
def _fw_verify(ud):
    return _fw_call(ud, "verify", 5)


@_ffi.FW_STEP_CB
def _fw_apply(ud):
    return _fw_call(ud, "apply", 8)


@_ffi.FW_DISCARD_CB
def _fw_discard(ud):
    _fw_call(ud, "discard", 0)


@_ffi.FW_STEP_CB
def _fw_outcome(ud):
    return _fw_call(ud, "outcome", 8)


@_ffi.FW_DOWNLOAD_CB
def _fw_download(ud, uri):
    return _fw_call(ud, "download", 9, uri.decode())


@_ffi.FW_DEFER_CB
def _fw_defer(ud):
    h = _hooks(ud)
    if h is None or h.firmware is None:
        return False
    try:
        return bool(h.firmware.defer_update())
    except BaseException as e:  # noqa: BLE001
        if h.error is None:
            h.error = e
        return False


@_ffi.LOAD_CB
def _s_load(ud, key, buf, cap, out_n):
    h = _hooks(ud)
    if h is None or h.storage is None:
        return STORAGE_ERROR
    try:
        data = h.storage.load(key.decode())
        if data is None:
            return NOT_FOUND
        out_n[0] = len(data)
        if len(data) > cap:
            return INSUFFICIENT_SIZE
        ctypes.memmove(buf, data, len(data))
        return OK
    except BaseException as e:  # noqa: BLE001
        return h.fail(e, STORAGE_ERROR)


@_ffi.STORE_CB
def _s_store(ud, key, buf, n):
    h = _hooks(ud)
    if h is None or h.storage is None:
        return STORAGE_ERROR
    try:
        h.storage.store(key.decode(), _bytes(buf, n))
        return OK
    except BaseException as e:  # noqa: BLE001
        return h.fail(e, STORAGE_ERROR)


@_ffi.ERASE_CB
def _s_erase(ud, key):
    h = _hooks(ud)
    if h is None or h.storage is None:
        return STORAGE_ERROR
    try:
        h.storage.erase(key.decode())
        return OK
    except BaseException as e:  # noqa: BLE001
        return h.fail(e, STORAGE_ERROR)


@_ffi.INSTANCES_CB
def _o_instances(ud, oid, ids, cap, out_n):
    h = _hooks(ud)
    obj = h.objects.get(oid) if h else None
    if obj is None:
        return NOT_FOUND
    try:
        return _put_ids(sorted(set(int(i) for i in obj.instances())), ids, cap, out_n)
    except BaseException as e:  # noqa: BLE001
        return h.fail(e, INTERNAL)


def _put_ids(got: list[int], ids, cap: int, out_n) -> int:
    """Hands a list of IDs to the library; more than `cap` asks for a bigger buffer."""
    out_n[0] = len(got)
    if len(got) > cap:
        return INSUFFICIENT_SIZE
    for k, i in enumerate(got):
        ids[k] = i
    return OK


@_ffi.RESOURCES_CB
def _o_resources(ud, oid, iid, ids, cap, out_n):
    h = _hooks(ud)
    obj = h.objects.get(oid) if h else None
    if obj is None:
        return NOT_FOUND
    try:
        listed = obj.present(iid)
        if listed is None:  # an override that declines: the library reads instead
            return UNSUPPORTED
        return _put_ids(sorted(set(int(r) for r in listed)), ids, cap, out_n)
    except BaseException as e:  # noqa: BLE001
        return h.fail(e, INTERNAL)


def _to_c(value: Any, rtype: int, out: _ffi.Value, hooks: Optional[_Hooks]) -> None:
    out.type = rtype
    if rtype in (Type.STRING, Type.CORELNK, Type.OPAQUE):
        raw = value.encode() if isinstance(value, str) else bytes(value)
        buf = ctypes.create_string_buffer(raw, len(raw))
        if hooks is not None:
            hooks.keep = buf  # alive until C copied it
        out.bytes = ctypes.cast(buf, _ffi.u8p)
        out.len = len(raw)
        return out.__setattr__("_keep", buf)
    if rtype in (Type.INTEGER, Type.TIME):
        out.integer = int(value)
    elif rtype == Type.UNSIGNED:
        out.unsigned_integer = int(value)
    elif rtype == Type.FLOAT:
        out.floating = float(value)
    elif rtype == Type.BOOLEAN:
        out.boolean = bool(value)
    elif rtype == Type.OBJLNK:
        out.objlnk_object, out.objlnk_instance = value
    else:
        raise ValueError(f"unsupported resource type {rtype}")


def _from_c(v: _ffi.Value) -> Any:
    t = v.type
    if t in (Type.STRING, Type.CORELNK):
        return _bytes(v.bytes, v.len).decode()
    if t == Type.OPAQUE:
        return _bytes(v.bytes, v.len)
    if t in (Type.INTEGER, Type.TIME):
        return v.integer
    if t == Type.UNSIGNED:
        return v.unsigned_integer
    if t == Type.FLOAT:
        return v.floating
    if t == Type.BOOLEAN:
        return bool(v.boolean)
    if t == Type.OBJLNK:
        return (v.objlnk_object, v.objlnk_instance)
    raise ValueError(f"unknown value type {t}")


@_ffi.READ_CB
def _o_read(ud, oid, iid, rid, out):
    h = _hooks(ud)
    obj = h.objects.get(oid) if h else None
    if obj is None:
        return NOT_FOUND
    try:
        res = next((r for r in obj.resources if r.id == rid), None)
        if res is None:
            return NOT_FOUND
        value = obj.read(int(iid), int(rid))
        if value is None:
            return NOT_FOUND
        _to_c(value, res.type, out.contents, h)
        return OK
    except BaseException as e:  # noqa: BLE001
        return h.fail(e, INTERNAL)


@_ffi.WRITE_CB
def _o_write(ud, oid, iid, rid, value):
    h = _hooks(ud)
    obj = h.objects.get(oid) if h else None
    if obj is None:
        return NOT_FOUND
    try:
        obj.write(int(iid), int(rid), _from_c(value.contents))
        return OK
    except BaseException as e:  # noqa: BLE001
        return h.fail(e, INTERNAL)


@_ffi.EXECUTE_CB
def _o_execute(ud, oid, iid, rid, args, n):
    h = _hooks(ud)
    obj = h.objects.get(oid) if h else None
    if obj is None:
        return NOT_FOUND
    try:
        obj.execute(int(iid), int(rid), _bytes(args, n))
        return OK
    except BaseException as e:  # noqa: BLE001
        return h.fail(e, INTERNAL)


def _instance_op(ud, oid, iid, op: str) -> int:
    h = _hooks(ud)
    obj = h.objects.get(oid) if h else None
    if obj is None:
        return NOT_FOUND
    try:
        getattr(obj, op)(int(iid))
        return OK
    except BaseException as e:  # noqa: BLE001
        return h.fail(e, INTERNAL)


_TRANSACTION_STEPS = ("begin", "validate", "commit", "rollback")


@_ffi.TRANSACTION_CB
def _o_transaction(ud, oid, step):
    h = _hooks(ud)
    obj = h.objects.get(oid) if h else None
    if obj is None or not 0 <= step < len(_TRANSACTION_STEPS):
        return NOT_FOUND
    try:
        getattr(obj, _TRANSACTION_STEPS[step])()
        return OK
    except BaseException as e:  # noqa: BLE001
        return h.fail(e, INTERNAL)


@_ffi.CREATE_CB
def _o_create(ud, oid, iid):
    return _instance_op(ud, oid, iid, "create")


@_ffi.DELETE_CB
def _o_delete(ud, oid, iid):
    return _instance_op(ud, oid, iid, "delete")


@_ffi.LOG_CB
def _log(ud, level, msg):
    h = _hooks(ud)
    if h is not None and h.log is not None:
        try:
            h.log(int(level), msg.decode(errors="replace"))
        except BaseException as e:  # noqa: BLE001
            h.fail(e, INTERNAL)


def _ops_bits(ops: str) -> int:
    bits = 0
    for c in ops.upper():
        bits |= {"R": 1, "W": 2, "E": 4}.get(c, 0)
    return bits


def _free_native(handle: int, key: int) -> None:
    """Finalizer: frees the C client, then forgets its hooks (free may still call close)."""
    _lib.lwm2mc_client_free(handle)
    with _registry_lock:
        _registry.pop(key, None)


class Client:
    """An LwM2M client (one device).

    Threads: calls on one Client are serialised by a lock, so several threads may poll and
    use it; each waits for the call running on another thread. Callbacks (transport, storage,
    objects, log) run on the thread whose call runs them, with that lock held: a callback
    calling its own client gets `Lwm2mcError` (REENTRANT_CALL) without anything being done,
    except `close()`, which is then carried out when the running call returns. A callback must
    not wait for another thread that is calling the same client (that thread waits for it).

    Args:
        endpoint: Endpoint Client Name.
        bootstrap: Bootstrap-Server URI (factory state: one NoSec Bootstrap-Server account).
        server: LwM2M Server URI (factory state: one NoSec server account, `short_server_id`).
        lifetime: registration lifetime in seconds (with `server`).
        servers: more NoSec server accounts, as (short_server_id, uri) or (short_server_id,
            uri, lifetime) tuples. A Short Server ID used twice raises `Lwm2mcError`
            (ALREADY_EXISTS).
        version: "1.1" (default) or "1.0".
        pct: preferred bootstrap Content-Format (110, 112 or 11542), sent as pct=.
        root_ct: what Register announces as ct= on the root link: "preferred" (one SenML value,
            the default), "all" (the quoted list; some servers refuse it) or "none".
        limits: bounds on what a server can make the client hold, by name:
            "max_request_payload" (4096), "max_response_payload" (16384), "max_instances" (32),
            "max_queued_events" (64); each at least 1.
        device: Device values: manufacturer, model, serial.
        objects: application objects (`Object` instances).
        transport: a Python `Transport`; default: the built-in UDP socket bound to `bind`.
        storage: a Python `Storage`; or `state_dir` for the built-in file storage (not both).
        ack_timeout_ms: CoAP ACK_TIMEOUT (default 2000).
        block_size: RFC 7959 block size in bytes for long answers (Block2) and for the client's
            own long requests (Block1): 16 to 1024 (default 1024); 0 sends everything whole.
        queue_mode: LwM2M queue mode (Register with `Q`, 1.0 binding `UQ`): "sleeping" and
            "awake" events tell when the radio may be off; a notification or Send due while
            asleep goes out after an Update.
        log: called with (level, message) for warnings such as a datagram that could not be
            sent (1), state changes (2) and datagrams (3).
        psk_identity, psk_key: make the `bootstrap` and `server` accounts PSK ones (Security
            Mode 0, `/0/x/3` and `/0/x/5`; give both, with `coaps://` URIs): the default
            transport then speaks DTLS 1.2 to them. The identity as bytes or text (UTF-8), the
            key as bytes; never logged.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        bootstrap: Optional[str] = None,
        server: Optional[str] = None,
        short_server_id: int = 1,
        lifetime: int = 300,
        servers: Sequence[tuple] = (),
        version: str = "1.1",
        pct: Optional[int] = None,
        root_ct: str = "preferred",
        limits: Optional[dict[str, int]] = None,
        device: Optional[dict[str, str]] = None,
        objects: Sequence[Object] = (),
        transport: Optional[Transport] = None,
        storage: Optional[Storage] = None,
        state_dir: Optional[str] = None,
        bind: str = "127.0.0.1:0",
        ack_timeout_ms: Optional[int] = None,
        log: Optional[Callable[[int, str], None]] = None,
        firmware: Optional[Firmware] = None,
        block_size: Optional[int] = None,
        queue_mode: bool = False,
        psk_identity: Optional[Union[bytes, str]] = None,
        psk_key: Optional[bytes] = None,
    ) -> None:
        self._handle: Optional[int] = None
        self._lock = threading.RLock()
        self._lock_depth = 0  # nesting of _locked() on the thread holding the lock
        self._in_c_call: Optional[int] = None  # thread ident while a C call (and its callbacks) runs
        self._close_pending = False  # close() from a callback: done when the call returns
        self._hooks = _Hooks()
        self._hooks.transport, self._hooks.storage, self._hooks.log = transport, storage, log
        self._hooks.objects = {o.object_id: o for o in objects}
        self._hooks.firmware = firmware
        self._key = next(_keys)
        with _registry_lock:
            _registry[self._key] = weakref.ref(self._hooks)
        self._transport = transport
        cfg = ctypes.c_void_p()
        try:
            self._check(_lib.lwm2mc_config_new(endpoint.encode(), ctypes.byref(cfg)), "config")
            self._configure(cfg, bootstrap, server, short_server_id, lifetime, servers, version, pct, root_ct,
                            device, objects, transport, storage, state_dir, ack_timeout_ms, log)
            for name, value in (limits or {}).items():
                if name not in _LIMITS:
                    raise ValueError(f"unknown limit {name!r}; known: {', '.join(_LIMITS)}")
                self._check(_lib.lwm2mc_config_set_limit(cfg, _LIMITS.index(name), value), name)
            if block_size is not None:
                self._check(_lib.lwm2mc_config_set_block_size(cfg, block_size), "block_size")
            if queue_mode:
                self._check(_lib.lwm2mc_config_set_queue_mode(cfg, True), "queue_mode")
            if (psk_identity is None) != (psk_key is None):
                raise ValueError("give psk_identity and psk_key together")
            if psk_identity is not None and not (bootstrap or server):
                raise ValueError("psk_identity and psk_key are for the bootstrap= or server= account")
            if psk_identity is not None and psk_key is not None:
                ident = psk_identity.encode() if isinstance(psk_identity, str) else bytes(psk_identity)
                key = bytes(psk_key)
                # Short Server ID 0 names the Bootstrap-Server account.
                for ssid, given in ((0, bootstrap), (short_server_id, server)):
                    if given:
                        self._check(_lib.lwm2mc_config_set_psk(cfg, ssid, ident, len(ident), key, len(key)),
                                    "psk")
            if firmware is not None:
                protocols = sum(1 << int(p) for p in firmware.download_protocols if 1 <= int(p) <= 5)
                fw = _ffi.FirmwareCallbacks(ctypes.c_void_p(self._key), _fw_open, _fw_write, _fw_verify, _fw_apply,
                                            _fw_discard, _fw_outcome, protocols, _fw_download, _fw_defer)
                self._check(_lib.lwm2mc_config_set_firmware(cfg, ctypes.byref(fw)), "firmware")
            handle = ctypes.c_void_p()
            self._check(_lib.lwm2mc_client_new(cfg, ctypes.byref(handle)), "client")
            self._handle = handle.value
        except BaseException:
            with _registry_lock:
                _registry.pop(self._key, None)
            raise
        finally:
            _lib.lwm2mc_config_free(cfg)
        self._finalizer = weakref.finalize(self, _free_native, self._handle, self._key)
        if transport is None:
            self._check(_lib.lwm2mc_client_bind_udp(self._handle, bind.encode()), "bind")

    def _configure(self, cfg, bootstrap, server, ssid, lifetime, servers, version, pct, root_ct, device,
                   objects, transport, storage, state_dir, ack_timeout_ms, log) -> None:
        ud = ctypes.c_void_p(self._key)
        if version not in ("1.0", "1.1"):
            raise ValueError("version must be '1.0' or '1.1'")
        if storage is not None and state_dir is not None:
            raise ValueError("give storage or state_dir, not both")
        self._check(_lib.lwm2mc_config_set_lwm2m_version(cfg, 0 if version == "1.0" else 1), "version")
        if bootstrap:
            self._check(_lib.lwm2mc_config_add_bootstrap_server(cfg, bootstrap.encode(), 0), "bootstrap")
        if server:
            self._check(_lib.lwm2mc_config_add_server(cfg, ssid, server.encode(), lifetime), "server")
        for account in servers:
            if not isinstance(account, tuple) or len(account) not in (2, 3):
                raise ValueError("servers: each account is (short_server_id, uri[, lifetime])")
            more_ssid, more_uri = int(account[0]), str(account[1])
            more_lifetime = int(account[2]) if len(account) == 3 else lifetime
            if not 0 <= more_ssid <= 0xFFFF or not 0 <= more_lifetime <= 0xFFFFFFFF:
                raise ValueError(f"servers: {account!r} out of range")
            self._check(_lib.lwm2mc_config_add_server(cfg, more_ssid, more_uri.encode(), more_lifetime),
                        f"server {more_ssid}")
        if pct:
            self._check(_lib.lwm2mc_config_set_preferred_format(cfg, pct), "pct")
        if root_ct not in _ROOT_FORMATS:
            raise ValueError(f"root_ct must be one of {', '.join(_ROOT_FORMATS)}")
        self._check(_lib.lwm2mc_config_set_root_formats(cfg, _ROOT_FORMATS.index(root_ct)), "root_ct")
        if ack_timeout_ms:
            self._check(_lib.lwm2mc_config_set_ack_timeout_ms(cfg, ack_timeout_ms), "ack_timeout_ms")
        d = {"manufacturer": "lwm2mc project", "model": "python", "serial": "PY-0001", **(device or {})}
        self._check(_lib.lwm2mc_config_set_device(cfg, d["manufacturer"].encode(), d["model"].encode(),
                                                  d["serial"].encode()), "device")
        if transport is not None:
            t = _ffi.Transport(ud, _t_open, _t_send, _t_close)
            self._check(_lib.lwm2mc_config_set_transport(cfg, ctypes.byref(t)), "transport")
        if storage is not None:
            s = _ffi.Storage(ud, _s_load, _s_store, _s_erase)
            self._check(_lib.lwm2mc_config_set_storage(cfg, ctypes.byref(s)), "storage")
        elif state_dir is not None:
            self._check(_lib.lwm2mc_config_use_file_storage(cfg, str(state_dir).encode()), "state_dir")
        if log is not None:
            self._check(_lib.lwm2mc_config_set_log(cfg, ud, _log), "log")
        for obj in objects:
            defs = (_ffi.ResourceDef * max(1, len(obj.resources)))()
            for i, r in enumerate(obj.resources):
                defs[i] = _ffi.ResourceDef(r.id, r.type, _ops_bits(r.operations), r.multiple, r.mandatory)
            # Only an object that lists its resources gets the callback; the others are read.
            listed = type(obj).present is not Object.present
            transactional = any(getattr(type(obj), m) is not getattr(Object, m) for m in _TRANSACTION_STEPS)
            cb = _ffi.ObjectCallbacks(ud, _o_instances, _o_read, _o_write, _o_execute, _o_create, _o_delete,
                                      _o_resources if listed else _ffi.RESOURCES_CB(),
                                      _o_transaction if transactional else _ffi.TRANSACTION_CB())
            self._check(_lib.lwm2mc_config_add_object(cfg, obj.object_id, obj.version.encode(), obj.multiple,
                                                      defs, len(obj.resources), ctypes.byref(cb)),
                        f"object {obj.object_id}")

    # ---- plumbing ----

    def _check(self, result: int, context: str = "") -> None:
        """Re-raises an exception a Python callback raised during the call, else the error."""
        err, self._hooks.error = self._hooks.error, None
        if err is not None:
            raise err
        if result != OK:
            raise error_class(result)(result, context)

    def _h(self) -> int:
        if self._handle is None or self._close_pending:
            raise ClientClosed()
        return self._handle

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        """Holds the client's lock (waiting for another thread's call) and yields the handle.
        Refuses a call from one of this client's callbacks before anything is done, so that a
        refused poll consumes no datagram."""
        self._h()  # a closed client says so first
        if self._in_c_call == threading.get_ident():
            raise error_class(REENTRANT_CALL)(REENTRANT_CALL, "called from one of this client's callbacks")
        with self._lock:
            self._lock_depth += 1
            try:
                yield self._h()
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0 and self._close_pending:
                    self._close_now()

    def _c(self, fn: Callable[..., int], *args: Any) -> int:
        """Runs one C function on this client, marking this thread as inside it."""
        outer, self._in_c_call = self._in_c_call, threading.get_ident()
        try:
            return fn(*args)
        finally:
            self._in_c_call = outer

    @staticmethod
    def _now() -> int:
        return int(time.monotonic() * 1000)

    # ---- life cycle ----

    def start(self) -> None:
        """Starts the bootstrap sequence (register, or bootstrap when there is no server)."""
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_start, h, self._now()), "start")

    def stop(self, timeout: float = 10.0) -> list[Event]:
        """De-registers from every server, driving the client until done or `timeout`."""
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_stop, h, self._now()), "stop")
            events: list[Event] = []
            deadline = time.monotonic() + timeout
            while not self.is_stopped():
                if time.monotonic() > deadline:
                    raise TimeoutError("de-register not answered")
                events.extend(self.poll(0.05))
            return events + self._drain(h)

    def is_stopped(self) -> bool:
        out = ctypes.c_bool()
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_is_stopped, h, ctypes.byref(out)), "is_stopped")
        return out.value

    def close(self) -> None:
        """Releases the client (without de-registering: call `stop` first). Idempotent.
        Called while another thread's call runs, waits for it; called from one of this
        client's callbacks, takes effect when the call that ran the callback returns (the
        client counts as closed at once)."""
        if self._handle is None:
            return
        if self._in_c_call == threading.get_ident():
            self._close_pending = True
            return
        with self._lock:
            if self._lock_depth == 0:
                self._close_now()
            else:  # inside another method of this client on this thread
                self._close_pending = True

    def _close_now(self) -> None:
        if self._handle is not None:
            self._handle = None
            self._close_pending = False
            self._finalizer()

    @property
    def closed(self) -> bool:
        return self._handle is None or self._close_pending

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- driving ----

    def poll(self, timeout: float = 0.1) -> list[Event]:
        """One turn: waits at most `timeout` seconds for datagrams, runs due timers, sends, and
        returns the new events. Another thread's call on this client is waited for first."""
        with self._locked() as h:
            if self._transport is None:
                self._check(self._c(_lib.lwm2mc_client_poll_udp, h, int(max(0.0, timeout) * 1000)), "poll")
            else:
                receive = getattr(self._transport, "receive", None)
                if receive is not None:
                    for peer, data in receive(timeout):
                        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data) if data else None
                        r = self._c(_lib.lwm2mc_client_handle_datagram, h, self._now(), peer, buf, len(data))
                        if r != NOT_FOUND:
                            self._check(r, "datagram")
                nxt = ctypes.c_uint64()
                self._check(self._c(_lib.lwm2mc_client_step, h, self._now(), ctypes.byref(nxt)), "step")
            return self._drain(h)

    def _drain(self, h: int) -> list[Event]:
        out: list[Event] = []
        ev = _ffi.Event()
        while self._c(_lib.lwm2mc_client_next_event, h, ctypes.byref(ev)) == OK:
            kind = _lib.lwm2mc_event_kind_str(ev.kind).decode()
            code = EventKind(ev.kind) if ev.kind in EventKind._value2member_map_ else None
            out.append(Event(kind, ev.ssid, ev.path.decode(errors="replace"), _bytes(ev.data, ev.data_len),
                             (ev.message or b"").decode(errors="replace"), code))
        return out

    def run_until(self, predicate: Callable[[Event], bool], timeout: float = 10.0) -> Event:
        """Drives the client until an event satisfies `predicate`; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching event")
            for e in self.poll(min(0.05, left)):
                if predicate(e):
                    return e

    @property
    def send_failures(self) -> int:
        """Datagrams that could not be sent so far (a transport `send` that raised, or the
        built-in socket refusing one, e.g. larger than UDP allows). Each is one lost datagram,
        logged at WARN (level 1); none stops the client."""
        out = ctypes.c_uint64()
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_send_failures, h, ctypes.byref(out)), "send_failures")
        return out.value

    @property
    def port(self) -> int:
        """Local UDP port (built-in transport only)."""
        out = ctypes.c_uint16()
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_udp_port, h, ctypes.byref(out)), "port")
        return out.value

    # ---- values ----

    def resource_type(self, path: str) -> Type:
        """The type the object definition gives the resource at `path` ("/3/0/9")."""
        out = ctypes.c_uint32()
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_resource_type, h, path.encode(), ctypes.byref(out)),
                        f"type of {path}")
        return Type(out.value)

    def set(self, path: str, value: Any, type: Optional[int] = None) -> None:
        """Sets a value by path ("/3/0/9"), as the resource's type (`resource_type`) when the
        client defines it, else as the Python value suggests (bool, int, float, str, bytes,
        (object, instance))."""
        defined: Optional[Type] = None
        if type is None:
            try:
                defined = self.resource_type(path)
            except Lwm2mcError:
                defined = None  # not defined: the library says why below
        if type is not None:
            candidates = [type]
        elif isinstance(value, bool):
            candidates = [Type.BOOLEAN]
        elif isinstance(value, int):
            candidates = [Type.INTEGER, Type.TIME, Type.FLOAT] + ([Type.UNSIGNED] if value >= 0 else [])
        elif isinstance(value, float):
            candidates = [Type.FLOAT]
        elif isinstance(value, str):
            candidates = [Type.STRING, Type.CORELNK]
        elif isinstance(value, (bytes, bytearray)):
            candidates = [Type.OPAQUE]
        elif isinstance(value, tuple) and len(value) == 2:
            candidates = [Type.OBJLNK]
        else:
            raise TypeError(f"cannot store a {value.__class__.__name__}")
        if defined is not None:
            # The definition decides among the types the value can take (an int for a Time
            # resource is a Time); a value it cannot take is refused like the library would.
            if defined not in candidates:
                raise error_class(INVALID_ARGUMENT)(
                    INVALID_ARGUMENT, f"set {path}: a {defined.name} resource cannot take a "
                    f"{value.__class__.__name__}")
            candidates = [defined]
        with self._locked() as h:
            r = INVALID_ARGUMENT
            for t in candidates:
                v = _ffi.Value()
                _to_c(float(value) if t == Type.FLOAT else value, t, v, None)
                r = self._c(_lib.lwm2mc_client_set_value, h, path.encode(), ctypes.byref(v))
                if r != INVALID_ARGUMENT:
                    break
            self._check(r, f"set {path}")

    def get(self, path: str) -> Any:
        """The value at `path`, as a Python value."""
        v = _ffi.Value()
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_get_value, h, path.encode(), ctypes.byref(v)), f"get {path}")
            return _from_c(v)  # its bytes live in the client until the next call

    def save(self) -> None:
        """Saves the configuration to storage now."""
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_save, h), "save")

    def changed(self, path: str) -> None:
        """The value at `path` of an object Python holds (an `Object`) changed: observations
        that see it may notify. Values set with `set` need no such call."""
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_changed, h, path.encode()), f"changed {path}")

    def send(self, paths: Sequence[str], short_server_id: int = 1) -> None:
        """LwM2M 1.1 Send: pushes the current values at `paths` to the server as one SenML pack.
        Its answer comes as a `send_completed` or `send_rejected` event; nothing is sent if
        this raises (`InvalidStateError`: not registered or muted; `NotFoundError`: a path
        cannot be read; `UnsupportedError`: LwM2M 1.0)."""
        arr = (ctypes.c_char_p * max(1, len(paths)))(*[p.encode() for p in paths])
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_send, h, self._now(), short_server_id, arr, len(paths)),
                        "send")

    def registration_state(self, short_server_id: int = 1) -> str:
        """Where the registration with that server stands: "idle", "waiting" (for its turn in
        the Registration Priority Order), "disabled", "registering", "registered", "updating",
        "deregistering" or "failed". `NotFoundError` for no such server account."""
        out = ctypes.c_uint32()
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_registration_state, h, short_server_id, ctypes.byref(out)),
                        "registration_state")
        names = ("idle", "waiting", "disabled", "registering", "registered", "updating", "deregistering", "failed")
        return names[out.value] if out.value < len(names) else "failed"

    def firmware_downloaded(self, update_result: int = 0) -> None:
        """The end of a download `Firmware.download` started: 0 once the whole package is
        stored (the library then calls `verify`), else the Update Result of the failure.
        `InvalidStateError` when no such download runs."""
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_firmware_downloaded, h, self._now(), int(update_result)),
                        "firmware_downloaded")

    def firmware_accept_update(self) -> None:
        """The user agreed to the update that waits for them: installed now.
        `InvalidStateError` when none waits."""
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_firmware_accept_update, h, self._now()),
                        "firmware_accept_update")

    def set_offline(self, offline: bool) -> None:
        """Offline mode (the link is down): nothing new is sent and notifications are stored
        (per the server's /1/x/6); back online, an Update goes out and they follow it."""
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_set_offline, h, self._now(), bool(offline)), "set_offline")

    def observations(self) -> list[tuple[int, str]]:
        """What the servers observe: (short server ID, path), oldest first."""
        out = []
        with self._locked() as h:
            n = ctypes.c_size_t()
            self._check(self._c(_lib.lwm2mc_client_observation_count, h, ctypes.byref(n)), "observations")
            for i in range(n.value):
                ssid, buf, used = ctypes.c_uint16(), ctypes.create_string_buffer(32), ctypes.c_size_t()
                self._check(self._c(_lib.lwm2mc_client_observation, h, i, ctypes.byref(ssid), buf, 32,
                                    ctypes.byref(used)), "observation")
                out.append((ssid.value, buf.value.decode()))
        return out

    def is_registered(self, short_server_id: int = 1) -> bool:
        out = ctypes.c_bool()
        with self._locked() as h:
            self._check(self._c(_lib.lwm2mc_client_is_registered, h, short_server_id, ctypes.byref(out)),
                        "is_registered")
        return out.value
