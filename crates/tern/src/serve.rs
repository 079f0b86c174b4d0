//! `tern serve`: open the store, start the HTTP API, the SMPP server, the dispatcher, the event applier and the
//! status-report notifier, and stop them in order on SIGINT/SIGTERM so nothing accepted is lost.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jiff::SignedDuration;
use tern_core::account::{NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::hold::Tenure;
use tern_core::ports::{
    BlocklistStore, Connector, EventSink, InboundStore, PushStore, QueueStore, Store,
};
use tern_core::routing::RoutingTable;
use tern_core::submission::SubmissionPolicy;
use tern_core::submitter::{Clock, Submitter, TimeOrderedIds, Wake};
use tern_egress::Wakeups;
use tern_egress::connectors::ConnectorRegistry;
use tern_egress::dispatcher::{DispatchSettings, Dispatcher};
use tern_egress::events::event_channel;
use tern_egress::fcm::FcmConnector;
use tern_egress::google_auth::GoogleTokens;
use tern_egress::http_client::HttpClient;
use tern_egress::inbound::InboundSweeper;
use tern_egress::notifier::Notifier;
use tern_egress::provider_http::ProviderClients;
use tern_egress::provider_webhooks::{ConnectorWebhook, WebhookRegistry};
use tern_egress::simulator::Simulator;
use tern_egress::smpp::SmppConnector;
use tern_egress::webhook_target::TargetPolicy;
use tern_egress::whatsapp::WhatsAppConnector;
use tern_ingress::http::{AppState, router};
use tern_ingress::smpp::SmppServer;
use tern_store::{CachedAccounts, CachedBlocklist};
use tokio::sync::watch;

use crate::cli::ServeArgs;
use crate::config::{self, SmppAddr};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = config::load(
        args.config.as_deref(),
        args.data_dir,
        args.http_addr,
        args.smpp_addr,
        args.database_url,
    )?;
    // First: what the gateway does from here on is counted.
    let metrics = crate::metrics::install(&config.metrics)?;
    let postgres = config.database_url.is_some();
    // Several nodes share a PostgreSQL store; the embedded one is this process's alone.
    let _data_dir_lock = if postgres {
        None
    } else {
        Some(lock_data_dir(&config.data_dir)?)
    };
    let node = crate::store::node_id(config.cluster.node_id.as_deref(), postgres);
    let store = crate::store::open(
        &crate::store::config(&config.data_dir, config.database_url.as_deref()),
        node.clone(),
    )?;
    if postgres {
        tracing::info!(node = %node, "store: PostgreSQL, shared with the gateway's other nodes");
    }
    store.set_opt_out_keywords(config.optout.keywords());
    // Every submission and every claim looks its numbers up: from memory, at most a second old.
    let blocklist: Arc<dyn BlocklistStore> = Arc::new(CachedBlocklist::new(
        Arc::clone(&store) as _,
        CachedBlocklist::DEFAULT_TTL,
    ));
    store
        .release_leases(jiff::Timestamp::now())
        .await
        .context("cannot release the previous run's leases")?;
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.http_addr))?;
    let address = listener.local_addr()?;
    let smpp_listeners = smpp_listeners(&config).await?;
    let metrics_listener = match (&metrics, config.metrics.addr) {
        (Some(_), Some(addr)) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for /metrics on {addr}"))?,
        ),
        _ => None,
    };
    // A shared database is an operator's: accounts are created with `tern account create`, and
    // nodes starting at once would each create a demo account.
    if !postgres {
        create_demo_account(&*store, &address.to_string()).await?;
    }

    let wakeups = Arc::new(Wakeups::default());
    let (sink, applier) = event_channel(Arc::clone(&store), Arc::clone(&wakeups));
    let simulator: Arc<dyn Connector> = Arc::new(Simulator::new(
        config.simulator.clone(),
        Arc::new(sink.clone()) as Arc<dyn EventSink>,
    ));
    // The configured routes; a channel without any goes to the built-in simulator.
    let accounts = store
        .accounts()
        .await
        .context("cannot read the accounts the routes name")?;
    let routes = Arc::new(RoutingTable::configured(
        config::route_rules(&config.routes, &accounts)?,
        simulator.name(),
    )?);
    // `config::load` checked the kinds and their settings.
    let mut configured: Vec<Arc<dyn Connector>> = Vec::new();
    let mut webhooks = WebhookRegistry::default();
    // The live nodes, as the cluster member reads them: several nodes share each SMPP
    // connector's binds and rate, and each provider connector's rate.
    let (cluster_view, cluster_views) = watch::channel(None);
    let provider_client = provider_client()?;
    // Messages posted to providers (the hot path) go out on the leaner client.
    let provider_sender =
        HttpClient::for_providers().context("cannot build the providers' HTTP client")?;
    for connector in &config.connectors {
        let events = Arc::new(sink.clone()) as Arc<dyn EventSink>;
        configured.push(match connector.kind.as_str() {
            "whatsapp-cloud" => {
                let settings = connector.whatsapp()?;
                let inbound_account = config::inbound_account(
                    &connector.name,
                    settings.inbound_account.as_deref(),
                    &accounts,
                )?;
                let whatsapp = WhatsAppConnector::new(
                    &connector.name,
                    settings,
                    ProviderClients {
                        posts: provider_sender.clone(),
                        other: provider_client.clone(),
                    },
                    events,
                    Arc::clone(&store) as Arc<dyn QueueStore>,
                    Arc::clone(&store) as Arc<dyn InboundStore>,
                    Arc::clone(&wakeups),
                )?
                .with_inbound_account(inbound_account);
                let whatsapp = if postgres {
                    whatsapp.sharing_with(cluster_views.clone())
                } else {
                    whatsapp
                };
                webhooks.add(
                    tern_egress::whatsapp::WEBHOOK_PROVIDER,
                    &connector.name,
                    ConnectorWebhook::WhatsApp(whatsapp.webhook()),
                );
                Arc::new(whatsapp)
            }
            "rbm" => {
                let settings = connector.rbm()?;
                let inbound_account = config::inbound_account(
                    &connector.name,
                    settings.inbound_account.as_deref(),
                    &accounts,
                )?;
                let key_file = settings.service_account_path(&config.config_dir);
                let tokens = tern_egress::google_auth::GoogleTokens::from_file(
                    &key_file,
                    tern_egress::rbm::SCOPE,
                    provider_client.clone(),
                )
                .map_err(|error| {
                    anyhow::anyhow!(
                        "invalid configuration: [[connector]] {:?}: service_account_file: {error}",
                        connector.name
                    )
                })?;
                let rbm = tern_egress::rbm::RbmConnector::new(
                    &connector.name,
                    settings,
                    tokens,
                    provider_client.clone(),
                    events,
                    Arc::clone(&store) as Arc<dyn QueueStore>,
                    Arc::clone(&store) as Arc<dyn InboundStore>,
                    Arc::clone(&wakeups),
                )?
                .with_inbound_account(inbound_account);
                let rbm = if postgres {
                    rbm.sharing_with(cluster_views.clone())
                } else {
                    rbm
                };
                webhooks.add(
                    tern_egress::rbm::WEBHOOK_PROVIDER,
                    &connector.name,
                    ConnectorWebhook::Rbm(rbm.webhook()),
                );
                Arc::new(rbm)
            }
            "fcm" => {
                let settings = connector.fcm()?;
                let key_file = config.config_dir.join(&settings.service_account_file);
                let tokens = GoogleTokens::from_file(
                    &key_file,
                    tern_proto::google_auth::FIREBASE_MESSAGING_SCOPE,
                    provider_client.clone(),
                )
                .with_context(|| {
                    format!(
                        "invalid configuration: [[connector]] {:?}: service_account_file",
                        connector.name
                    )
                })?;
                let fcm = FcmConnector::new(
                    &connector.name,
                    settings,
                    tokens,
                    provider_client.clone(),
                    events,
                    Arc::clone(&store) as Arc<dyn PushStore>,
                )?;
                webhooks.add_push(&connector.name, fcm.events());
                Arc::new(fcm)
            }
            "smpp" => {
                let smpp = SmppConnector::new(
                    &connector.name,
                    connector.smpp()?,
                    &config.config_dir,
                    events,
                    Arc::clone(&store) as Arc<dyn QueueStore>,
                    Arc::clone(&store) as Arc<dyn InboundStore>,
                    Arc::clone(&wakeups),
                )?;
                if postgres {
                    Arc::new(smpp.sharing_with(cluster_views.clone()))
                } else {
                    Arc::new(smpp)
                }
            }
            _ => Arc::new(
                Simulator::new(config.simulator.clone(), events).with_name(connector.name.as_str()),
            ),
        });
    }
    let webhooks = Arc::new(webhooks);
    // Every connector, for the metrics' sampler (the registry goes to the dispatcher).
    let every_connector: Vec<Arc<dyn Connector>> = std::iter::once(Arc::clone(&simulator))
        .chain(configured.iter().cloned())
        .collect();
    let connectors = ConnectorRegistry::new(std::iter::once(simulator).chain(configured))?;
    connectors.serves(&routes)?;
    let (stop, stopping) = watch::channel(false);
    // The event applier records what the dispatcher sent: it stops after the dispatcher.
    let (stop_applier, applier_stopping) = watch::channel(false);

    // Heartbeats, and takeovers of nodes that stopped (a shared store; no-ops on the embedded
    // one). It joins before the dispatcher claims anything: on a shared store, what a node claims
    // is its to send only while its heartbeats are recorded in time (its tenure). It leaves the
    // cluster once delivery has stopped (see the end).
    let cluster_lease = Duration::from_secs(config.cluster.lease_secs);
    let tenure = postgres.then(|| Arc::new(Tenure::new(cluster_lease)));
    let member = tern_egress::cluster::ClusterMember {
        store: Arc::clone(&store) as _,
        wakeups: Arc::clone(&wakeups),
        heartbeat: Duration::from_secs(config.cluster.heartbeat_secs),
        lease: cluster_lease,
        node: node.clone(),
        view: cluster_view,
        tenure: tenure.clone(),
    };
    member
        .join()
        .await
        .context("cannot record this node in the store")?;

    let dispatcher = Dispatcher {
        store: Arc::clone(&store),
        connectors,
        routes: RoutingTable::clone(&routes),
        wakeups: Arc::clone(&wakeups),
        settings: DispatchSettings {
            batch_size: config.dispatch.batch_size.max(1),
            lease: SignedDuration::from_secs(config.dispatch.lease_secs.max(1) as i64),
            ..DispatchSettings::default()
        },
        events: sink,
        blocklist: Arc::clone(&blocklist),
        tenure,
    };
    let targets = TargetPolicy::new(&config.webhooks);
    let notifier = Notifier::new(
        Arc::clone(&store) as _,
        webhook_client(&targets)?,
        Arc::clone(&wakeups),
        config.status_reports.clone(),
        targets,
    )
    .with_inbound_webhooks(config.inbound.clone());
    // Inbound messages whose missing parts never came are assembled as they are; those nobody
    // owned are deleted after their retention.
    let sweeper = InboundSweeper {
        store: Arc::clone(&store) as _,
        config: config.inbound.clone(),
        wakeups: Arc::clone(&wakeups),
    };
    let delivery = delivery_runtime()?;
    let dispatcher_task = delivery.spawn(dispatcher.run(stopping.clone()));
    let notifier_task = delivery.spawn(notifier.run(stopping.clone()));
    let applier_task = delivery.spawn(applier.run(applier_stopping));
    let sweeper_task = delivery.spawn(sweeper.run(stopping.clone()));
    let (stop_member, member_stopping) = watch::channel(false);
    let member_task = delivery.spawn(member.run(member_stopping));
    // Other nodes' work (a shared store) wakes this node's dispatcher and outbox runners.
    delivery.spawn(Arc::clone(&wakeups).forward_signals(Arc::clone(&store) as _, stopping.clone()));

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Accepted messages wake the dispatcher directly.
    let accounts = CachedAccounts::new(Arc::clone(&store) as _, CachedAccounts::DEFAULT_TTL);
    let policy = SubmissionPolicy {
        price_per_part: config.price_per_part.parse()?,
        limits: config.limits,
    };
    let submitter = Submitter::new(
        Arc::new(accounts),
        Arc::clone(&store) as _,
        Arc::clone(&clock),
        Arc::clone(&wakeups) as Arc<dyn Wake>,
        Arc::new(TimeOrderedIds),
        policy,
    )
    .with_routes(Arc::clone(&routes))
    .with_blocklist(Arc::clone(&blocklist));
    // The SMPP server's own submission service, over the same store, clock, wakeups and policy:
    // SMPP binds authenticate by system_id, so it needs no token cache.
    let smpp_submitter = Arc::new(
        Submitter::new(
            Arc::clone(&store) as _,
            Arc::clone(&store) as _,
            Arc::clone(&clock),
            Arc::clone(&wakeups) as Arc<dyn Wake>,
            Arc::new(TimeOrderedIds),
            policy,
        )
        .with_routes(Arc::clone(&routes))
        .with_blocklist(Arc::clone(&blocklist)),
    );
    let state = Arc::new(AppState {
        submitter,
        log: Arc::clone(&store) as _,
        health: Arc::clone(&store) as _,
        push: Arc::clone(&store) as _,
        clock: Arc::clone(&clock),
        max_body_bytes: config.max_body_bytes,
        device_events: Arc::clone(&webhooks) as _,
        webhooks,
        crash_after_keyed_commit: crash_after_keyed_commit(),
    });

    // Idempotency keys past their lifetime are forgotten, a bounded batch at a time.
    let key_sweeper = tokio::spawn(forget_expired_keys(Arc::clone(&state), stopping.clone()));

    let shutdown = shutdown_signal()?;
    let smpp = Arc::new(SmppServer::new(
        smpp_submitter,
        tern_ingress::smpp::SmppStores {
            accounts: Arc::clone(&store) as _,
            messages: Arc::clone(&store) as _,
            queue: Arc::clone(&store) as _,
            rates: Arc::clone(&store) as _,
        },
        Arc::clone(&clock),
        &config.smpp,
    ));
    // SMPP receipts go out of the outbox to this node's bound receivers.
    let receipts = Notifier::receipts(
        Arc::clone(&store) as _,
        smpp.binds() as _,
        Arc::clone(&wakeups),
        config.status_reports.clone(),
    );
    let receipts_task = delivery.spawn(receipts.run(stopping.clone()));
    let (stop_smpp, smpp_stopping) = watch::channel(false);
    let mut smpp_tasks = Vec::new();
    for (listener, tls) in smpp_listeners {
        let smpp_address = listener.local_addr()?;
        match tls {
            None => println!("Tern SMPP listening on {smpp_address}"),
            Some(_) => println!("Tern SMPP over TLS listening on {smpp_address}"),
        }
        let smpp = Arc::clone(&smpp);
        let stopping = smpp_stopping.clone();
        smpp_tasks.push(tokio::spawn(async move {
            smpp.serve(listener, tls, stopping).await
        }));
    }
    let request_timeout = Duration::from_secs(config.request_timeout_secs.max(1));
    let mut app = router(state);
    let mut metrics_server = None;
    if let Some(handle) = &metrics {
        tokio::spawn(crate::metrics::sample(
            Arc::clone(&store) as _,
            every_connector,
            handle.clone(),
            stopping.clone(),
        ));
        match metrics_listener {
            Some(listener) => {
                println!(
                    "Tern metrics listening on http://{}",
                    listener.local_addr()?
                );
                metrics_server = Some(tokio::spawn(serve_http(
                    listener,
                    crate::metrics::router(handle.clone()),
                    request_timeout,
                    std::future::pending(),
                )));
            }
            None => app = app.merge(crate::metrics::router(handle.clone())),
        }
    }
    println!("Tern listening on http://{address}");
    tracing::info!(%address, data_dir = %config.data_dir.display(), "tern serving");
    let store_failed = store_failure(Arc::clone(&store));
    serve_http(listener, app, request_timeout, async {
        tokio::select! {
            () = shutdown => {}
            () = store_failed => {}
        }
    })
    .await;

    tracing::info!("stopping: HTTP closed");
    if let Some(server) = metrics_server {
        server.abort();
    }
    // SMPP sessions are unbound (a brief wait for their unbind_resp) once their submissions in
    // flight are answered.
    let _ = stop_smpp.send(true);
    for task in smpp_tasks {
        let _ = task.await;
    }
    tracing::info!("stopping: HTTP and SMPP closed, finishing dispatch and reports");
    let _ = stop.send(true);
    let _ = key_sweeper.await;
    // The dispatcher finishes its batch, then drains the connectors (no new sends, those in
    // flight finished); what they report meanwhile is still recorded by the applier.
    let _ = dispatcher_task.await;
    tracing::info!("stopping: dispatch finished, connectors drained");
    let _ = stop_applier.send(true);
    let _ = applier_task.await;
    tracing::info!("stopping: every outcome recorded");
    let reports = tokio::time::timeout(REPORTS_DRAIN, async {
        let _ = tokio::join!(notifier_task, receipts_task, sweeper_task);
    })
    .await;
    match reports {
        Ok(()) => tracing::info!("stopping: report deliveries finished"),
        Err(_) => tracing::warn!(
            grace_secs = REPORTS_DRAIN.as_secs(),
            "stopping: report deliveries still running after the grace period were abandoned; \
             they are delivered again (at least once)"
        ),
    }
    // On a shared store, what this node still holds (a report delivery past the grace period) is
    // released for the other nodes now rather than when its lease runs out; then it leaves.
    if postgres && let Err(error) = store.release_leases(jiff::Timestamp::now()).await {
        tracing::warn!(%error, "could not release this node's leases; they run out by themselves");
    }
    let _ = stop_member.send(true);
    let _ = member_task.await;
    if postgres {
        tracing::info!("stopping: left the cluster");
    }
    // Whatever is left (a report delivery past the grace period) is abandoned, as before; the
    // runtime cannot be dropped inside this one.
    delivery.shutdown_background();
    if let Some(why) = store.fatal() {
        // Exit non-zero so that a supervisor restarts the process on a store that works.
        anyhow::bail!("stopped because the store can no longer write: {why}");
    }
    println!("Tern stopped");
    Ok(())
}

