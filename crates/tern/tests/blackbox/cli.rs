//! The command line: account management output, flag errors and configuration errors.

use std::process::Command;

use crate::TERN;

fn tern(args: &[&str], data_dir: &std::path::Path) -> (bool, String, String) {
    let output = Command::new(TERN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("TERN_LOG", "warn")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn account_create_prints_the_token_last_and_list_shows_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let token = "0a1b2c3d-0000-4000-8000-000000000001";
    let (ok, stdout, stderr) = tern(
        &[
            "account",
            "create",
            "--name",
            "acme",
            "--token",
            token,
            "--balance",
            "12.5",
            "--status-url",
            "http://127.0.0.1:9/s",
            "--status-format",
            "xml",
            "--channels",
            "sms,whatsapp",
        ],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().last(), Some(token));
    let (ok, stdout, _) = tern(&["account", "list"], dir.path());
    assert!(ok);
    assert_eq!(
        stdout,
        "ID\tNAME\tCHANNELS\tBALANCE\tSTATUS_URL\tFORMAT\n1\tacme\tSMS,WhatsApp\t12.5\thttp://127.0.0.1:9/s\txml\n"
    );
    // The same token twice is refused.
    let (ok, _, stderr) = tern(
        &["account", "create", "--name", "again", "--token", token],
        dir.path(),
    );
    assert!(!ok);
    assert!(
        stderr.contains("an account with this token exists already"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--token", "nope"], "--token: a product token is a GUID"),
        (&["--balance", "ten"], "--balance: invalid amount 'ten'"),
        (
            &["--channels", "SMS,Pigeon"],
            "--channels: unknown channel 'Pigeon'",
        ),
        (
            &["--status-format", "yaml"],
            "--status-format: unknown status format 'yaml'",
        ),
        (
            &["--status-url", "ftp://x"],
            "--status-url: 'ftp://x' is not an absolute http:// or https:// URL (scheme ftp is not http or https)",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["account", "create", "--name", "x"];
        args.extend_from_slice(extra);
        let (ok, _, stderr) = tern(&args, dir.path());
        assert!(!ok, "{extra:?} accepted");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
    }
}

#[test]
fn serve_refuses_an_invalid_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tern.toml");
    let cases = [
        ("bogus_key = 1\n", "bogus_key"),
        ("[[simulator.rule]]\noutcome = \"exploded\"\n", "exploded"),
        (
            "[[simulator.rule]]\nchannel = \"Pigeon\"\noutcome = \"failed\"\n",
            "simulator.rule[0].channel",
        ),
        ("price_per_part = \"cheap\"\n", "price_per_part"),
    ];
    for (toml, expected) in cases {
        std::fs::write(&config, toml).unwrap();
        let output = Command::new(TERN)
            .args(["serve", "--http-addr", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        assert!(!output.status.success(), "{toml} accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{toml}: {stderr}");
    }
}
