//! `tern serve`: open the store, start the HTTP API, the dispatcher, the event applier and the
//! status-report notifier, and stop them in order on SIGINT/SIGTERM so nothing accepted is lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jiff::SignedDuration;
use tern_core::account::{NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::ports::{Connector, EventSink, Store};
use tern_core::submission::SubmissionPolicy;
use tern_egress::Wakeups;
use tern_egress::dispatcher::{DispatchSettings, Dispatcher};
use tern_egress::events::event_channel;
use tern_egress::notifier::Notifier;
use tern_egress::simulator::Simulator;
use tern_egress::webhook_target::{GuardedResolver, TargetPolicy};
use tern_ingress::http::{AppState, router};
use tern_store::SqliteStore;
use tokio::sync::watch;

use crate::cli::ServeArgs;
use crate::config;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = config::load(args.config.as_deref(), args.data_dir, args.http_addr)?;
    let _data_dir_lock = lock_data_dir(&config.data_dir)?;
    let store = SqliteStore::open(&config.data_dir)
        .with_context(|| format!("cannot open the store in {}", config.data_dir.display()))?;
    let store: Arc<dyn Store> = Arc::new(store);
    store
        .release_leases(jiff::Timestamp::now())
        .await
        .context("cannot release the previous run's leases")?;
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.http_addr))?;
    let address = listener.local_addr()?;
    create_demo_account(&*store, &address.to_string()).await?;

    let wakeups = Arc::new(Wakeups::default());
    let (sink, applier) = event_channel(Arc::clone(&store), Arc::clone(&wakeups));
    let simulator: Arc<dyn Connector> = Arc::new(Simulator::new(
        config.simulator.clone(),
        Arc::new(sink.clone()) as Arc<dyn EventSink>,
    ));
    let connectors: HashMap<Channel, Arc<dyn Connector>> = Channel::ALL
        .iter()
        .map(|channel| (*channel, Arc::clone(&simulator)))
        .collect();
    let (stop, stopping) = watch::channel(false);
    // The event applier records what the dispatcher sent: it stops after the dispatcher.
    let (stop_applier, applier_stopping) = watch::channel(false);

    let dispatcher = Dispatcher {
        store: Arc::clone(&store),
        connectors,
        wakeups: Arc::clone(&wakeups),
        settings: DispatchSettings {
            batch_size: config.dispatch.batch_size.max(1),
            lease: SignedDuration::from_secs(config.dispatch.lease_secs.max(1) as i64),
            ..DispatchSettings::default()
        },
        events: sink,
    };
    let targets = TargetPolicy::new(&config.webhooks);
    let notifier = Notifier::new(
        Arc::clone(&store),
        webhook_client(&targets)?,
        Arc::clone(&wakeups),
        config.status_reports.clone(),
        targets,
    );
    let dispatcher_task = tokio::spawn(dispatcher.run(stopping.clone()));
    let notifier_task = tokio::spawn(notifier.run(stopping.clone()));
    let applier_task = tokio::spawn(applier.run(applier_stopping));

    let state = Arc::new(AppState {
        store: Arc::clone(&store),
        policy: SubmissionPolicy {
            price_per_part: config.price_per_part.parse()?,
            limits: config.limits,
        },
        max_body_bytes: config.max_body_bytes,
        dispatch_wakeup: Arc::new(tokio::sync::Notify::new()),
    });
    // Accepted messages wake the dispatcher.
    let accepted = Arc::clone(&state.dispatch_wakeup);
    let forward = Arc::clone(&wakeups);
    tokio::spawn(async move {
        loop {
            accepted.notified().await;
            forward.dispatch.notify_one();
        }
    });

    println!("Tern listening on http://{address}");
    tracing::info!(%address, data_dir = %config.data_dir.display(), "tern serving");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("HTTP server failed")?;

    tracing::info!("stopping: HTTP closed, finishing dispatch and reports");
    let _ = stop.send(true);
    let _ = dispatcher_task.await;
    let _ = stop_applier.send(true);
    let _ = applier_task.await;
    let _ = tokio::time::timeout(Duration::from_secs(15), notifier_task).await;
    println!("Tern stopped");
    Ok(())
}

/// The client that POSTs webhooks: redirects are not followed (a 3xx is a failed attempt), and
/// with `deny_private` every name is resolved by [`GuardedResolver`], which drops private
/// addresses at connect time. Then proxies are not used either: through a proxy the address
/// checked would be the proxy's, not the receiver's.
fn webhook_client(targets: &TargetPolicy) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .redirect(reqwest::redirect::Policy::none());
    if targets.deny_private() {
        builder = builder.dns_resolver(GuardedResolver).no_proxy();
    }
    builder.build().context("cannot build the HTTP client")
}

/// Hold an exclusive lock on `DIR/serve.lock` for the life of the process: two gateways on one
/// embedded store would hand out the same work twice.
fn lock_data_dir(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let path = data_dir.join("serve.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another `tern serve` is using {}; stop it first",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("install SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// On a store with no accounts, create `demo` and print how to use it.
async fn create_demo_account(store: &dyn Store, address: &str) -> anyhow::Result<()> {
    if !store.accounts().await?.is_empty() {
        return Ok(());
    }
    let token = ProductToken::generate();
    store
        .create_account(NewAccount {
            name: "demo".into(),
            token_hash: token.hash(),
            balance: None,
            status_url: None,
            status_format: ReportFormat::Json,
            inbound_url: None,
            channels: Channel::ALL.to_vec(),
        })
        .await?;
    println!("Created the demo account. Its product token (shown only now):");
    println!("  {token}");
    println!("Send a message:");
    println!(
        "  curl -s -X POST http://{address}/v1.0/message -H 'Content-Type: application/json' -d '{{\"messages\":{{\"authentication\":{{\"producttoken\":\"{token}\"}},\"msg\":[{{\"from\":\"Tern\",\"to\":[{{\"number\":\"0031612345678\"}}],\"body\":{{\"content\":\"Hello from Tern\"}}}}]}}}}'"
    );
    Ok(())
}
