//! The official Node SDK (`@cmdotcom/text-sdk` 2.0.0 from npm, with its one dependency, axios)
//! in a node project under the target directory, created on first use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The SDK version the tests run against.
pub const SDK_VERSION: &str = "2.0.0";

/// The project directory (`target/tern-test-node`), with `node_modules/@cmdotcom/text-sdk`
/// installed; scripts written there can `require("@cmdotcom/text-sdk")`.
pub fn sdk_project(target_dir: &Path) -> PathBuf {
    let project = target_dir.join("tern-test-node");
    let ready = project.join(".sdk-installed");
    if ready.exists() {
        return project;
    }
    // Test processes (and tests of one binary) may race here; a lock directory serialises them.
    let lock = target_dir.join("tern-test-node.lock");
    let deadline = Instant::now() + Duration::from_secs(300);
    while std::fs::create_dir(&lock).is_err() {
        if ready.exists() {
            return project;
        }
        assert!(Instant::now() < deadline, "node project lock held too long");
        std::thread::sleep(Duration::from_millis(200));
    }
    let result = std::panic::catch_unwind(|| {
        if ready.exists() {
            return;
        }
        std::fs::create_dir_all(&project).expect("create node project dir");
        // A private package.json keeps npm from walking up to another project.
        std::fs::write(
            project.join("package.json"),
            br#"{"name":"tern-test-node","version":"0.0.0","private":true}"#,
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
            .arg(format!("@cmdotcom/text-sdk@{SDK_VERSION}")));
        assert!(
            project
                .join("node_modules/@cmdotcom/text-sdk/package.json")
                .exists(),
            "npm install left no @cmdotcom/text-sdk"
        );
        std::fs::write(&ready, b"ok").expect("mark node project ready");
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
