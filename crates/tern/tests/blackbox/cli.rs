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

/// The header line of `tern account list`.
const LIST_HEADER: &str = "ID\tNAME\tCHANNELS\tBALANCE\tSTATUS_URL\tFORMAT\tSMPP_SYSTEM_ID\tSMPP_MAX_BINDS\tSMPP_RATE\tSMPP_RECEIPT_FORMAT\tSMPP_RECEIPT_PDU\tINBOUND_NUMBERS\tSTATE\n";

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
        format!(
            "{LIST_HEADER}1\tacme\tSMS,WhatsApp\t12.5\thttp://127.0.0.1:9/s\txml\t-\t-\t-\t-\t-\t-\tenabled\n"
        )
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
fn smpp_credentials_and_options_are_created_and_listed_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = tern(
        &[
            "account",
            "create",
            "--name",
            "bulk",
            "--channels",
            "sms",
            "--smpp-system-id",
            "bulk_sender-15c",
            "--smpp-password",
            "pa$$ w0r",
            "--smpp-max-binds",
            "3",
            "--smpp-rate",
            "250",
            "--smpp-receipt-format",
            "appendix-b",
            "--smpp-receipt-pdu",
            "data_sm",
        ],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    assert!(!stdout.contains("pa$$"), "{stdout}");
    // Defaults: 8 binds, unlimited rate, CM receipts in deliver_sm.
    let (ok, _, stderr) = tern(
        &[
            "account",
            "create",
            "--name",
            "defaults",
            "--channels",
            "sms",
            "--smpp-system-id",
            "plain",
            "--smpp-password",
            "x",
        ],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = tern(
        &[
            "account",
            "create",
            "--name",
            "http-only",
            "--channels",
            "sms",
        ],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    let (ok, stdout, _) = tern(&["account", "list"], dir.path());
    assert!(ok);
    assert_eq!(
        stdout,
        format!(
            "{LIST_HEADER}\
             1\tbulk\tSMS\tunlimited\t-\tjson\tbulk_sender-15c\t3\t250\tappendix-b\tdata_sm\t-\tenabled\n\
             2\tdefaults\tSMS\tunlimited\t-\tjson\tplain\t8\tunlimited\tcm\tdeliver_sm\t-\tenabled\n\
             3\thttp-only\tSMS\tunlimited\t-\tjson\t-\t-\t-\t-\t-\t-\tenabled\n"
        )
    );
    // Neither the password nor its hash is shown.
    assert!(
        !stdout.contains("pa$$") && !stdout.contains("argon2"),
        "{stdout}"
    );

    // A second account with the same system id is refused, and nothing is created.
    let (ok, stdout, stderr) = tern(
        &[
            "account",
            "create",
            "--name",
            "copycat",
            "--smpp-system-id",
            "plain",
            "--smpp-password",
            "y",
        ],
        dir.path(),
    );
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains(
            "--smpp-system-id: account 2 (defaults) has SMPP system id 'plain' already; system ids are unique"
        ),
        "{stderr}"
    );
    let (_, stdout, _) = tern(&["account", "list"], dir.path());
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
}

#[test]
fn inbound_numbers_are_normalised_listed_and_unique_across_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = tern(
        &[
            "account",
            "create",
            "--name",
            "receiver",
            "--channels",
            "sms",
            "--inbound-url",
            "http://127.0.0.1:9/mo",
            "--inbound-numbers",
            "3669, +31612345678,0031612345678",
        ],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    let (ok, stdout, _) = tern(&["account", "list"], dir.path());
    assert!(ok);
    assert_eq!(
        stdout,
        format!(
            "{LIST_HEADER}1\treceiver\tSMS\tunlimited\t-\tjson\t-\t-\t-\t-\t-\t3669,0031612345678\tenabled\n"
        )
    );
    // One of them in another form, for another account: refused, and nothing is created.
    let (ok, stdout, stderr) = tern(
        &[
            "account",
            "create",
            "--name",
            "copycat",
            "--inbound-numbers",
            "4000,31612345678",
        ],
        dir.path(),
    );
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains(
            "--inbound-numbers: account 1 (receiver) has inbound number 0031612345678 already; inbound numbers are unique"
        ),
        "{stderr}"
    );
    let (_, stdout, _) = tern(&["account", "list"], dir.path());
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    for bad in ["36a9", "12", "3669,+", "123456789012345678901"] {
        let (ok, _, stderr) = tern(
            &["account", "create", "--name", "x", "--inbound-numbers", bad],
            dir.path(),
        );
        assert!(!ok, "{bad} accepted");
        assert!(
            stderr.contains("--inbound-numbers: '")
                && stderr
                    .contains("' is not an inbound number: 3-20 digits, optionally after a '+'"),
            "{bad}: {stderr}"
        );
    }
}

