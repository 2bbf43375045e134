//! Block-wise transfer (RFC 7959) on the sans-I/O client: a server's long write in Block1
//! blocks is applied once, whole; a long answer goes out in Block2 blocks with an ETag.

mod common;

use coap_lite::{CoapOption, Packet};
use common::*;
use lwm2mc::coap::msg;
use lwm2mc::{Path, Value};

fn registered(seed: u64) -> Net {
    let mut client = lwm2mc::Client::new(config(seed), factory_bs_only(0));
    client.start(0);
    let mut net = Net::new(client);
    net.servers.insert(
        BS_PORT,
        Server::Bs(FakeBs::new(seed, standard_plan(1, 300))),
    );
    net.servers
        .insert(DM_PORT, Server::Dm(FakeDm::new(seed + 1)));
    assert!(net.run_until(10_000, common::registered));
    net
}

/// The whole last answer the fake server got (code, payload, options it carried).
fn answer(net: &mut Net, p: Packet) -> (u8, Vec<u8>) {
    let (code, _, payload) = ask(net, p);
    (code, payload)
}

fn with_block(mut p: Packet, which: CoapOption, value: Vec<u8>) -> Packet {
    p.add_option(which, value);
    p
}

/// The Block2 and ETag of the last datagram the client sent.
fn last_block2(net: &Net) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let w = net.wire.iter().rev().find(|w| !w.to_client).expect("sent");
    let p = Packet::from_bytes(&w.bytes).expect("CoAP");
    (
        p.get_first_option(CoapOption::Block2).cloned(),
        p.get_first_option(CoapOption::ETag).cloned(),
    )
}

#[test]
fn a_write_in_three_blocks_is_answered_2_31_twice_then_applied_whole() {
    let mut net = registered(71);
    let body: Vec<u8> = (0..2100).map(|i| b'a' + (i % 26) as u8).collect();
    let blocks = [
        (0x0E, &body[..1024]),
        (0x1E, &body[1024..2048]),
        (0x26, &body[2048..]),
    ];
    let mut codes = Vec::new();
    for (opt, part) in blocks {
        let p = with_block(
            put("/3/0/15", 0, part.to_vec()),
            CoapOption::Block1,
            vec![opt],
        );
        codes.push(answer(&mut net, p).0);
        // RFC 7959 §2.3: every answer echoes the block it answers.
        let w = net.wire.iter().rev().find(|w| !w.to_client).unwrap();
        let sent = Packet::from_bytes(&w.bytes).unwrap();
        assert_eq!(sent.get_first_option(CoapOption::Block1), Some(&vec![opt]));
    }
    assert_eq!(codes, [msg::CONTINUE, msg::CONTINUE, msg::CHANGED]);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        net.client.store().value(&Path::resource(3, 0, 15)),
        Some(&Value::String(text))
    );
}

#[test]
fn a_missing_block_is_4_08_and_an_oversize_body_4_13_and_nothing_is_written() {
    let mut net = registered(73);
    let before = net.client.store().value(&Path::resource(3, 0, 15)).cloned();
    let first = with_block(
        put("/3/0/15", 0, vec![b'x'; 1024]),
        CoapOption::Block1,
        vec![0x0E],
    );
    assert_eq!(answer(&mut net, first).0, msg::CONTINUE);
    let third = with_block(
        put("/3/0/15", 0, vec![b'z'; 10]),
        CoapOption::Block1,
        vec![0x26],
    );
    assert_eq!(answer(&mut net, third).0, msg::REQUEST_ENTITY_INCOMPLETE);
    // Size1 says 100 KiB: over Limits::max_request_payload (4096), refused at the first block.
    let mut big = with_block(
        put("/3/0/15", 0, vec![b'x'; 1024]),
        CoapOption::Block1,
        vec![0x0E],
    );
    big.add_option(CoapOption::Size1, msg::encode_uint(100 * 1024));
    assert_eq!(answer(&mut net, big).0, msg::REQUEST_ENTITY_TOO_LARGE);
    // Five full blocks: the fifth takes the body past 4096.
    let mut last = 0;
    for num in 0..5u32 {
        let opt = msg::encode_uint((num << 4) | 0x08 | 6);
        let p = with_block(put("/3/0/15", 0, vec![b'y'; 1024]), CoapOption::Block1, opt);
        last = answer(&mut net, p).0;
    }
    assert_eq!(last, msg::REQUEST_ENTITY_TOO_LARGE);
    assert_eq!(
        net.client.store().value(&Path::resource(3, 0, 15)),
        before.as_ref()
    );
}

