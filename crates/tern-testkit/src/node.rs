//! Node projects under the target directory with packages from npm, created on first use: the
//! official Node SDK (`@cmdotcom/text-sdk` 2.0.0, with its one dependency, axios) and, for
//! [`node_smsc`](crate::node_smsc), the `smpp` SMPP library. [`npm_project`] is the one way
//! both are installed (a lock against racing test processes, a marker of what is installed).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The SDK version the tests run against.
pub const SDK_VERSION: &str = "2.0.0";

/// The project directory (`target/tern-test-node`), with `node_modules/@cmdotcom/text-sdk`
/// installed; scripts written there can `require("@cmdotcom/text-sdk")`.
pub fn sdk_project(target_dir: &Path) -> PathBuf {
    npm_project(
        target_dir,
        "tern-test-node",
        &[&format!("@cmdotcom/text-sdk@{SDK_VERSION}")],
    )
}

/// The node project `target_dir/name` with `packages` (`name@version`, pinned) installed by
/// npm, creating it on first use; its `node_modules` is what scripts there (or scripts run with
/// `NODE_PATH` set to it) `require`. Installed once: a marker file records the packages, and a
/// lock directory serialises test processes (and tests of one binary) that race here. Panics
/// when npm is missing or fails.
pub fn npm_project(target_dir: &Path, name: &str, packages: &[&str]) -> PathBuf {
    let project = target_dir.join(name);
    let ready = project.join(".sdk-installed");
    let wanted = packages.join("\n");
    let is_ready = || std::fs::read_to_string(&ready).is_ok_and(|installed| installed == wanted);
    if is_ready() {
        return project;
    }
    let lock = target_dir.join(format!("{name}.lock"));
    let deadline = Instant::now() + Duration::from_secs(300);
    while std::fs::create_dir(&lock).is_err() {
        if is_ready() {
            return project;
        }
        assert!(
            Instant::now() < deadline,
            "node project lock {} held too long",
            lock.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let result = std::panic::catch_unwind(|| {
        if is_ready() {
            return;
        }
        std::fs::create_dir_all(&project).expect("create node project dir");
        // A private package.json keeps npm from walking up to another project.
        std::fs::write(
            project.join("package.json"),
            format!(r#"{{"name":"{name}","version":"0.0.0","private":true}}"#),
        )
        .expect("write package.json");
        run(Command::new("npm")
            .current_dir(&project)
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--save-exact",
                "--loglevel=error",
            ])
            .args(packages));
        for package in packages {
            // `name@version`, the name possibly scoped (`@scope/name@version`).
            let package_name = match package.rsplit_once('@') {
                Some((name, _)) if !name.is_empty() => name,
                _ => package,
            };
            assert!(
                project
                    .join("node_modules")
                    .join(package_name)
                    .join("package.json")
                    .exists(),
                "npm install left no {package_name}"
            );
        }
        std::fs::write(&ready, &wanted).expect("mark node project ready");
    });
    let _ = std::fs::remove_dir(&lock);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    project
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .expect("run setup command (is npm installed?)");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