#[test]
fn bad_smpp_flags_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let id = ["--smpp-system-id", "acme", "--smpp-password", "secret"];
    let with_id = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut args = id.to_vec();
        args.extend_from_slice(extra);
        args
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "--smpp-system-id",
                "a234567890123456",
                "--smpp-password",
                "pw",
            ],
            "--smpp-system-id: the SMPP system id has 16 characters; SMPP 3.4 allows at most 15",
        ),
        (
            vec!["--smpp-system-id", "has space", "--smpp-password", "pw"],
            "--smpp-system-id: the SMPP system id may hold only printable ASCII characters without spaces (found ' ')",
        ),
        (
            vec!["--smpp-system-id", "", "--smpp-password", "pw"],
            "--smpp-system-id: the SMPP system id must not be empty",
        ),
        (
            vec!["--smpp-system-id", "acme", "--smpp-password", "123456789"],
            "--smpp-password: the SMPP password has 9 characters; SMPP 3.4 allows at most 8",
        ),
        (
            vec!["--smpp-system-id", "acme", "--smpp-password", ""],
            "--smpp-password: the SMPP password must not be empty",
        ),
        (
            vec!["--smpp-system-id", "acme"],
            "--smpp-system-id needs --smpp-password: SMPP clients bind with both",
        ),
        (
            vec!["--smpp-password", "secret"],
            "--smpp-password needs --smpp-system-id: a password alone names no SMPP login",
        ),
        (
            vec!["--smpp-max-binds", "4"],
            "--smpp-max-binds needs --smpp-system-id: SMPP options apply only to an account SMPP clients can bind to",
        ),
        (
            vec!["--smpp-rate", "10"],
            "--smpp-rate needs --smpp-system-id: SMPP options apply only to an account SMPP clients can bind to",
        ),
        (
            vec!["--smpp-receipt-format", "cm"],
            "--smpp-receipt-format needs --smpp-system-id: SMPP options apply only to an account SMPP clients can bind to",
        ),
        (
            vec!["--smpp-receipt-pdu", "data_sm"],
            "--smpp-receipt-pdu needs --smpp-system-id: SMPP options apply only to an account SMPP clients can bind to",
        ),
        (
            with_id(&["--smpp-max-binds", "0"]),
            "--smpp-max-binds: '0' is not a whole number of at least 1",
        ),
        (
            with_id(&["--smpp-max-binds", "many"]),
            "--smpp-max-binds: 'many' is not a whole number of at least 1",
        ),
        (
            with_id(&["--smpp-rate", "0"]),
            "--smpp-rate: '0' is not a whole number of at least 1",
        ),
        (
            with_id(&["--smpp-rate=-5"]),
            "--smpp-rate: '-5' is not a whole number of at least 1",
        ),
        (
            with_id(&["--smpp-receipt-format", "appendix_b"]),
            "--smpp-receipt-format: unknown SMPP receipt format 'appendix_b': use cm or appendix-b",
        ),
        (
            with_id(&["--smpp-receipt-pdu", "submit_sm"]),
            "--smpp-receipt-pdu: unknown SMPP receipt PDU 'submit_sm': use deliver_sm or data_sm",
        ),
    ];
    for (extra, expected) in &cases {
        let mut args = vec!["account", "create", "--name", "x"];
        args.extend_from_slice(extra);
        let output = Command::new(TERN)
            .args(&args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("TERN_LOG", "warn")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
    }
    // None of them created an account.
    let (ok, stdout, _) = tern(&["account", "list"], dir.path());
    assert!(ok);
    assert_eq!(stdout, LIST_HEADER);
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
            .args([
                "serve",
                "--http-addr",
                "127.0.0.1:0",
                "--smpp-addr",
                "off",
                "--config",
            ])
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
