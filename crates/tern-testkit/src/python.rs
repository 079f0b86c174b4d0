//! The official Python SDK (`cm-text-sdk-python`, with `requests`, which its wheel does not
//! declare) in a virtual environment under the target directory, created on first use.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv's python, creating the venv and installing the SDK if needed.
pub fn sdk_python(target_dir: &Path) -> PathBuf {
    let venv = target_dir.join("tern-test-venv");
    let python = venv.join("bin").join("python");
    let ready = venv.join(".sdk-installed");
    if ready.exists() {
        return python;
    }
    // Tests of one binary may race here; a lock directory serialises them.
    let lock = target_dir.join("tern-test-venv.lock");
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
        run(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "cm-text-sdk-python==2.0.4",
            "requests",
        ]));
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