/// The SMPP listeners the configuration asks for: plain (`smpp_addr`) and TLS (`[smpp]
/// tls_addr`), each with its TLS acceptor. A TLS certificate or key that cannot be used stops the
/// start.
/// How often idempotency keys past their lifetime are looked for.
const KEY_SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Most keys one statement forgets.
const KEY_SWEEP_BATCH: usize = 1000;
/// Most statements of one sweep: the rest waits for the next (the work of a sweep is bounded).
const KEY_SWEEP_ROUNDS: usize = 10;

/// Forget idempotency keys past their lifetime (`tern_core::idempotency`), every
/// [`KEY_SWEEP_EVERY`], until `stopping`.
async fn forget_expired_keys(state: Arc<AppState>, mut stopping: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(KEY_SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stopping.changed() => return,
        }
        for _ in 0..KEY_SWEEP_ROUNDS {
            match state.submitter.forget_expired_keys(KEY_SWEEP_BATCH).await {
                Ok(count) if count == KEY_SWEEP_BATCH => {}
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "forgetting expired idempotency keys failed");
                    break;
                }
            }
        }
    }
}

async fn smpp_listeners(
    config: &config::Config,
) -> anyhow::Result<Vec<(tokio::net::TcpListener, Option<tokio_rustls::TlsAcceptor>)>> {
    let mut listeners = Vec::new();
    if let SmppAddr::At(addr) = config.smpp_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for SMPP on {addr}"))?;
        listeners.push((listener, None));
    }
    let acceptor =
        tern_ingress::smpp::tls_acceptor(&config.smpp).context("cannot set up SMPP over TLS")?;
    if let (Some(addr), Some(acceptor)) = (config.smpp.tls_addr, acceptor) {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for SMPP over TLS on {addr}"))?;
        listeners.push((listener, Some(acceptor)));
    }
    Ok(listeners)
}

