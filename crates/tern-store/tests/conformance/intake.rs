//! [`IntakeStore`]: a submission is stored and queued whole or not at all, durably, and its debit
//! is what `money::debit` decides, however many requests race on one balance.

use std::sync::Arc;

use jiff::SignedDuration;

use tern_core::account::AccountId;
use tern_core::channel::Channel;
use tern_core::message::{Content, DeliveryState, MessageId, NewMessage};
use tern_core::money::Money;
use tern_core::ports::{AcceptError, Store, StoreError};

use crate::harness::*;

/// The balance of `account` as the store has it now.
async fn balance_of(store: &dyn Store, account: AccountId) -> Option<Money> {
    store
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.id == account)
        .expect("the account exists")
        .balance
}

#[tokio::test]
async fn accepted_messages_survive_reopen_and_are_claimed_once() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let msg = message(account.id, &[Channel::Sms], Money(0), now);
    let id = msg.id;
    store
        .accept(account.id, None, vec![msg.clone()])
        .await
        .unwrap();

    let store = backend.reopen(store);
    let found = store
        .account_by_token(account.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, account);
    // Stored as it was accepted, queued.
    let record = logged(&*store, account.id, id).await;
    assert_eq!(record.message, msg);
    assert_eq!(record.state, DeliveryState::Queued);
    assert_eq!(record.channel, Some(Channel::Sms));
    assert!(record.history.is_empty());

    let claimed = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(ids(&claimed, |d| d.id), vec![id]);
    assert_eq!((claimed[0].attempt, claimed[0].channel), (1, Channel::Sms));
    // Leased: not handed out again until the lease ends.
    assert!(store.claim_due(now, 10, LEASE).await.unwrap().is_empty());
    let reclaimed = store.claim_due(now + LEASE, 10, LEASE).await.unwrap();
    assert_eq!(ids(&reclaimed, |d| d.id), vec![id]);
    assert_eq!(reclaimed[0].attempt, 2);
}

#[tokio::test]
async fn accepted_messages_are_due_at_once() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    assert_eq!(store.next_due().await.unwrap(), None);
    let now = now();
    let id = accept_one(&*store, account.id, now).await;
    assert_eq!(store.next_due().await.unwrap(), Some(now));
    let claimed = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(ids(&claimed, |d| d.id), vec![id]);
}

#[tokio::test]
async fn a_dispatch_carries_the_message_as_accepted() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let msg = NewMessage {
        recipient: "+31687654321".into(),
        content: Arc::new(Content {
            from: "Sender".into(),
            body: "Body with ünïcode €".into(),
            body_type: Some("TEXT".into()),
            dcs: Some(8),
            app_key: Some("app-key".into()),
            rich_content: Some(r#"{"conversation":[{"text":"hi"}]}"#.into()),
            custom_groupings: [Some("g1".into()), None, Some("g3".into())],
            udh: None,
        }),
        parts: 3,
        reference: None,
        ..message(
            account.id,
            &[Channel::WhatsApp, Channel::Sms],
            Money(7),
            now,
        )
    };
    store
        .accept(account.id, None, vec![msg.clone()])
        .await
        .unwrap();
    let claimed = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let dispatch = &claimed[0];
    assert_eq!(dispatch.id, msg.id);
    assert_eq!(dispatch.account_id, account.id);
    assert_eq!((dispatch.attempt, dispatch.channel), (1, Channel::WhatsApp));
    assert_eq!(dispatch.recipient, "+31687654321");
    assert_eq!(*dispatch.content, *msg.content);
    assert_eq!(dispatch.parts, 3);
    assert_eq!(dispatch.reference, None);
    assert_eq!(logged(&*store, account.id, msg.id).await.message, msg);
}

#[tokio::test]
async fn the_recipients_of_one_msg_claimed_together_share_one_content() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let first = message(account.id, &[Channel::Sms], Money(0), now);
    let mut recipients: Vec<NewMessage> = (0..50)
        .map(|index| NewMessage {
            id: MessageId::generate(),
            recipient: format!("00316{index:08}"),
            ..first.clone()
        })
        .collect();
    // Another msg of the same request, with content of its own.
    let other = message(account.id, &[Channel::Sms], Money(0), now);
    let other_content = Content {
        body: "Other".into(),
        custom_groupings: [Some("g".into()), None, None],
        ..(*other.content).clone()
    };
    recipients.push(NewMessage {
        content: Arc::new(other_content),
        ..other
    });
    store.accept(account.id, None, recipients).await.unwrap();

    let claimed = store.claim_due(now, 100, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 51);
    let hello: Vec<_> = claimed
        .iter()
        .filter(|d| d.content.body == "Hello")
        .collect();
    assert_eq!(hello.len(), 50);
    assert!(
        hello
            .iter()
            .all(|d| Arc::ptr_eq(&d.content, &hello[0].content))
    );
    let other = claimed.iter().find(|d| d.content.body == "Other").unwrap();
    assert_eq!(other.content.custom_groupings[0].as_deref(), Some("g"));
    assert!(!Arc::ptr_eq(&other.content, &hello[0].content));
}

