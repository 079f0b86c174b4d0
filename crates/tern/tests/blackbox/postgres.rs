//! The gateway on PostgreSQL, from the outside: `tern migrate`, and the administrative commands
//! on a database instead of a data directory. Each test takes a database of its own on one
//! throwaway cluster (tern-testkit's `postgres`).

use std::process::{Command, Output};

use tern_testkit::postgres::PgCluster;

use crate::TERN;

fn tern(args: &[&str]) -> Output {
    Command::new(TERN)
        .args(args)
        .env("TERN_LOG", "warn")
        .env_remove("TERN_DATABASE_URL")
        .output()
        .expect("run tern")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "tern failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

#[test]
fn migrate_brings_an_empty_database_up_once_even_when_two_run_at_once() {
    let url = PgCluster::shared().create_database();
    let both: Vec<std::process::Child> = (0..2)
        .map(|_| {
            Command::new(TERN)
                .args(["migrate", "--database-url", &url])
                .env("TERN_LOG", "warn")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn tern migrate")
        })
        .collect();
    for child in both {
        let output = child.wait_with_output().expect("tern migrate ends");
        assert_eq!(stdout(&output), "schema version 1\n");
    }
    // Again on a database that is up to date: nothing to do, the same answer.
    assert_eq!(
        stdout(&tern(&["migrate", "--database-url", &url])),
        "schema version 1\n"
    );
}

#[test]
fn accounts_are_created_and_listed_on_the_database() {
    let url = PgCluster::shared().create_database();
    let token = "0a1b2c3d-0000-4000-8000-0000000000a1";
    let created = stdout(&tern(&[
        "account",
        "create",
        "--database-url",
        &url,
        "--name",
        "acme",
        "--token",
        token,
        "--balance",
        "12.5",
        "--inbound-numbers",
        "3669",
    ]));
    assert_eq!(created.lines().last(), Some(token));
    // The environment variable names the database as the flag does.
    let listed = Command::new(TERN)
        .args(["account", "list"])
        .env("TERN_LOG", "warn")
        .env("TERN_DATABASE_URL", &url)
        .output()
        .expect("run tern account list");
    let listed = stdout(&listed);
    assert_eq!(
        listed.lines().nth(1),
        Some("1\tacme\tSMS,WhatsApp,RCS,Viber,Push\t12.5\t-\tjson\t-\t-\t-\t-\t-\t3669"),
        "{listed}"
    );
    // The same token again is refused, and nothing is created.
    let again = tern(&[
        "account",
        "create",
        "--database-url",
        &url,
        "--name",
        "again",
        "--token",
        token,
    ]);
    assert!(!again.status.success());
    let listed = stdout(&tern(&["account", "list", "--database-url", &url]));
    assert_eq!(listed.lines().count(), 2, "{listed}");
}

#[test]
fn a_database_that_cannot_be_reached_is_an_error_that_names_it_without_its_password() {
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://tern:s3cret@127.0.0.1:{port}/tern");
    let output = tern(&["account", "list", "--database-url", &url]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot open the store at postgres://tern:***@127.0.0.1:{port}/tern"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
