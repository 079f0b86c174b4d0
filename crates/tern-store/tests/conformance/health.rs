//! [`StoreHealth`]: a fresh store is ready and has no fatal failure.

use crate::harness::*;

#[tokio::test]
async fn a_fresh_store_is_ready_and_not_failed() {
    let backend = Backend::new();
    let store = backend.open();
    assert_eq!(store.ready().await, Ok(()));
    assert_eq!(store.fatal(), None);
    // Asked again at once (a result may be reused), and after writes.
    assert_eq!(store.ready().await, Ok(()));
    let account = account(&*store, None).await;
    accept_one(&*store, account.id, now()).await;
    assert_eq!(store.ready().await, Ok(()));
    assert_eq!(store.fatal(), None);
}
