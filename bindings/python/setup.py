"""Builds the wheel with the shared library inside the package, so that `import lwm2mc` finds
it next to itself (DESIGN §5). The library is compiled with cargo from the repository this
directory belongs to (release profile; LWM2MC_CARGO_PROFILE=dev for a debug build, release-small
for the smallest library, where a panic aborts the process), or, if
LWM2MC_BUNDLE_LIBRARY names an existing liblwm2mc.so, that file is bundled as it is."""

import os
import pathlib
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = pathlib.Path(__file__).resolve().parent
LIBNAME = "liblwm2mc.so"


def find_repo() -> pathlib.Path:
    for parent in [HERE, *HERE.parents]:
        if (parent / "Cargo.toml").exists() and (parent / "src" / "ffi").is_dir():
            return parent
    raise RuntimeError(
        "lwm2mc: no Rust source tree found above bindings/python; set LWM2MC_BUNDLE_LIBRARY to a built liblwm2mc.so"
    )


def build_library() -> pathlib.Path:
    prebuilt = os.environ.get("LWM2MC_BUNDLE_LIBRARY")
    if prebuilt:
        path = pathlib.Path(prebuilt)
        if not path.is_file():
            raise RuntimeError(f"LWM2MC_BUNDLE_LIBRARY={prebuilt} is not a file")
        return path
    repo = find_repo()
    profile = os.environ.get("LWM2MC_CARGO_PROFILE", "release")
    cargo = os.environ.get("CARGO", "cargo")
    # The cdylib alone: a build that also makes the rlib (`cargo build`) gets no link-time
    # optimisation from the profile, and its library is about 25 % larger.
    subprocess.run(
        [cargo, "rustc", "--lib", "--profile", profile, "--crate-type", "cdylib"],
        cwd=repo,
        check=True,
    )
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", repo / "target"))
    return target / ("debug" if profile == "dev" else profile) / LIBNAME


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        lib = build_library()
        dest = pathlib.Path(self.build_lib) / "lwm2mc" / LIBNAME
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib, dest)


class BinaryDistribution(Distribution):
    """The wheel carries a native library: tag it for this platform, not as pure Python."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
