//! Python clients not written in this project, each in a virtual environment under the target
//! directory, created on first use: the official SDK (`cm-text-sdk-python`, with `requests`,
//! which its wheel does not declare), the `smpplib` SMPP client and Prometheus's own client
//! library (`prometheus_client`), whose text-format parser reads `/metrics`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv's python, creating the venv and installing the SDK if needed.
pub fn sdk_python(target_dir: &Path) -> PathBuf {
    venv_python(
        target_dir,
        "tern-test-venv",
        &["cm-text-sdk-python==2.0.4", "requests"],
    )
}

/// A python with `smpplib` (pinned), creating its venv if needed.
pub fn smpplib_python(target_dir: &Path) -> PathBuf {
    venv_python(target_dir, "tern-test-venv-smpp", &["smpplib==2.2.3"])
}

/// A python with `prometheus_client` (pinned), creating its venv if needed.
pub fn prometheus_python(target_dir: &Path) -> PathBuf {
    venv_python(
        target_dir,
        "tern-test-venv-prometheus",
        &["prometheus_client==0.26.0"],
    )
}

/// The python of the venv `name` under `target_dir`, with `packages` installed.
fn venv_python(target_dir: &Path, name: &str, packages: &[&str]) -> PathBuf {
    let venv = target_dir.join(name);
    let python = venv.join("bin").join("python");
    let ready = venv.join(".sdk-installed");
    if ready.exists() {
        return python;
    }
    // Tests of one binary may race here; a lock directory serialises them.
    let lock = target_dir.join(format!("{name}.lock"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::fs::create_dir(&lock).is_err() {
        if ready.exists() {
            return python;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "venv lock held too long"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let result = std::panic::catch_unwind(|| {
        if !python.exists() {
            run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        }
        run(Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(packages));
        std::fs::write(&ready, b"ok").expect("mark venv ready");
    });
    let _ = std::fs::remove_dir(&lock);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    python
}

fn run(command: &mut Command) {
    let output = command.output().expect("run setup command");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
