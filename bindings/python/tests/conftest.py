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
