//! A Python interpreter with pinned packages for the test drivers: a virtual environment under
//! the target directory, or, where `python3 -m venv` is unusable (Debian without python3-venv),
//! `pip install --target` plus PYTHONPATH. Created once per target directory, then reused.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// How to start Python: the interpreter and an optional PYTHONPATH entry.
pub struct Python {
    pub exe: PathBuf,
    pub path: Option<PathBuf>,
}

impl Python {
    /// A command running this interpreter with its PYTHONPATH (plus `extra_path`).
    pub fn command(&self, extra_path: &[&Path]) -> Command {
        let mut cmd = Command::new(&self.exe);
        let mut paths: Vec<PathBuf> = extra_path.iter().map(|p| p.to_path_buf()).collect();
        paths.extend(self.path.clone());
        if !paths.is_empty() {
            cmd.env(
                "PYTHONPATH",
                std::env::join_paths(paths).expect("PYTHONPATH"),
            );
        }
        cmd
    }
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"))
}

/// `$PYTHON`, or `python3` from PATH.
pub fn system_python() -> PathBuf {
    std::env::var_os("PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// True if `python` imports every module of `check` (a Python expression that exits 0 when the
/// pinned versions are there).
fn ready(python: &Python, check: &str) -> bool {
    let mut cmd = python.command(&[]);
    cmd.args(["-c", check])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.status().is_ok_and(|s| s.success())
}

fn pip_install(
    python: &Path,
    extra: &[&std::ffi::OsStr],
    pins: &[&str],
    constraints: Option<&Path>,
) -> Output {
    let mut cmd = Command::new(python);
    if let Some(c) = constraints {
        // Read by pip in the isolated environment it builds an sdist in as well, so it pins
        // the build requirements (e.g. Cython) that no requirement list reaches.
        cmd.env("PIP_CONSTRAINT", c);
    }
    cmd.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--timeout",
        "60",
    ])
    .args(extra)
    .args(pins);
    run(&mut cmd)
}

/// A Python with `pins` installed (e.g. `["aiocoap==0.4.17"]`), set up under
/// `target_dir/<name>-venv` (or `<name>-pydeps`). `check` is a Python snippet that exits 0 when
/// the packages are importable at the pinned versions.
pub fn python_with(target_dir: &Path, name: &str, pins: &[&str], check: &str) -> Python {
    python_with_build_pins(target_dir, name, pins, &[], check)
}

/// [`python_with`], where packages built from source (an sdist) get their build requirements
/// at `build_pins` (e.g. `["Cython==3.1.2"]`) rather than whatever is newest.
pub fn python_with_build_pins(
    target_dir: &Path,
    name: &str,
    pins: &[&str],
    build_pins: &[&str],
    check: &str,
) -> Python {
    let constraints = (!build_pins.is_empty()).then(|| {
        let file = target_dir.join(format!("{name}-build-constraints.txt"));
        std::fs::create_dir_all(target_dir).expect("target directory");
        std::fs::write(&file, build_pins.join("\n") + "\n").expect("write build constraints");
        file
    });
    let constraints = constraints.as_deref();
    let venv = target_dir.join(format!("{name}-venv"));
    let venv_python = Python {
        exe: venv.join("bin").join("python"),
        path: None,
    };
    if ready(&venv_python, check) {
        return venv_python;
    }
    let pydeps = target_dir.join(format!("{name}-pydeps"));
    let target_python = Python {
        exe: system_python(),
        path: Some(pydeps.clone()),
    };
    if ready(&target_python, check) {
        return target_python;
    }
    // A venv whose interpreter is missing or broken is rebuilt from scratch (--clear).
    let created = run(Command::new(system_python())
        .args(["-m", "venv", "--clear"])
        .arg(&venv));
    let venv_error = if created.status.success() {
        let out = pip_install(&venv_python.exe, &[], pins, constraints);
        if out.status.success() && ready(&venv_python, check) {
            return venv_python;
        }
        format!(
            "pip install in the venv failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    } else {
        let _ = std::fs::remove_dir_all(&venv);
        format!(
            "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv):\n{}",
            String::from_utf8_lossy(&created.stderr)
        )
    };
    let out = pip_install(
        &system_python(),
        &[
            "--upgrade".as_ref(),
            "--target".as_ref(),
            pydeps.as_os_str(),
        ],
        pins,
        constraints,
    );
    if out.status.success() && ready(&target_python, check) {
        return target_python;
    }
    panic!(
        "cannot install {pins:?}.\n{venv_error}\npip install --target {} failed too (is python3-pip installed, is PyPI reachable?):\n{}",
        pydeps.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