/// Niceness of the delivery runtime's threads: a weight of about a tenth of the HTTP threads'
/// (Linux's nice 10 against 0) when both want a CPU.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const DELIVERY_NICENESS: i32 = 10;

/// The name of the delivery runtime's threads (as `top -H` and debuggers show them).
const DELIVERY_THREAD: &str = "tern-delivery";

/// The runtime that delivers: the dispatcher, the simulator, the event applier and the
/// status-report notifier. It is a runtime of its own, with threads of a lower scheduling priority
/// than the HTTP runtime's, so that during a burst of intake the machine's CPUs serve the
/// requests (whose answers wait on their commits) before the delivery of what was accepted:
/// delivery slows down then, but never stops (the scheduler still gives its threads a share,
/// and all of the CPU once intake pauses). Its writes are the store writer's background writes
/// (the store's queue and outbox roles make them so). Measured in docs/benchmarks.md ("intake
/// first").
fn delivery_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name(DELIVERY_THREAD)
        .on_thread_start(lower_priority)
        .enable_all()
        .build()
        .context("cannot start the delivery runtime")
}

/// Lower the calling thread's scheduling priority to [`DELIVERY_NICENESS`]. Linux applies
/// `setpriority` to one thread (its id), not to the process. Failing is harmless: the thread then
/// runs at the same priority as the others, as it did before.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, DELIVERY_NICENESS);
    }
}

