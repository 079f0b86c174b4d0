//! `Binds::deliver` against a real receiver over loopback TCP: the server on a real store (the
//! embedded SQLite one in a temporary directory), a client that binds as a receiver and answers
//! (or does not answer) each deliver_sm. What the receipt runner relies on: the peer's status
//! comes back, round-robin reaches every bind, never more than `window` are outstanding on one
//! bind, and an unanswered or closed session is an error.

use std::sync::Arc;
use std::time::Duration;

use tern_core::account::{AccountId, NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::ports::{NodeId, Store};
use tern_core::smpp_account::SmppSettings;
use tern_core::submission::SubmissionPolicy;
use tern_core::submitter::{Clock, Submitter, TimeOrderedIds, Wake};
use tern_ingress::smpp::{Binds, DeliverError, SmppConfig, SmppServer, SmppStores};
use tern_proto::smpp::{self, Bind, BindKind, Command, CommandStatus, DeliverSm, Frame, Pdu, Tlvs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// No dispatcher runs in these tests.
struct Nobody;

impl Wake for Nobody {
    fn accepted(&self) {}
}

struct Running {
    binds: Arc<Binds>,
    account: AccountId,
    address: std::net::SocketAddr,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn start(config: SmppConfig) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = tern_store::open(
        &tern_store::StoreConfig::Sqlite {
            data_dir: dir.path().to_owned(),
        },
        NodeId::new(NodeId::EMBEDDED),
    )
    .unwrap();
    let account = store
        .create_account(NewAccount {
            name: "receiver".into(),
            token_hash: ProductToken::generate().hash(),
            balance: None,
            status_url: None,
            status_format: ReportFormat::Json,
            inbound_url: None,
            inbound_numbers: Vec::new(),
            channels: vec![Channel::Sms],
            smpp: Some(SmppSettings::new("rx1", "pw").unwrap()),
            webhook_secret: None,
        })
        .await
        .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let submitter = Submitter::new(
        Arc::clone(&store) as _,
        Arc::clone(&store) as _,
        Arc::clone(&clock),
        Arc::new(Nobody),
        Arc::new(TimeOrderedIds),
        SubmissionPolicy::default(),
    );
    let server = Arc::new(SmppServer::new(
        Arc::new(submitter),
        SmppStores {
            accounts: Arc::clone(&store) as _,
            messages: Arc::clone(&store) as _,
            queue: Arc::clone(&store) as _,
            rates: Arc::clone(&store) as _,
        },
        clock,
        &config,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopping) = watch::channel(false);
    let binds = server.binds();
    tokio::spawn(async move { server.serve(listener, None, stopping).await });
    Running {
        binds,
        account: account.id,
        address,
        stop,
        _dir: dir,
    }
}

/// A raw client.
struct Client {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Client {
    async fn bind_receiver(running: &Running) -> Client {
        let stream = TcpStream::connect(running.address).await.unwrap();
        let mut client = Client {
            stream,
            buffer: Vec::new(),
        };
        let bind = Bind {
            system_id: "rx1".into(),
            password: "pw".into(),
            interface_version: 0x34,
            ..Bind::default()
        };
        client
            .send(Command {
                command_status: CommandStatus::ESME_ROK,
                sequence_number: 1,
                pdu: Pdu::Bind(BindKind::Receiver, bind),
            })
            .await;
        let resp = client
            .read(Duration::from_secs(10))
            .await
            .expect("bind_resp");
        assert_eq!(
            resp,
            Command {
                command_status: CommandStatus::ESME_ROK,
                sequence_number: 1,
                pdu: Pdu::BindResp(BindKind::Receiver, "Tern".into()),
            }
        );
        client
    }

    async fn send(&mut self, command: Command) {
        self.stream
            .write_all(&command.encode().unwrap())
            .await
            .unwrap();
    }

    /// The next PDU, or `None` when none comes within `limit`.
    async fn read(&mut self, limit: Duration) -> Option<Command> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Frame::Complete { len } = smpp::next_frame(&self.buffer, 65536).unwrap() {
                let command = smpp::decode(&self.buffer[..len]).unwrap();
                self.buffer.drain(..len);
                return Some(command);
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buffer)).await {
                Err(_) => return None,
                Ok(read) => assert!(read.unwrap() > 0, "the server closed the connection"),
            }
        }
    }

    /// Answers a deliver_sm with `status`.
    async fn answer(&mut self, deliver: &Command, status: CommandStatus) {
        self.send(Command {
            command_status: status,
            sequence_number: deliver.sequence_number,
            pdu: Pdu::DeliverSmResp(String::new()),
        })
        .await;
    }
}

fn receipt(text: &str) -> Pdu {
    Pdu::DeliverSm(Box::new(DeliverSm {
        source_addr: "31612345678".into(),
        destination_addr: "Tern".into(),
        esm_class: 0x04,
        short_message: text.as_bytes().to_vec(),
        tlvs: Tlvs {
            message_state: Some(2),
            ..Tlvs::default()
        },
        ..DeliverSm::default()
    }))
}

async fn until_receiving(binds: &Binds, account: AccountId, count: u32) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while binds.bind_count(account) < count {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the client bound");
}

#[tokio::test]
async fn deliver_sends_deliver_sm_and_resolves_with_the_peer_s_status() {
    let running = start(SmppConfig::default()).await;
    assert!(matches!(
        running.binds.deliver(running.account, receipt("x")).await,
        Err(DeliverError::NoBind)
    ));
    let bound = running.binds.bound().notified();
    let mut client = Client::bind_receiver(&running).await;
    tokio::time::timeout(Duration::from_secs(5), bound)
        .await
        .expect("bound() is notified");
    assert_eq!(running.binds.receiving_accounts(), vec![running.account]);

    let binds = Arc::clone(&running.binds);
    let account = running.account;
    let delivering = tokio::spawn(async move { binds.deliver(account, receipt("first")).await });
    let deliver = client
        .read(Duration::from_secs(10))
        .await
        .expect("deliver_sm");
    assert_eq!(deliver.pdu, receipt("first"));
    assert_eq!(deliver.command_status, CommandStatus::ESME_ROK);
    client.answer(&deliver, CommandStatus::ESME_ROK).await;
    assert_eq!(delivering.await.unwrap().unwrap(), CommandStatus::ESME_ROK);

    // The peer's refusal comes back as its status.
    let binds = Arc::clone(&running.binds);
    let delivering = tokio::spawn(async move { binds.deliver(account, receipt("second")).await });
    let deliver = client
        .read(Duration::from_secs(10))
        .await
        .expect("deliver_sm");
    client.answer(&deliver, CommandStatus::ESME_RSYSERR).await;
    assert_eq!(
        delivering.await.unwrap().unwrap(),
        CommandStatus::ESME_RSYSERR
    );

    // Closed before it answers: an error, and no bind is left.
    let binds = Arc::clone(&running.binds);
    let delivering = tokio::spawn(async move { binds.deliver(account, receipt("third")).await });
    client
        .read(Duration::from_secs(10))
        .await
        .expect("deliver_sm");
    drop(client);
    assert!(matches!(
        delivering.await.unwrap(),
        Err(DeliverError::Closed)
    ));
    tokio::time::timeout(Duration::from_secs(5), async {
        while !running.binds.receiving_accounts().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the bind is released");
}

#[tokio::test]
async fn never_more_than_window_outstanding_and_round_robin_over_binds() {
    let running = start(SmppConfig {
        window: 3,
        ..SmppConfig::default()
    })
    .await;
    let mut client = Client::bind_receiver(&running).await;
    until_receiving(&running.binds, running.account, 1).await;
    let mut delivering = Vec::new();
    for i in 0..7 {
        let binds = Arc::clone(&running.binds);
        let account = running.account;
        delivering.push(tokio::spawn(async move {
            binds.deliver(account, receipt(&format!("r{i}"))).await
        }));
    }
    let mut outstanding = Vec::new();
    for _ in 0..3 {
        outstanding.push(
            client
                .read(Duration::from_secs(10))
                .await
                .expect("deliver_sm"),
        );
    }
    assert_eq!(
        client.read(Duration::from_millis(500)).await,
        None,
        "a fourth while three wait for their response"
    );
    let mut answered = 0;
    while answered < 7 {
        let deliver = outstanding.remove(0);
        client.answer(&deliver, CommandStatus::ESME_ROK).await;
        answered += 1;
        if answered <= 4 {
            // Each answer makes room for exactly one more.
            outstanding.push(
                client
                    .read(Duration::from_secs(10))
                    .await
                    .expect("deliver_sm"),
            );
            assert_eq!(client.read(Duration::from_millis(200)).await, None);
        }
    }
    for delivery in delivering {
        assert_eq!(delivery.await.unwrap().unwrap(), CommandStatus::ESME_ROK);
    }

    // A second receiver: deliveries alternate between the two.
    let mut second = Client::bind_receiver(&running).await;
    until_receiving(&running.binds, running.account, 2).await;
    let mut delivering = Vec::new();
    for i in 0..4 {
        let binds = Arc::clone(&running.binds);
        let account = running.account;
        delivering.push(tokio::spawn(async move {
            binds.deliver(account, receipt(&format!("rr{i}"))).await
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for client in [&mut client, &mut second] {
        for _ in 0..2 {
            let deliver = client
                .read(Duration::from_secs(10))
                .await
                .expect("deliver_sm");
            client.answer(&deliver, CommandStatus::ESME_ROK).await;
        }
        assert_eq!(client.read(Duration::from_millis(200)).await, None);
    }
    for delivery in delivering {
        assert_eq!(delivery.await.unwrap().unwrap(), CommandStatus::ESME_ROK);
    }
}

#[tokio::test]
async fn an_unanswered_deliver_sm_times_out() {
    let running = start(SmppConfig {
        response_timeout_secs: 1,
        ..SmppConfig::default()
    })
    .await;
    let mut client = Client::bind_receiver(&running).await;
    until_receiving(&running.binds, running.account, 1).await;
    let started = std::time::Instant::now();
    let binds = Arc::clone(&running.binds);
    let account = running.account;
    let delivering = tokio::spawn(async move { binds.deliver(account, receipt("late")).await });
    client
        .read(Duration::from_secs(10))
        .await
        .expect("deliver_sm");
    assert!(matches!(
        delivering.await.unwrap(),
        Err(DeliverError::Timeout(limit)) if limit == Duration::from_secs(1)
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_session_being_unbound_gets_no_new_deliveries() {
    let running = start(SmppConfig::default()).await;
    let mut client = Client::bind_receiver(&running).await;
    until_receiving(&running.binds, running.account, 1).await;
    running.stop.send(true).unwrap();
    let unbind = client.read(Duration::from_secs(10)).await.expect("unbind");
    assert_eq!(unbind.pdu, Pdu::Unbind);
    assert!(matches!(
        running
            .binds
            .deliver(running.account, receipt("too late"))
            .await,
        Err(DeliverError::NoBind)
    ));
    client
        .send(Command {
            command_status: CommandStatus::ESME_ROK,
            sequence_number: unbind.sequence_number,
            pdu: Pdu::UnbindResp,
        })
        .await;
}