#[test]
fn a_long_read_comes_in_block2_blocks_with_a_stable_etag_and_any_smaller_size() {
    let mut net = registered(75);
    let text: String = (0..2500)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect();
    net.client
        .set(&Path::resource(3, 0, 15), Value::String(text.clone()))
        .unwrap();
    // No Block2 asked: the first 1024 bytes, Block2 NUM 0, M, SZX 6.
    let (code, first) = answer(&mut net, get("/3/0/15", None));
    assert_eq!(
        (code, first.as_slice()),
        (msg::CONTENT, &text.as_bytes()[..1024])
    );
    let (b2, tag) = last_block2(&net);
    assert_eq!(b2, Some(vec![0x0E]));
    let tag = tag.expect("an ETag");
    // Block 1 and 2 at 1024 bytes: the rest, the same ETag, M off on the last.
    let (_, second) = answer(
        &mut net,
        with_block(get("/3/0/15", None), CoapOption::Block2, vec![0x16]),
    );
    assert_eq!(second, &text.as_bytes()[1024..2048]);
    assert_eq!(last_block2(&net), (Some(vec![0x1E]), Some(tag.clone())));
    let (_, third) = answer(
        &mut net,
        with_block(get("/3/0/15", None), CoapOption::Block2, vec![0x26]),
    );
    assert_eq!(third, &text.as_bytes()[2048..]);
    assert_eq!(last_block2(&net), (Some(vec![0x26]), Some(tag.clone())));
    // The server switches to 256-byte blocks at offset 2048 (NUM 8, SZX 4).
    let (_, small) = answer(
        &mut net,
        with_block(get("/3/0/15", None), CoapOption::Block2, vec![0x84]),
    );
    assert_eq!(small, &text.as_bytes()[2048..2304]);
    assert_eq!(last_block2(&net).0, Some(vec![0x8C]));
    // The value changes between blocks: a different ETag tells the server.
    net.client
        .set(
            &Path::resource(3, 0, 15),
            Value::String(text.to_lowercase()),
        )
        .unwrap();
    let _ = answer(
        &mut net,
        with_block(get("/3/0/15", None), CoapOption::Block2, vec![0x16]),
    );
    assert_ne!(last_block2(&net).1, Some(tag));
    // Past the end: 4.02.
    let (code, _) = answer(
        &mut net,
        with_block(get("/3/0/15", None), CoapOption::Block2, vec![0x36]),
    );
    assert_eq!(code, msg::BAD_OPTION);
}

#[test]
fn an_answer_over_the_response_limit_is_still_5_00() {
    let mut cfg = config(77);
    cfg.limits.max_response_payload = 1500;
    let mut client = lwm2mc::Client::new(cfg, factory_bs_only(0));
    client.start(0);
    let mut net = Net::new(client);
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(77, standard_plan(1, 300))));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(78)));
    assert!(net.run_until(10_000, common::registered));
    net.client
        .set(&Path::resource(3, 0, 15), Value::String("Q".repeat(2000)))
        .unwrap();
    let (code, diag) = answer(&mut net, get("/3/0/15", None));
    assert_eq!(code, msg::INTERNAL_SERVER_ERROR);
    assert!(String::from_utf8(diag)
        .unwrap()
        .ends_with("exceeds the 1500-byte limit"));
}

/// A registered client with `block_size`, its server answering 2.31 with `server_szx` if set.
fn registered_with(seed: u64, block_size: Option<usize>, server_szx: Option<u8>) -> Net {
    let mut config = config(seed);
    config.block_size = block_size;
    let mut client = lwm2mc::Client::new(config, factory_bs_only(0));
    client.start(0);
    let mut net = Net::new(client);
    net.servers.insert(
        BS_PORT,
        Server::Bs(FakeBs::new(seed, standard_plan(1, 300))),
    );
    let mut dm = FakeDm::new(seed + 1);
    dm.block1_szx = server_szx;
    net.servers.insert(DM_PORT, Server::Dm(dm));
    assert!(net.run_until(20_000, common::registered));
    net
}

