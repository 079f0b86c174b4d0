//! [`PushStore`]: push apps are created (a key once), found and listed oldest first with their
//! installation counts; installations are registered, found by number (under their app only),
//! updated, replaced when their push token is registered again, removed by id or by token, and
//! all of it is kept across a reopen.

use jiff::Timestamp;
use tern_core::account::AccountId;
use tern_core::ports::{Store, StoreError};
use tern_core::push::{AppKey, Installation, InstallationId, NewPushApp, Registration};

use crate::harness::*;

fn device(token: &str, msisdn: Option<&str>) -> Registration {
    Registration {
        push_token: token.into(),
        device_os: "Android".into(),
        device_os_version: Some("14 (34)".into()),
        device_model: Some("Pixel 8".into()),
        app_id: Some("com.acme.app".into()),
        app_version: Some("1.2".into()),
        lib_id: Some("com.cm.cmpush".into()),
        lib_version: Some("2.0.0".into()),
        push_authorization: Some("Authorized".into()),
        preferred_languages: vec!["nl-NL".into(), "en".into()],
        msisdn: msisdn.map(str::to_owned),
    }
}

/// The account the apps of a test belong to.
async fn app_owner(store: &dyn Store) -> AccountId {
    account(store, None).await.id
}

fn at(millis: i64) -> Timestamp {
    Timestamp::from_millisecond(millis).unwrap()
}

fn installation(app_key: AppKey, token: &str, msisdn: Option<&str>, millis: i64) -> Installation {
    Installation {
        id: InstallationId::generate(),
        app_key,
        device: device(token, msisdn),
        created_at: at(millis),
        updated_at: at(millis),
    }
}

/// A new app of `account` on connector `push`.
fn new_app(account_id: AccountId, name: &str) -> NewPushApp {
    NewPushApp {
        key: AppKey::generate(),
        account_id,
        name: name.into(),
        connector: "push".into(),
    }
}

#[tokio::test]
async fn apps_are_created_found_and_listed_with_their_installation_counts() {
    let backend = Backend::new();
    let store = backend.open();
    let owner = app_owner(&*store).await;
    let first = store.create_app(new_app(owner, "shop")).await.unwrap();
    let second = store.create_app(new_app(owner, "news")).await.unwrap();
    assert_eq!(
        (
            first.name.as_str(),
            first.connector.as_str(),
            first.account_id
        ),
        ("shop", "push", owner)
    );
    assert_eq!(
        store.app_by_key(first.key).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.app_by_key(AppKey::generate()).await.unwrap(), None);
    let again = NewPushApp {
        key: first.key,
        ..new_app(owner, "copy")
    };
    assert!(matches!(
        store.create_app(again).await,
        Err(StoreError::Conflict(_))
    ));
    for (token, number) in [("a", "0031600000001"), ("b", "0031600000002")] {
        store
            .register_installation(installation(second.key, token, Some(number), 1))
            .await
            .unwrap();
    }
    let listed: Vec<_> = store
        .apps()
        .await
        .unwrap()
        .into_iter()
        .map(|listing| (listing.app.name, listing.installations))
        .collect();
    assert_eq!(listed, [("shop".to_owned(), 0), ("news".to_owned(), 2)]);
}

#[tokio::test]
async fn installations_are_registered_found_by_number_updated_and_removed() {
    let backend = Backend::new();
    let store = backend.open();
    let owner = app_owner(&*store).await;
    let app = store.create_app(new_app(owner, "shop")).await.unwrap().key;
    let other_app = store.create_app(new_app(owner, "news")).await.unwrap().key;
    let number = "0031612345678";
    let phone = installation(app, "tok-phone", Some(number), 1_000);
    let tablet = installation(app, "tok-tablet", Some(number), 2_000);
    let anonymous = installation(app, "tok-anon", None, 3_000);
    let elsewhere = installation(other_app, "tok-phone", Some(number), 4_000);
    for one in [&phone, &tablet, &anonymous, &elsewhere] {
        store.register_installation(one.clone()).await.unwrap();
    }
    assert_eq!(
        store.installation(app, phone.id).await.unwrap(),
        Some(phone.clone())
    );
    // Another app's installation is not found under this app.
    assert_eq!(store.installation(app, elsewhere.id).await.unwrap(), None);
    assert_eq!(
        store.installations_for(app, number).await.unwrap(),
        [phone.clone(), tablet.clone()]
    );
    assert_eq!(
        store.installations_for(other_app, number).await.unwrap(),
        std::slice::from_ref(&elsewhere)
    );
    assert_eq!(
        store.installations_for(app, "0031600000000").await.unwrap(),
        []
    );

    // An update replaces what the device registered and its update time.
    let mut moved = device("tok-phone-2", Some("0032470000000"));
    moved.preferred_languages = Vec::new();
    moved.device_model = None;
    let updated = store
        .update_installation(app, phone.id, moved.clone(), at(5_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        updated,
        Installation {
            device: moved.clone(),
            updated_at: at(5_000),
            ..phone.clone()
        }
    );
    assert_eq!(
        store.installations_for(app, number).await.unwrap(),
        std::slice::from_ref(&tablet)
    );
    assert_eq!(
        store
            .update_installation(app, InstallationId::generate(), moved.clone(), at(6_000))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .update_installation(other_app, phone.id, moved.clone(), at(6_000))
            .await
            .unwrap(),
        None
    );

    // FCM says a token is gone: its installations under that app only are forgotten.
    assert_eq!(
        store
            .remove_installation_by_token(app, "tok-tablet")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .remove_installation_by_token(app, "tok-tablet")
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.installations_for(app, number).await.unwrap(), []);

    assert!(store.remove_installation(app, anonymous.id).await.unwrap());
    assert!(!store.remove_installation(app, anonymous.id).await.unwrap());
    assert!(!store.remove_installation(app, elsewhere.id).await.unwrap());

    // What is left survives a reopen.
    let store = backend.reopen(store);
    assert_eq!(
        store.installation(app, phone.id).await.unwrap(),
        Some(updated)
    );
    assert_eq!(
        store.installations_for(other_app, number).await.unwrap(),
        [elsewhere]
    );
}

#[tokio::test]
async fn a_token_registered_again_replaces_its_installation() {
    let backend = Backend::new();
    let store = backend.open();
    let owner = app_owner(&*store).await;
    let app = store.create_app(new_app(owner, "shop")).await.unwrap().key;
    let number = "0031612345678";
    let before = installation(app, "tok", Some(number), 1_000);
    let after = installation(app, "tok", Some(number), 2_000);
    store.register_installation(before.clone()).await.unwrap();
    store.register_installation(after.clone()).await.unwrap();
    assert_eq!(
        store.installations_for(app, number).await.unwrap(),
        std::slice::from_ref(&after)
    );
    assert_eq!(store.installation(app, before.id).await.unwrap(), None);
    // An update to a token another installation has takes it over too.
    let other = installation(app, "other", Some(number), 3_000);
    store.register_installation(other.clone()).await.unwrap();
    store
        .update_installation(app, other.id, device("tok", Some(number)), at(4_000))
        .await
        .unwrap()
        .unwrap();
    let left: Vec<InstallationId> = store
        .installations_for(app, number)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(left, [other.id]);
}