/// The system's clock, for the submission service.
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// Completes when the store can never write again: the gateway then stops (and exits non-zero)
/// rather than go on answering requests it cannot store.
async fn store_failure(store: Arc<dyn Store>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        if let Some(why) = store.fatal() {
            tracing::error!(%why, "the store can no longer write; stopping");
            return;
        }
    }
}

/// The client that POSTs webhooks ([`HttpClient`]): redirects are not followed (a 3xx is a
/// failed attempt), and with `deny_private` every name is resolved by the `[webhooks]` rule,
/// which drops private addresses at connect time. Then proxies are not used either: through a
/// proxy the address checked would be the proxy's.
fn webhook_client(targets: &TargetPolicy) -> anyhow::Result<HttpClient> {
    HttpClient::for_webhooks(targets).context("cannot build the webhook HTTP client")
}

/// The client connectors post to providers' APIs with (Meta, Google): pooled, the system's
/// proxies honoured, redirects not followed (an API that redirects is misconfigured, and a
/// redirect would carry the bearer token elsewhere).
fn provider_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the providers' HTTP client")
}

/// Serve HTTP/1.1 on `listener` until `shutdown` completes; then stop accepting, let the requests
/// in flight finish and return once every connection has closed (or [`HTTP_DRAIN`] has passed).
///
/// This is `axum::serve` with graceful shutdown, but with hyper's `half_close` on: a client may
/// shut down its write side once its request is sent (legal in HTTP/1.1; some clients, proxies
/// and health checkers do), and must still get its answer. Without it hyper takes the end of
/// input for a gone client and drops the request.
///
/// `request_timeout` bounds what a client can hold: a request's head must arrive within it (an
/// idle keep-alive connection is closed after it, as it waits for a head), and the whole
/// request, body and answer included, is answered `408 Request Timeout` past it. Without these
/// a client that sends half a request and goes quiet holds a connection for ever.
async fn serve_http(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    request_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let app = app.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        request_timeout,
    ));
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .half_close(true)
        .keep_alive(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(request_timeout);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = http1.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::trace!(%error, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    // A connection that never finishes its request (a client that sent part of one and went
    // quiet) must not hold the stop open: past the grace period the rest are cut.
    if tokio::time::timeout(HTTP_DRAIN, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = HTTP_DRAIN.as_secs(),
            "stopping: HTTP connections still open after the grace period are dropped"
        );
    }
}

