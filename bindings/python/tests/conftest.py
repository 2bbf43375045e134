import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture
def bs_uri() -> str:
    """The testkit Bootstrap-Server the Rust driver (tests/python.rs) started: it provisions one
    server account pointing at the driver's LwM2M Server."""
    uri = os.environ.get("LWM2MC_TEST_BS_URI")
    if not uri:
        pytest.fail("run through `cargo test --test python`, which starts the testkit servers")
    return uri


def _built(variable: str, what: str) -> str:
    path = os.environ.get(variable)
    if not path:
        pytest.fail(f"{variable} unset: run through `cargo test --test python`, which builds {what}")
    return path


@pytest.fixture
def cli_device() -> str:
    """The CLI sample device (examples/client.rs) that the Rust driver built with cargo."""
    return _built("LWM2MC_TEST_CLI_DEVICE", "the CLI device")


@pytest.fixture
def c_device() -> str:
    """The C sample device (examples/c/device.c) that the Rust driver compiled, with the
    sanitizers, against the library of this run; their options are in the environment."""
    return _built("LWM2MC_TEST_C_DEVICE", "the C device")
