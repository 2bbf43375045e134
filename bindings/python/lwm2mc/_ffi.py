"""ctypes declarations of the lwm2mc C API (include/lwm2mc.h): every function gets argtypes and
restype. Private: the public API is in lwm2mc/__init__.py."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pathlib

c_size_t = ctypes.c_size_t
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
u8p = ctypes.POINTER(ctypes.c_uint8)
result_t = ctypes.c_uint32


def _candidates() -> list[str]:
    here = pathlib.Path(__file__).resolve().parent
    names = ["liblwm2mc.so", "liblwm2mc.so.0", "liblwm2mc.dylib", "lwm2mc.dll"]
    found = [str(here / n) for n in names if (here / n).exists()]
    env = os.environ.get("LWM2MC_LIBRARY")
    if env:
        found.append(env)
    system = ctypes.util.find_library("lwm2mc")
    if system:
        found.append(system)
    return found


def load_library() -> ctypes.CDLL:
    """Finds the shared library: next to this package, then $LWM2MC_LIBRARY, then the system
    path (DESIGN §5)."""
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:  # try the next place
            errors.append(f"{path}: {e}")
    raise ImportError(
        "liblwm2mc not found: install the package with pip (it bundles the library), or set "
        "LWM2MC_LIBRARY to the path of liblwm2mc.so" + ("; tried " + "; ".join(errors) if errors else "")
    )


class Value(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_uint32),
        ("integer", ctypes.c_int64),
        ("unsigned_integer", ctypes.c_uint64),
        ("floating", ctypes.c_double),
        ("boolean", ctypes.c_bool),
        ("bytes", u8p),
        ("len", c_size_t),
        ("objlnk_object", ctypes.c_uint16),
        ("objlnk_instance", ctypes.c_uint16),
    ]


class ResourceDef(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint16),
        ("type", ctypes.c_uint32),
        ("operations", ctypes.c_uint8),
        ("multiple", ctypes.c_bool),
        ("mandatory", ctypes.c_bool),
    ]


INSTANCES_CB = ctypes.CFUNCTYPE(result_t, c_void_p, ctypes.c_uint16, ctypes.POINTER(ctypes.c_uint16), c_size_t, ctypes.POINTER(c_size_t))
READ_CB = ctypes.CFUNCTYPE(result_t, c_void_p, ctypes.c_uint16, ctypes.c_uint16, ctypes.c_uint16, ctypes.POINTER(Value))
WRITE_CB = ctypes.CFUNCTYPE(result_t, c_void_p, ctypes.c_uint16, ctypes.c_uint16, ctypes.c_uint16, ctypes.POINTER(Value))
EXECUTE_CB = ctypes.CFUNCTYPE(result_t, c_void_p, ctypes.c_uint16, ctypes.c_uint16, ctypes.c_uint16, u8p, c_size_t)
CREATE_CB = ctypes.CFUNCTYPE(result_t, c_void_p, ctypes.c_uint16, ctypes.c_uint16)
DELETE_CB = ctypes.CFUNCTYPE(result_t, c_void_p, ctypes.c_uint16, ctypes.c_uint16)
RESOURCES_CB = ctypes.CFUNCTYPE(result_t, c_void_p, ctypes.c_uint16, ctypes.c_uint16, ctypes.POINTER(ctypes.c_uint16),
                                c_size_t, ctypes.POINTER(c_size_t))

TRANSACTION_CB = ctypes.CFUNCTYPE(result_t, c_void_p, ctypes.c_uint16, ctypes.c_uint32)


class ObjectCallbacks(ctypes.Structure):
    _fields_ = [
        ("userdata", c_void_p),
        ("instances", INSTANCES_CB),
        ("read", READ_CB),
        ("write", WRITE_CB),
        ("execute", EXECUTE_CB),
        ("create_instance", CREATE_CB),
        ("delete_instance", DELETE_CB),
        ("resources", RESOURCES_CB),
        ("transaction", TRANSACTION_CB),
    ]


FW_OPEN_CB = ctypes.CFUNCTYPE(result_t, c_void_p, ctypes.c_uint64, ctypes.c_bool)
FW_WRITE_CB = ctypes.CFUNCTYPE(result_t, c_void_p, ctypes.c_uint64, ctypes.POINTER(ctypes.c_uint8), c_size_t)
FW_STEP_CB = ctypes.CFUNCTYPE(result_t, c_void_p)
FW_DISCARD_CB = ctypes.CFUNCTYPE(None, c_void_p)
FW_DOWNLOAD_CB = ctypes.CFUNCTYPE(result_t, c_void_p, ctypes.c_char_p)
FW_DEFER_CB = ctypes.CFUNCTYPE(ctypes.c_bool, c_void_p)


class FirmwareCallbacks(ctypes.Structure):
    _fields_ = [
        ("userdata", c_void_p),
        ("open", FW_OPEN_CB),
        ("write", FW_WRITE_CB),
        ("verify", FW_STEP_CB),
        ("apply", FW_STEP_CB),
        ("discard", FW_DISCARD_CB),
        ("outcome", FW_STEP_CB),
        ("download_protocols", ctypes.c_uint32),
        ("download", FW_DOWNLOAD_CB),
        ("defer_update", FW_DEFER_CB),
    ]


class ServerInfo(ctypes.Structure):
    _fields_ = [
        ("uri", c_char_p),
        ("host", c_char_p),
        ("port", ctypes.c_uint16),
        ("secure", ctypes.c_bool),
        ("bootstrap", ctypes.c_bool),
        ("security_mode", ctypes.c_uint32),
        ("identity", u8p),
        ("identity_len", c_size_t),
        ("server_public_key", u8p),
        ("server_public_key_len", c_size_t),
        ("secret_key", u8p),
        ("secret_key_len", c_size_t),
    ]


OPEN_CB = ctypes.CFUNCTYPE(result_t, c_void_p, ctypes.POINTER(ServerInfo), ctypes.POINTER(c_size_t))
SEND_CB = ctypes.CFUNCTYPE(result_t, c_void_p, c_size_t, u8p, c_size_t)
CLOSE_CB = ctypes.CFUNCTYPE(None, c_void_p, c_size_t)


class Transport(ctypes.Structure):
    _fields_ = [("userdata", c_void_p), ("open", OPEN_CB), ("send", SEND_CB), ("close", CLOSE_CB)]


LOAD_CB = ctypes.CFUNCTYPE(result_t, c_void_p, c_char_p, u8p, c_size_t, ctypes.POINTER(c_size_t))
STORE_CB = ctypes.CFUNCTYPE(result_t, c_void_p, c_char_p, u8p, c_size_t)
ERASE_CB = ctypes.CFUNCTYPE(result_t, c_void_p, c_char_p)


class Storage(ctypes.Structure):
    _fields_ = [("userdata", c_void_p), ("load", LOAD_CB), ("store", STORE_CB), ("erase", ERASE_CB)]


LOG_CB = ctypes.CFUNCTYPE(None, c_void_p, ctypes.c_uint32, c_char_p)


class Event(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_uint32),
        ("ssid", ctypes.c_uint16),
        ("path", ctypes.c_char * 32),
        ("data", u8p),
        ("data_len", c_size_t),
        ("message", c_char_p),
    ]


def declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Sets argtypes and restype of every function used."""
    P = ctypes.POINTER
    cfg, cli = c_void_p, c_void_p
    table = {
        "lwm2mc_result_str": ([ctypes.c_uint32], c_char_p),
        "lwm2mc_version": ([], c_char_p),
        "lwm2mc_event_kind_str": ([ctypes.c_uint32], c_char_p),
        "lwm2mc_config_set_root_formats": ([cfg, ctypes.c_uint32], result_t),
        "lwm2mc_config_set_limit": ([cfg, ctypes.c_uint32, c_size_t], result_t),
        "lwm2mc_config_set_block_size": ([cfg, c_size_t], result_t),
        "lwm2mc_config_set_queue_mode": ([cfg, ctypes.c_bool], result_t),
        "lwm2mc_config_set_psk": ([cfg, ctypes.c_uint16, ctypes.c_char_p, c_size_t, ctypes.c_char_p, c_size_t],
                                  result_t),
        "lwm2mc_client_registration_state": ([cli, ctypes.c_uint16, ctypes.POINTER(ctypes.c_uint32)], result_t),
        "lwm2mc_client_resource_type": ([cli, c_char_p, P(ctypes.c_uint32)], result_t),
        "lwm2mc_config_new": ([c_char_p, P(c_void_p)], result_t),
        "lwm2mc_config_free": ([cfg], None),
        "lwm2mc_config_set_lwm2m_version": ([cfg, ctypes.c_uint32], result_t),
        "lwm2mc_config_set_preferred_format": ([cfg, ctypes.c_uint16], result_t),
        "lwm2mc_config_set_ack_timeout_ms": ([cfg, ctypes.c_uint32], result_t),
        "lwm2mc_config_set_seed": ([cfg, ctypes.c_uint64], result_t),
        "lwm2mc_config_add_bootstrap_server": ([cfg, c_char_p, ctypes.c_uint32], result_t),
        "lwm2mc_config_add_server": ([cfg, ctypes.c_uint16, c_char_p, ctypes.c_uint32], result_t),
        "lwm2mc_config_set_device": ([cfg, c_char_p, c_char_p, c_char_p], result_t),
        "lwm2mc_config_set_transport": ([cfg, P(Transport)], result_t),
        "lwm2mc_config_set_storage": ([cfg, P(Storage)], result_t),
        "lwm2mc_config_use_file_storage": ([cfg, c_char_p], result_t),
        "lwm2mc_config_set_log": ([cfg, c_void_p, LOG_CB], result_t),
        "lwm2mc_config_set_firmware": ([cfg, P(FirmwareCallbacks)], result_t),
        "lwm2mc_config_add_object": (
            [cfg, ctypes.c_uint16, c_char_p, ctypes.c_bool, P(ResourceDef), c_size_t, P(ObjectCallbacks)],
            result_t,
        ),
        "lwm2mc_config_set_value": ([cfg, c_char_p, P(Value)], result_t),
        "lwm2mc_client_new": ([cfg, P(c_void_p)], result_t),
        "lwm2mc_client_free": ([cli], None),
        "lwm2mc_client_start": ([cli, ctypes.c_uint64], result_t),
        "lwm2mc_client_stop": ([cli, ctypes.c_uint64], result_t),
        "lwm2mc_client_is_stopped": ([cli, P(ctypes.c_bool)], result_t),
        "lwm2mc_client_handle_datagram": ([cli, ctypes.c_uint64, c_size_t, u8p, c_size_t], result_t),
        "lwm2mc_client_step": ([cli, ctypes.c_uint64, P(ctypes.c_uint64)], result_t),
        "lwm2mc_client_bind_udp": ([cli, c_char_p], result_t),
        "lwm2mc_client_udp_port": ([cli, P(ctypes.c_uint16)], result_t),
        "lwm2mc_client_poll_udp": ([cli, ctypes.c_uint32], result_t),
        "lwm2mc_client_next_event": ([cli, P(Event)], result_t),
        "lwm2mc_client_set_value": ([cli, c_char_p, P(Value)], result_t),
        "lwm2mc_client_get_value": ([cli, c_char_p, P(Value)], result_t),
        "lwm2mc_client_save": ([cli], result_t),
        "lwm2mc_client_is_registered": ([cli, ctypes.c_uint16, P(ctypes.c_bool)], result_t),
        "lwm2mc_client_changed": ([cli, c_char_p], result_t),
        "lwm2mc_client_set_offline": ([cli, ctypes.c_uint64, ctypes.c_bool], result_t),
        "lwm2mc_client_send": ([cli, ctypes.c_uint64, ctypes.c_uint16, P(c_char_p), c_size_t], result_t),
        "lwm2mc_client_firmware_downloaded": ([cli, ctypes.c_uint64, ctypes.c_uint32], result_t),
        "lwm2mc_client_firmware_accept_update": ([cli, ctypes.c_uint64], result_t),
        "lwm2mc_client_observation_count": ([cli, P(c_size_t)], result_t),
        "lwm2mc_client_observation": ([cli, c_size_t, P(ctypes.c_uint16), c_char_p, c_size_t, P(c_size_t)],
                                      result_t),
        "lwm2mc_client_send_failures": ([cli, P(ctypes.c_uint64)], result_t),
    }
    for name, (args, res) in table.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res
    return lib