/// How long a stopping gateway waits for the report deliveries in flight.
const REPORTS_DRAIN: Duration = Duration::from_secs(15);

/// How long a stopping gateway waits for the HTTP requests in flight to be answered. Whatever a
/// request was answered `Accepted` for is durable already; a request cut short is answered by no
/// one, and its client sends it again (with an idempotency key, safely).
const HTTP_DRAIN: Duration = Duration::from_secs(10);

/// As `axum::serve` does: a connection that failed before it was accepted is nobody's concern;
/// anything else (such as running out of file descriptors) is logged and waited out for a second.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
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

/// SIGINT or SIGTERM, listened for from the moment this is called (not from the first poll): a
/// supervisor, or a test, that signals as soon as it reads the "listening" lines is heard rather
/// than killed by the default action.
pub(crate) fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("install SIGINT handler")?;
        let mut terminate = signal(SignalKind::terminate()).context("install SIGTERM handler")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
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
            inbound_numbers: Vec::new(),
            channels: Channel::ALL.to_vec(),
            smpp: None,
            webhook_secret: None,
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

/// Whether the test fault point `TERN_TEST_CRASH_AFTER_KEYED_COMMIT` is set (see
/// `AppState::crash_after_keyed_commit`); said loudly, since it makes the gateway abort.
fn crash_after_keyed_commit() -> bool {
    let set = std::env::var_os("TERN_TEST_CRASH_AFTER_KEYED_COMMIT").is_some();
    if set {
        tracing::warn!(
            "TERN_TEST_CRASH_AFTER_KEYED_COMMIT is set: the gateway aborts after its first idempotent submission's commit"
        );
    }
    set
}