#[tokio::test]
async fn balance_is_debited_atomically() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, Some(Money(100))).await;
    let now = now();
    let two = vec![
        message(account.id, &[Channel::Sms], Money(60), now),
        message(account.id, &[Channel::Sms], Money(60), now),
    ];
    assert_eq!(
        store.accept(account.id, Some(Money(120)), two).await,
        Err(AcceptError::InsufficientBalance)
    );
    assert!(log(&*store, account.id).await.is_empty());
    assert_eq!(store.next_due().await.unwrap(), None);
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(100)));

    let one = message(account.id, &[Channel::Sms], Money(60), now);
    let id = one.id;
    store
        .accept(account.id, Some(Money(60)), vec![one])
        .await
        .unwrap();
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(40)));
    assert_eq!(
        ids(&log(&*store, account.id).await, |r| r.message.id),
        vec![id]
    );
}

#[tokio::test]
async fn a_submission_that_fails_stores_nothing_and_debits_nothing() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, Some(Money(100))).await;
    let now = now();
    let stored = message(account.id, &[Channel::Sms], Money(10), now);
    store
        .accept(account.id, Some(Money(10)), vec![stored.clone()])
        .await
        .unwrap();
    // A request whose second message cannot be stored (its id is taken).
    let fresh = message(account.id, &[Channel::Sms], Money(10), now);
    let taken = NewMessage {
        recipient: "0031600000000".into(),
        ..stored.clone()
    };
    let failed = store
        .accept(account.id, Some(Money(20)), vec![fresh.clone(), taken])
        .await;
    assert!(matches!(failed, Err(AcceptError::Store(_))), "{failed:?}");
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(90)));
    let logged = log(&*store, account.id).await;
    assert_eq!(ids(&logged, |r| r.message.id), vec![stored.id]);
    assert_eq!(logged[0].message, stored);
    let claimed = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(ids(&claimed, |d| d.id), vec![stored.id]);
}

#[tokio::test]
async fn a_balance_that_exactly_covers_the_charge_pays_it_and_then_nothing_more() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, Some(Money(100))).await;
    let now = now();
    store
        .accept(
            account.id,
            Some(Money(100)),
            vec![
                message(account.id, &[Channel::Sms], Money(50), now),
                message(account.id, &[Channel::Sms], Money(50), now),
            ],
        )
        .await
        .unwrap();
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(0)));
    assert_eq!(log(&*store, account.id).await.len(), 2);
    // A balance of zero refuses even a message that costs nothing.
    assert_eq!(
        store
            .accept(
                account.id,
                Some(Money(0)),
                vec![message(account.id, &[Channel::Sms], Money(0), now)]
            )
            .await,
        Err(AcceptError::InsufficientBalance)
    );
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(0)));
    assert_eq!(log(&*store, account.id).await.len(), 2);
}

#[tokio::test]
async fn a_negative_balance_refuses_free_messages() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, Some(Money(-1))).await;
    let now = now();
    assert_eq!(
        store
            .accept(
                account.id,
                Some(Money(0)),
                vec![message(account.id, &[Channel::Sms], Money(0), now)]
            )
            .await,
        Err(AcceptError::InsufficientBalance)
    );
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(-1)));
    assert!(log(&*store, account.id).await.is_empty());
}

#[tokio::test]
async fn without_a_charge_no_balance_is_read() {
    let backend = Backend::new();
    let store = backend.open();
    // Out of balance: any charge, even of nothing, would be refused.
    let account = account(&*store, Some(Money(0))).await;
    let now = now();
    let id = accept_one(&*store, account.id, now).await;
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(0)));
    assert_eq!(
        ids(&log(&*store, account.id).await, |r| r.message.id),
        vec![id]
    );
}

