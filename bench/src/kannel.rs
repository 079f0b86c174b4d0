//! The Kannel phase: Kannel 1.4.5 carrying the connector phase's cycle (HTTP sendsms, SMPP to
//! smsc-sink, the receipt back, an HTTP callback), run by `../shared/bench/kannel/run.sh` in the
//! same run as Tern. Machines here differ by up to 2x from one day to the next, so the connector
//! phase's rate means most beside a reference measured on the same machine within minutes. Opt-in
//! (`--phases ...,kannel`): the script installs Debian's `kannel` package when it is missing and
//! uses the ports 13000-13999.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail, ensure};

/// What Kannel did in its run (the script's `result.json`).
pub struct KannelRun {
    pub messages: u64,
    /// Messages/s from the first request to the last receipt callback.
    pub full_cycle_rate: f64,
    /// bearerbox and smsbox CPU per message, milliseconds (the receipt path included).
    pub cpu_ms_per_message: f64,
}

/// Run `script` for `messages` messages over 64 connections, its tools built in `bench_target`
/// and its run directory under `runs`; its output goes to `runs/kannel.log`.
pub fn run(
    script: &Path,
    bench_target: &Path,
    runs: &Path,
    messages: u64,
) -> anyhow::Result<KannelRun> {
    ensure!(
        script.is_file(),
        "no Kannel script at {} (--kannel-script)",
        script.display()
    );
    std::fs::create_dir_all(runs)?;
    let log_path = runs.join("kannel.log");
    let log = std::fs::File::create(&log_path)?;
    let status = Command::new("bash")
        .arg(script)
        .args([
            "-n",
            &messages.to_string(),
            "-c",
            "64",
            "--label",
            "tern-bench",
        ])
        .env("BENCH_TARGET", std::path::absolute(bench_target)?)
        .env("KANNEL_RUNS", std::path::absolute(runs)?)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .with_context(|| format!("cannot run {}", script.display()))?;
    if !status.success() {
        let output = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = output.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "the Kannel script exited with {status}; the end of its output:\n{}",
            tail.join("\n")
        );
    }
    let result = result_file(runs)?;
    let text = std::fs::read_to_string(&result)?;
    parse(&text).with_context(|| format!("unreadable {}", result.display()))
}

/// The one `result.json` the script left in a run directory under `runs`.
fn result_file(runs: &Path) -> anyhow::Result<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(runs)? {
        let path = entry?.path().join("result.json");
        if path.is_file() {
            found.push(path);
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "the Kannel script left no result.json under {}",
            runs.display()
        ),
        _ => bail!("more than one Kannel run under {}", runs.display()),
    }
}

/// The figures of a `result.json`; every message must have had its callback.
fn parse(text: &str) -> anyhow::Result<KannelRun> {
    let result: serde_json::Value = serde_json::from_str(text)?;
    let number = |key: &str| {
        result[key]
            .as_f64()
            .with_context(|| format!("no number {key:?}"))
    };
    let messages = number("n")? as u64;
    let callbacks = number("dlr_callbacks")? as u64;
    ensure!(
        callbacks == messages,
        "Kannel called back {callbacks} of {messages} messages"
    );
    Ok(KannelRun {
        messages,
        full_cycle_rate: number("full_cycle_rate")?,
        cpu_ms_per_message: number("cpu_kannel_ms_per_msg")?,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_the_figures_and_refuses_missing_callbacks() {
        let run = parse(
            r#"{"n": 20000, "dlr_callbacks": 20000, "full_cycle_rate": 4401.0,
                "cpu_kannel_ms_per_msg": 0.334}"#,
        )
        .unwrap();
        assert_eq!(
            (run.messages, run.full_cycle_rate, run.cpu_ms_per_message),
            (20000, 4401.0, 0.334)
        );
        let short = parse(
            r#"{"n": 20000, "dlr_callbacks": 19999, "full_cycle_rate": 4401.0,
                "cpu_kannel_ms_per_msg": 0.334}"#,
        );
        assert_eq!(
            short.err().map(|e| e.to_string()),
            Some("Kannel called back 19999 of 20000 messages".to_owned())
        );
        assert!(parse(r#"{"n": 1}"#).is_err());
    }
}
