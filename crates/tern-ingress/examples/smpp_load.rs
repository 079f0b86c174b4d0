//! A pipelined SMPP load client, for measuring the SMPP server by hand (the bench's SMPP phase is
//! to be built on it): `cargo run --release -p tern-ingress --example smpp_load -- ADDR
//! SYSTEM_ID PASSWORD [BINDS=4] [WINDOW=100] [MESSAGES=200000]`. Each bind keeps WINDOW submit_sm
//! outstanding; prints submit_sm/s and the p50/p99 submit_sm_resp latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tern_proto::smpp::{self, Bind, BindKind, Command, CommandStatus, Frame, Pdu, SubmitSm};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

fn submit(sequence_number: u32) -> Vec<u8> {
    Command {
        command_status: CommandStatus::ESME_ROK,
        sequence_number,
        pdu: Pdu::SubmitSm(Box::new(SubmitSm {
            source_addr_ton: 5,
            source_addr: "Tern".into(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: "31612345678".into(),
            registered_delivery: 1,
            short_message: b"Load test message".to_vec(),
            ..SubmitSm::default()
        })),
    }
    .encode()
    .expect("encode")
}

async fn one_bind(
    address: String,
    system_id: String,
    password: String,
    window: usize,
    messages: u32,
) -> Vec<Duration> {
    let mut stream = TcpStream::connect(&address).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    let bind = Command {
        command_status: CommandStatus::ESME_ROK,
        sequence_number: 1,
        pdu: Pdu::Bind(
            BindKind::Transceiver,
            Bind {
                system_id,
                password,
                interface_version: 0x34,
                ..Bind::default()
            },
        ),
    };
    stream.write_all(&bind.encode().unwrap()).await.unwrap();
    let mut buffer = Vec::with_capacity(1 << 16);
    let (mut reader, mut writer) = stream.into_split();
    loop {
        reader.read_buf(&mut buffer).await.unwrap();
        if let Ok(Frame::Complete { len }) = smpp::next_frame(&buffer, 1 << 16) {
            let resp = smpp::decode(&buffer[..len]).unwrap();
            assert_eq!(resp.command_status, CommandStatus::ESME_ROK, "bind refused");
            buffer.drain(..len);
            break;
        }
    }
    let room = Arc::new(Semaphore::new(window));
    let sent_at = Arc::new(std::sync::Mutex::new(vec![
        None::<Instant>;
        messages as usize + 2
    ]));
    let sending = {
        let room = Arc::clone(&room);
        let sent_at = Arc::clone(&sent_at);
        tokio::spawn(async move {
            let mut sequence = 2u32;
            let last = messages + 2;
            while sequence < last {
                let permits = room.acquire_many(1).await.unwrap();
                permits.forget();
                let mut more = 1;
                while let Ok(permit) = room.try_acquire() {
                    permit.forget();
                    more += 1;
                }
                let mut batch = Vec::new();
                let now = Instant::now();
                for _ in 0..more {
                    if sequence >= last {
                        break;
                    }
                    batch.extend(submit(sequence));
                    sent_at.lock().unwrap()[sequence as usize] = Some(now);
                    sequence += 1;
                }
                writer.write_all(&batch).await.unwrap();
            }
            writer
        })
    };
    let mut latencies = Vec::with_capacity(messages as usize);
    while latencies.len() < messages as usize {
        while let Ok(Frame::Complete { len }) = smpp::next_frame(&buffer, 1 << 16) {
            let resp = smpp::decode(&buffer[..len]).unwrap();
            buffer.drain(..len);
            if let Pdu::SubmitSmResp(_) = resp.pdu {
                assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
                let at = sent_at.lock().unwrap()[resp.sequence_number as usize]
                    .expect("a response to a request sent");
                latencies.push(at.elapsed());
                room.add_permits(1);
            }
        }
        if latencies.len() < messages as usize {
            let read = reader.read_buf(&mut buffer).await.unwrap();
            assert!(read > 0, "closed");
        }
    }
    let _ = sending.await;
    latencies
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let address = args[1].clone();
    let binds: u32 = args.get(4).map_or(4, |a| a.parse().unwrap());
    let window: usize = args.get(5).map_or(100, |a| a.parse().unwrap());
    let messages: u32 = args.get(6).map_or(200_000, |a| a.parse().unwrap());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..binds {
        tasks.push(tokio::spawn(one_bind(
            address.clone(),
            args[2].clone(),
            args[3].clone(),
            window,
            messages / binds,
        )));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    println!(
        "{} submit_sm in {:.2} s: {:.0} submit_sm/s, p50 {:?}, p99 {:?}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.5),
        at(0.99)
    );
}