#[tokio::test]
async fn an_account_without_a_balance_is_not_debited() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let msg = message(account.id, &[Channel::Sms], Money(50), now);
    let id = msg.id;
    store
        .accept(account.id, Some(Money(50)), vec![msg])
        .await
        .unwrap();
    assert_eq!(balance_of(&*store, account.id).await, None);
    assert_eq!(
        ids(&log(&*store, account.id).await, |r| r.message.id),
        vec![id]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_racing_on_one_balance_never_overdraw_it() {
    let backend = Backend::new();
    // Two nodes on one database, each taking requests at once.
    let nodes = [backend.open_as("a"), backend.open_as("b")];
    let account = account(&*nodes[0], Some(Money(100))).await;
    let now = now();
    let mut requests = Vec::new();
    for index in 0..40 {
        let store = Arc::clone(&nodes[index % 2]);
        let msg = message(account.id, &[Channel::Sms], Money(10), now);
        requests.push(tokio::spawn(async move {
            store.accept(account.id, Some(Money(10)), vec![msg]).await
        }));
    }
    let mut paid = 0;
    let mut refused = 0;
    for request in requests {
        match request.await.unwrap() {
            Ok(()) => paid += 1,
            Err(AcceptError::InsufficientBalance) => refused += 1,
            Err(other) => panic!("a request failed: {other:?}"),
        }
    }
    assert_eq!((paid, refused), (10, 30));
    for node in &nodes {
        assert_eq!(balance_of(&**node, account.id).await, Some(Money(0)));
    }
    assert_eq!(log(&*nodes[1], account.id).await.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_taken_together_each_get_their_own_answer() {
    // Requests of several accounts at once (a backend may write them in one transaction): each
    // is accepted or refused as if it came alone, in the order the balance allows.
    let backend = Backend::new();
    let store = backend.open();
    let paying = account(&*store, Some(Money(25))).await;
    let unlimited = account(&*store, None).await;
    let ghost: AccountId = 4242;
    let now = now();
    let mut requests = Vec::new();
    for round in 0..3 {
        for (account, charge) in [
            (paying.id, Some(Money(10))),
            (unlimited.id, Some(Money(10))),
            (ghost, None),
        ] {
            let store = Arc::clone(&store);
            let msgs: Vec<NewMessage> = (0..=round)
                .map(|_| message(account, &[Channel::Sms], Money(10), now))
                .collect();
            let charge = charge.map(|Money(each)| Money(each * msgs.len() as i64));
            requests.push(tokio::spawn(async move {
                (account, store.accept(account, charge, msgs).await)
            }));
        }
    }
    let (mut paid, mut refused) = (0, 0);
    for request in requests {
        match request.await.unwrap() {
            (account, Ok(())) if account == paying.id => paid += 1,
            (account, Err(AcceptError::InsufficientBalance)) if account == paying.id => {
                refused += 1
            }
            (account, answer) if account == unlimited.id => answer.unwrap(),
            (_, answer) => assert!(
                matches!(answer, Err(AcceptError::Store(StoreError::Conflict(_)))),
                "{answer:?}"
            ),
        }
    }
    // 25 pays for the request of one message (10) or of two (20), whichever came first, and
    // then for nothing more (the rest do not fit in 15 or 5); never overdrawn.
    let left = balance_of(&*store, paying.id).await.unwrap();
    let stored = log(&*store, paying.id).await.len() as i64;
    assert!([1, 2].contains(&stored), "{stored} messages stored");
    assert_eq!(left, Money(25 - 10 * stored));
    assert_eq!((paid, refused), (1, 2));
    assert_eq!(log(&*store, unlimited.id).await.len(), 1 + 2 + 3);
    assert_eq!(balance_of(&*store, unlimited.id).await, None);
    assert!(log(&*store, ghost).await.is_empty());
}

#[tokio::test]
async fn messages_of_an_account_that_does_not_exist_are_a_conflict_and_nothing_is_stored() {
    let backend = Backend::new();
    let store = backend.open();
    let now = now();
    let ghost: AccountId = 4242;
    for charge in [None, Some(Money(1))] {
        let error = store
            .accept(
                ghost,
                charge,
                vec![message(ghost, &[Channel::Sms], Money(1), now)],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, AcceptError::Store(StoreError::Conflict(_))),
            "charge {charge:?}: {error:?}"
        );
    }
    assert!(store.claim_due(now, 10, LEASE).await.unwrap().is_empty());
}

#[tokio::test]
async fn every_message_of_a_large_request_is_stored_as_accepted() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    // More messages than a backend may write in one statement, and not a multiple of it; every
    // field differs from one message to the next.
    let messages: Vec<NewMessage> = (0..101u32)
        .map(|n| {
            let content = Arc::new(Content {
                from: format!("S{n}"),
                body: format!("body {n}"),
                body_type: (n % 2 == 0).then(|| "AUTO".to_owned()),
                dcs: (n % 3 == 0).then_some(8),
                app_key: None,
                rich_content: None,
                custom_groupings: [(n % 5 == 0).then(|| format!("g{n}")), None, None],
                udh: (n % 7 == 0).then(|| vec![0x05, 0x00, 0x03, n as u8, 0x02, 0x01]),
            });
            NewMessage {
                recipient: format!("00316{n:08}"),
                content,
                parts: 1 + n % 4,
                reference: (n % 2 == 1).then(|| format!("ref{n}")),
                valid_until: now + SignedDuration::from_mins(i64::from(n) + 1),
                ..message(
                    account.id,
                    if n % 2 == 0 {
                        &[Channel::Sms]
                    } else {
                        &[Channel::WhatsApp, Channel::Sms]
                    },
                    Money(i64::from(n)),
                    now,
                )
            }
        })
        .collect();
    store
        .accept(account.id, None, messages.clone())
        .await
        .unwrap();
    let mut logged: Vec<NewMessage> = log(&*store, account.id)
        .await
        .into_iter()
        .map(|record| record.message)
        .collect();
    logged.sort_by_key(|message| message.id);
    let mut expected = messages;
    expected.sort_by_key(|message| message.id);
    assert_eq!(logged, expected);
    assert_eq!(store.claim_due(now, 1000, LEASE).await.unwrap().len(), 101);
}
