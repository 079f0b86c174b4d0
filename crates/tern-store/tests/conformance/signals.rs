//! [`StoreSignals`]: a store shared by several nodes tells each when another queued work; the
//! embedded store has no other node and never signals.

use std::time::Duration;

use tern_core::ports::WorkSignal;

use crate::harness::*;

#[tokio::test]
async fn a_node_hears_of_the_messages_another_node_queues() {
    let backend = Backend::new();
    let writer = backend.open_as("node-a");
    let listener = backend.open_as("node-b");
    if kind() == Kind::Sqlite {
        assert_eq!(listener.next_signal().await, None);
        return;
    }
    // Listening starts with a look for everything (what was written before was missed).
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), listener.next_signal())
            .await
            .expect("listening within 10 s"),
        Some(WorkSignal::Missed)
    );
    let account = account(&*writer, None).await;
    accept_one(&*writer, account.id, now()).await;
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match listener.next_signal().await {
                Some(WorkSignal::Dispatch) => return,
                Some(_) => continue,
                None => panic!("a shared store signals"),
            }
        }
    })
    .await;
    assert!(
        heard.is_ok(),
        "node-b heard of node-a's message within 10 s"
    );
}
