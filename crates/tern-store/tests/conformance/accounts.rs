//! [`AccountStore`]: accounts are created with what they were given, listed oldest first, found
//! by their token only, and a token is unique; SMPP settings are kept whole (the password as its
//! hash), an account is found by its SMPP system id, and a system id is unique.

use std::num::NonZeroU32;

use tern_core::account::{NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::money::Money;
use tern_core::ports::StoreError;
use tern_core::smpp_account::{ReceiptFormat, ReceiptPdu, SmppSettings};

use crate::harness::*;

#[tokio::test]
async fn an_account_is_created_with_what_it_was_given() {
    let backend = Backend::new();
    let store = backend.open();
    let token = ProductToken::generate();
    let before = now();
    let given = NewAccount {
        name: "Globex".into(),
        token_hash: token.hash(),
        balance: Some(Money(12_500_000)),
        status_url: Some("https://example.test/status".into()),
        status_format: ReportFormat::Xml,
        inbound_url: Some("https://example.test/inbound".into()),
        inbound_numbers: Vec::new(),
        channels: vec![Channel::WhatsApp, Channel::Sms],
        smpp: None,
        webhook_secret: None,
    };
    let created = store.create_account(given.clone()).await.unwrap();
    assert_eq!(created.name, "Globex");
    assert!(created.token_hash.matches(&token.hash()));
    assert_eq!(created.balance, Some(Money(12_500_000)));
    assert_eq!(
        created.status_url.as_deref(),
        Some("https://example.test/status")
    );
    assert_eq!(created.status_format, ReportFormat::Xml);
    assert_eq!(
        created.inbound_url.as_deref(),
        Some("https://example.test/inbound")
    );
    assert_eq!(created.channels, vec![Channel::WhatsApp, Channel::Sms]);
    assert!(
        created.created_at >= before && created.created_at <= jiff::Timestamp::now(),
        "created now: {}",
        created.created_at
    );
    // What is read back is what was created.
    let found = store.account_by_token(token.hash()).await.unwrap();
    assert_eq!(found, Some(created.clone()));
    assert_eq!(store.accounts().await.unwrap(), vec![created]);

    // An account without a balance, webhooks or channels is kept so.
    let bare = store
        .create_account(NewAccount {
            name: "bare".into(),
            token_hash: ProductToken::generate().hash(),
            balance: None,
            status_url: None,
            status_format: ReportFormat::Json,
            inbound_url: None,
            inbound_numbers: Vec::new(),
            channels: vec![Channel::Sms],
            smpp: None,
            webhook_secret: None,
        })
        .await
        .unwrap();
    assert_eq!(
        (bare.balance, bare.status_url, bare.inbound_url),
        (None, None, None)
    );
    assert_eq!(bare.status_format, ReportFormat::Json);
    assert_eq!(bare.smpp, None);
}

#[tokio::test]
async fn accounts_are_listed_oldest_first() {
    let backend = Backend::new();
    let store = backend.open();
    assert_eq!(store.accounts().await.unwrap(), vec![]);
    let mut created = Vec::new();
    for name in ["first", "second", "third", "fourth"] {
        let mut account = new_account(&ProductToken::generate(), None);
        account.name = name.into();
        created.push(store.create_account(account).await.unwrap());
    }
    let listed = store.accounts().await.unwrap();
    assert_eq!(
        listed.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        vec!["first", "second", "third", "fourth"]
    );
    assert_eq!(listed, created);
    // Each has an id of its own.
    let mut ids: Vec<_> = listed.iter().map(|a| a.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

#[tokio::test]
async fn an_account_is_found_by_its_token_and_an_unknown_token_finds_none() {
    let backend = Backend::new();
    let store = backend.open();
    let (one, two) = (ProductToken::generate(), ProductToken::generate());
    let first = store.create_account(new_account(&one, None)).await.unwrap();
    let second = store
        .create_account(new_account(&two, Some(Money(5))))
        .await
        .unwrap();
    assert_eq!(
        store.account_by_token(one.hash()).await.unwrap(),
        Some(first)
    );
    assert_eq!(
        store.account_by_token(two.hash()).await.unwrap(),
        Some(second)
    );
    let unknown = ProductToken::generate();
    assert_eq!(store.account_by_token(unknown.hash()).await.unwrap(), None);
}

#[tokio::test]
async fn duplicate_token_is_a_conflict() {
    let backend = Backend::new();
    let store = backend.open();
    let token = ProductToken::generate();
    let first = store
        .create_account(new_account(&token, None))
        .await
        .unwrap();
    let mut again = new_account(&token, Some(Money(1)));
    again.name = "impostor".into();
    let again = store.create_account(again).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert!(!again.unwrap_err().retryable());
    // Nothing of the refused one was stored.
    assert_eq!(store.accounts().await.unwrap(), vec![first.clone()]);
    assert_eq!(
        store.account_by_token(token.hash()).await.unwrap(),
        Some(first)
    );
}

/// SMPP settings with every option away from its default.
fn smpp(system_id: &str, password: &str) -> SmppSettings {
    let mut settings = SmppSettings::new(system_id, password).unwrap();
    settings.max_binds = NonZeroU32::new(3).unwrap();
    settings.rate = NonZeroU32::new(250);
    settings.receipt_format = ReceiptFormat::AppendixB;
    settings.receipt_pdu = ReceiptPdu::DataSm;
    settings
}

#[tokio::test]
async fn smpp_settings_are_kept_whole_and_found_by_system_id() {
    let backend = Backend::new();
    let store = backend.open();
    let token = ProductToken::generate();
    let given = smpp("acme_01", "pw!8char");
    let created = store
        .create_account(NewAccount {
            smpp: Some(given.clone()),
            ..new_account(&token, None)
        })
        .await
        .unwrap();
    // Every field, the password's hash (PHC string, salt included) as given.
    assert_eq!(created.smpp.as_deref(), Some(&given));
    let stored = created.smpp.as_deref().unwrap();
    assert_eq!(stored.system_id, "acme_01");
    assert_eq!(stored.password.as_phc(), given.password.as_phc());
    assert_eq!(stored.max_binds.get(), 3);
    assert_eq!(stored.rate.map(NonZeroU32::get), Some(250));
    assert_eq!(stored.receipt_format, ReceiptFormat::AppendixB);
    assert_eq!(stored.receipt_pdu, ReceiptPdu::DataSm);
    // The defaults are kept too (no rate: unlimited).
    let defaults = store
        .create_account(NewAccount {
            smpp: Some(SmppSettings::new("plain", "pw").unwrap()),
            ..new_account(&ProductToken::generate(), None)
        })
        .await
        .unwrap();
    let plain = defaults.smpp.as_deref().unwrap();
    assert_eq!(
        (
            plain.max_binds.get(),
            plain.rate,
            plain.receipt_format,
            plain.receipt_pdu
        ),
        (8, None, ReceiptFormat::Cm, ReceiptPdu::DeliverSm)
    );
    let without = store
        .create_account(new_account(&ProductToken::generate(), None))
        .await
        .unwrap();
    assert_eq!(without.smpp, None);

    // Read back by every way an account is read.
    assert_eq!(
        store.account_by_token(token.hash()).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        store.accounts().await.unwrap(),
        vec![created.clone(), defaults.clone(), without]
    );
    let found = store.account_by_smpp_system_id("acme_01").await.unwrap();
    assert_eq!(found, Some(created.clone()));
    assert_eq!(
        store.account_by_smpp_system_id("plain").await.unwrap(),
        Some(defaults)
    );
    // Not found: unknown, another case, a prefix, empty.
    for unknown in ["nobody", "ACME_01", "acme", ""] {
        assert_eq!(
            store.account_by_smpp_system_id(unknown).await.unwrap(),
            None,
            "{unknown:?}"
        );
    }

    // The stored hash verifies the password, and nothing else.
    let settings = found.unwrap().smpp.unwrap();
    assert!(settings.verify("pw!8char"));
    assert!(!settings.verify("pw!8chaR"));
    assert!(!settings.verify("pw!8cha"));
    assert!(!settings.verify(""));
}

#[tokio::test]
async fn duplicate_smpp_system_id_is_a_conflict() {
    let backend = Backend::new();
    let store = backend.open();
    let first = store
        .create_account(NewAccount {
            smpp: Some(smpp("acme", "one")),
            ..new_account(&ProductToken::generate(), None)
        })
        .await
        .unwrap();
    let token = ProductToken::generate();
    let again = store
        .create_account(NewAccount {
            name: "impostor".into(),
            smpp: Some(SmppSettings::new("acme", "two").unwrap()),
            ..new_account(&token, None)
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert!(!again.unwrap_err().retryable());
    // Nothing of the refused one was stored; the first keeps its password.
    assert_eq!(store.accounts().await.unwrap(), vec![first.clone()]);
    assert_eq!(store.account_by_token(token.hash()).await.unwrap(), None);
    let holder = store.account_by_smpp_system_id("acme").await.unwrap();
    assert_eq!(holder, Some(first));
    let holder = holder.unwrap().smpp.unwrap();
    assert!(holder.verify("one"));
    assert!(!holder.verify("two"));
    // Another case is another system id; accounts without SMPP never conflict over it.
    store
        .create_account(NewAccount {
            smpp: Some(SmppSettings::new("ACME", "three").unwrap()),
            ..new_account(&ProductToken::generate(), None)
        })
        .await
        .unwrap();
    for _ in 0..2 {
        store
            .create_account(new_account(&ProductToken::generate(), None))
            .await
            .unwrap();
    }
    assert_eq!(store.accounts().await.unwrap().len(), 4);
}
