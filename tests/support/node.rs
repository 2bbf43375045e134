//! Node.js with the pinned npm packages of `tests/interop/node` (package.json and its
//! package-lock.json): `npm ci` into `<target>/node-peer`, once per target directory, skipped
//! when the installed lock file is the committed one and the packages load. The scripts run
//! with NODE_PATH pointing there, so node_modules stays out of the source tree.
//!
//! Needs `node` and `npm` on PATH and, the first time, the npm registry.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// How to run a script that `require`s the pinned packages.
pub struct Node {
    /// `<target>/<name>/node_modules`.
    pub modules: PathBuf,
    /// What `node --version` said.
    pub version: String,
}

impl Node {
    /// `node <script>` with NODE_PATH set and Node's warnings off (the pinned packages are old
    /// enough to trip deprecation and circular-dependency warnings on every start).
    pub fn command(&self, script: &Path) -> Command {
        let mut cmd = Command::new("node");
        cmd.arg("--no-warnings")
            .arg(script)
            .env("NODE_PATH", &self.modules);
        cmd
    }
}

fn run(cmd: &mut Command) -> std::io::Result<Output> {
    cmd.stdin(Stdio::null()).output()
}

fn tool_version(tool: &str) -> Result<String, String> {
    match run(Command::new(tool).arg("--version")) {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Ok(o) => Err(format!(
            "`{tool} --version` failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(format!("cannot run `{tool}`: {e}")),
    }
}

fn need(tool: &str) -> String {
    tool_version(tool).unwrap_or_else(|e| {
        panic!(
            "{e}\nThe Node.js interop tests need `node` and `npm` on PATH \
             (Debian/Ubuntu: apt-get install nodejs npm; .ci/run installs them when missing)."
        )
    })
}

/// True if `node` loads every package of `packages` from `modules`.
fn loads(modules: &Path, packages: &[&str]) -> bool {
    let script: String = packages
        .iter()
        .map(|p| format!("require({p:?});"))
        .collect();
    let mut cmd = Command::new("node");
    cmd.args(["--no-warnings", "-e", &script])
        .env("NODE_PATH", modules)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    run(&mut cmd).is_ok_and(|o| o.status.success())
}

/// Node with the packages of `source` (a folder holding package.json and package-lock.json)
/// installed under `target_dir/<name>`; `packages` are required once to check the install.
pub fn node_with(target_dir: &Path, name: &str, source: &Path, packages: &[&str]) -> Node {
    let version = need("node");
    let dir = target_dir.join(name);
    let node = Node {
        modules: dir.join("node_modules"),
        version,
    };
    let files = ["package.json", "package-lock.json"];
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let same = files.iter().all(|f| {
        std::fs::read(dir.join(f)).is_ok_and(|installed| installed == read(source.join(f)))
    });
    if same && loads(&node.modules, packages) {
        return node;
    }
    need("npm");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for f in files {
        std::fs::copy(source.join(f), dir.join(f))
            .unwrap_or_else(|e| panic!("copy {f} to {}: {e}", dir.display()));
    }
    // `npm ci` installs exactly the lock file (and fails if package.json disagrees with it);
    // no package of the lock has an install script, so none is run.
    let out = run(Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--loglevel=error",
        ])
        .current_dir(&dir))
    .unwrap_or_else(|e| panic!("cannot run npm: {e}"));
    assert!(
        out.status.success(),
        "npm ci in {} failed ({}); is the npm registry reachable?\n{}{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        loads(&node.modules, packages),
        "after npm ci in {}, node cannot load {packages:?}",
        dir.display()
    );
    node
}