#[test]
fn a_register_longer_than_the_block_size_goes_out_in_block1_blocks() {
    let mut net = registered_with(81, Some(32), None);
    let links = net.dm(DM_PORT).register_payloads[0].clone();
    let whole = {
        // The same device with bodies sent whole: the object list the server must see.
        let mut n = registered_with(81, None, None);
        assert!(
            n.dm(DM_PORT).block1_seen.is_empty(),
            "nothing cut without a block size"
        );
        n.dm(DM_PORT).register_payloads[0].clone()
    };
    assert_eq!(links, whole);
    assert!(links.len() > 64, "long enough for three blocks: {links}");
    let seen = net.dm(DM_PORT).block1_seen.clone();
    let n = links.len().div_ceil(32);
    assert_eq!(seen.len(), n);
    for (i, (num, more, szx, len, size1)) in seen.iter().enumerate() {
        assert_eq!(*num as usize, i);
        assert_eq!(*szx, 1, "32-byte blocks");
        assert_eq!(*more, i + 1 < n);
        let expected_len = if i + 1 < n {
            32
        } else {
            links.len() - 32 * (n - 1)
        };
        assert_eq!(*len, expected_len);
        // RFC 7959 §4: Size1 announces the whole body, on the first block.
        assert_eq!(*size1, (i == 0).then_some(links.len() as u32));
    }
    assert!(net.has_event(|e| matches!(e, lwm2mc::Event::Registered { ssid: 1, .. })));
}

#[test]
fn a_long_send_goes_out_in_blocks_at_the_size_the_server_asks_for() {
    let mut net = registered_with(83, Some(1024), Some(4));
    let text: String = (0..3000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    net.client
        .set(&Path::resource(3, 0, 15), Value::String(text.clone()))
        .unwrap();
    let now = net.now;
    net.client
        .send(now, 1, &[Path::resource(3, 0, 15)])
        .unwrap();
    assert!(net.run_until(10_000, |n| n
        .has_event(|e| matches!(e, lwm2mc::Event::SendCompleted { ssid: 1 }))));
    let (cf, payload) = net.dm(DM_PORT).sends[0].clone();
    assert_eq!(cf, Some(110));
    let expected = format!(r#"[{{"n":"/3/0/15","vs":"{text}"}}]"#);
    assert_eq!(String::from_utf8(payload).unwrap(), expected);
    // The first block is 1024 bytes; the server asked for 256 from then on (RFC 7959 §2.3),
    // so the next block is NUM 4 (offset 1024) of 256 bytes.
    let seen = net.dm(DM_PORT).block1_seen.clone();
    assert_eq!(seen[0], (0, true, 6, 1024, Some(expected.len() as u32)));
    assert_eq!(seen[1], (4, true, 4, 256, None));
    let rest = expected.len() - 1024;
    assert_eq!(seen.len(), 1 + rest.div_ceil(256));
    let last = seen.last().unwrap();
    assert_eq!(
        (last.1, last.3),
        (false, rest - 256 * (rest.div_ceil(256) - 1))
    );
}

#[test]
fn a_send_in_blocks_over_a_lossy_link_arrives_whole() {
    let net = registered_with(85, Some(256), None);
    let mut net = net.with_loss(86, 15, 10);
    let text: String = (0..2000).map(|i| (b'A' + (i % 26) as u8) as char).collect();
    net.client
        .set(&Path::resource(3, 0, 15), Value::String(text.clone()))
        .unwrap();
    let now = net.now;
    net.client
        .send(now, 1, &[Path::resource(3, 0, 15)])
        .unwrap();
    assert!(net.run_until(600_000, |n| n
        .has_event(|e| matches!(e, lwm2mc::Event::SendCompleted { ssid: 1 }))));
    let expected = format!(r#"[{{"n":"/3/0/15","vs":"{text}"}}]"#);
    let sends = net.dm(DM_PORT).sends.clone();
    assert_eq!(sends.len(), 1, "handed to the server once");
    assert_eq!(String::from_utf8(sends[0].1.clone()).unwrap(), expected);
}
