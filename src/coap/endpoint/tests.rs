//! Endpoint behaviour, time driven by hand. Peers are small integers; one test uses SocketAddr.

use super::*;
use crate::coap::msg::{self, CHANGED, CONTENT, CREATED, GET, POST};

const A: u32 = 1;
const B: u32 = 2;
const LIFETIME: u64 = 247_000;

fn ep() -> Endpoint<u32> {
    Endpoint::new(42, TransmissionParams::default())
}

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|c| u8::from_str_radix(core::str::from_utf8(c).unwrap(), 16).unwrap())
        .collect()
}

fn drain(e: &mut Endpoint<u32>) -> Vec<(u32, Vec<u8>)> {
    core::iter::from_fn(|| e.poll_transmit()).collect()
}

/// The only datagram sent, which must go to `peer`.
fn one_sent(e: &mut Endpoint<u32>, peer: u32) -> Vec<u8> {
    let mut out = drain(e);
    assert_eq!(out.len(), 1, "expected one datagram, got {out:02x?}");
    let (to, bytes) = out.remove(0);
    assert_eq!(to, peer);
    bytes
}

fn mid_of(bytes: &[u8]) -> [u8; 2] {
    [bytes[2], bytes[3]]
}

fn token_of(bytes: &[u8]) -> Vec<u8> {
    let tkl = usize::from(bytes[0] & 0x0F);
    bytes[4..4 + tkl].to_vec()
}

/// Header + token + rest.
fn msg_bytes(first: u8, code: u8, mid: [u8; 2], token: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut v = vec![first | token.len() as u8, code, mid[0], mid[1]];
    v.extend_from_slice(token);
    v.extend_from_slice(rest);
    v
}

fn register_request() -> Packet {
    let mut p = msg::new_request(POST, &["rd"], &["ep=name", "lt=120"]);
    msg::set_content_format(&mut p, 40);
    p.payload = b"</1/1>".to_vec();
    p
}

#[test]
fn ping_gets_exact_rst_and_leaves_no_state() {
    let mut e = ep();
    assert_eq!(e.handle_datagram(0, A, &hex("40 00 12 34")), None);
    assert_eq!(one_sent(&mut e, A), hex("70 00 12 34"));
    // VECTORS §3.2 K1.
    assert_eq!(e.handle_datagram(0, A, &hex("40 00 00 00")), None);
    assert_eq!(one_sent(&mut e, A), hex("70 00 00 00"));
    assert_eq!(e.poll_timeout(), None);
    assert_eq!(e.outstanding(A), 0);
}

#[test]
fn request_bytes_and_piggybacked_response_l1() {
    let mut e = ep();
    let id = e.request(1_000, A, register_request(), true);
    assert_eq!(e.outstanding(A), 1);
    let sent = one_sent(&mut e, A);
    // CON POST, TKL 8, then Uri-Path "rd", Content-Format 40, two Uri-Query, payload.
    assert_eq!(sent[0], 0x48);
    assert_eq!(sent[1], 0x02);
    let token = token_of(&sent);
    assert_eq!(token.len(), 8);
    let mut rest = hex("b2 7264 11 28 37 65703d6e616d65 06 6c743d313230 ff");
    rest.extend_from_slice(b"</1/1>");
    assert_eq!(&sent[12..], &rest[..]);

    // VECTORS §3.2 L1 with our MID and token in place of 3721 / 1234567811111111.
    let l1 = msg_bytes(
        0x60,
        0x41,
        mid_of(&sent),
        &token,
        &hex("82 7264 04 35613366"),
    );
    let got = e.handle_datagram(1_500, A, &l1).unwrap();
    let Incoming::Response {
        peer,
        id: rid,
        response,
    } = got
    else {
        panic!("not a response: {got:?}")
    };
    assert_eq!((peer, rid), (A, id));
    assert_eq!(msg::code_of(&response), CREATED);
    assert_eq!(msg::location_path(&response).unwrap(), ["rd", "5a3f"]);
    assert!(drain(&mut e).is_empty()); // nothing to acknowledge for an ACK
    assert_eq!(e.outstanding(A), 0);
    // The MID stays reserved but no timer is needed.
    assert_eq!(e.poll_timeout(), None);
    // A duplicated copy of the ACK matches nothing any more.
    assert_eq!(e.handle_datagram(1_600, A, &l1), None);
}

#[test]
fn empty_ack_then_separate_con_response() {
    let mut e = ep();
    let id = e.request(0, A, register_request(), true);
    let sent = one_sent(&mut e, A);
    let (mid, token) = (mid_of(&sent), token_of(&sent));

    let mut ack = hex("60 00");
    ack.extend_from_slice(&mid);
    assert_eq!(e.handle_datagram(100, A, &ack), None);
    assert!(drain(&mut e).is_empty());
    assert_eq!(e.outstanding(A), 1);
    assert_eq!(e.poll_timeout(), Some(100 + LIFETIME)); // no more retransmissions
    assert!(e.handle_timeout(10_000).is_empty());
    assert!(drain(&mut e).is_empty());

    // Separate CON 2.01 from the server with its own MID 0xABCD.
    let resp = msg_bytes(
        0x40,
        0x41,
        [0xAB, 0xCD],
        &token,
        &hex("82 7264 04 35613366"),
    );
    let got = e.handle_datagram(20_000, A, &resp).unwrap();
    assert!(matches!(got, Incoming::Response { id: rid, .. } if rid == id));
    assert_eq!(one_sent(&mut e, A), hex("60 00 AB CD"));
    assert_eq!(e.outstanding(A), 0);

    // Our ACK was lost: the retransmitted response is ACKed again, not surfaced again.
    assert_eq!(e.handle_datagram(22_000, A, &resp), None);
    assert_eq!(one_sent(&mut e, A), hex("60 00 AB CD"));
}

#[test]
fn separate_response_deadline_is_exchange_lifetime_after_empty_ack() {
    let mut e = ep();
    let id = e.request(0, A, register_request(), true);
    let mid = mid_of(&one_sent(&mut e, A));
    let mut ack = hex("60 00");
    ack.extend_from_slice(&mid);
    e.handle_datagram(1_000, A, &ack);
    assert!(e.handle_timeout(1_000 + LIFETIME - 1).is_empty());
    assert_eq!(
        e.handle_timeout(1_000 + LIFETIME),
        vec![Incoming::Failed {
            peer: A,
            id,
            reason: Failure::Timeout
        }]
    );
    assert_eq!(e.outstanding(A), 0);
    assert_eq!(e.poll_timeout(), None);
}

#[test]
fn separate_response_before_empty_ack_implies_the_ack() {
    let mut e = ep();
    e.request(0, A, register_request(), true);
    e.request(0, A, register_request(), true); // queued behind the first
    let token = token_of(&one_sent(&mut e, A));
    let resp = msg_bytes(0x50, 0x44, [0, 9], &token, &[]); // NON 2.04
    assert!(matches!(
        e.handle_datagram(500, A, &resp),
        Some(Incoming::Response { .. })
    ));
    // NON response: nothing to ACK; the queued request starts.
    let next = one_sent(&mut e, A);
    assert_eq!(next[0], 0x48);
    assert_eq!(e.outstanding(A), 1);
}

#[test]
fn retransmission_schedule_doubles_and_fails_after_five_transmissions() {
    let mut initials = Vec::new();
    for seed in 0..40 {
        let mut e: Endpoint<u32> = Endpoint::new(seed, TransmissionParams::default());
        let t0 = 5_000;
        let id = e.request(t0, A, register_request(), true);
        let first = one_sent(&mut e, A);
        let t = e.poll_timeout().unwrap() - t0;
        assert!((2_000..=3_000).contains(&t), "initial timeout {t}");
        initials.push(t);

        let mut at = t0;
        let mut interval = t;
        for n in 2..=5 {
            at += interval;
            assert_eq!(e.poll_timeout(), Some(at));
            assert!(e.handle_timeout(at - 1).is_empty());
            assert!(drain(&mut e).is_empty(), "early retransmission");
            assert!(e.handle_timeout(at).is_empty());
            assert_eq!(one_sent(&mut e, A), first, "transmission {n} differs");
            interval *= 2;
        }
        // The fifth transmission was at t0 + 15T; give up at t0 + 31T.
        at += interval;
        assert_eq!(at, t0 + 31 * t);
        assert_eq!(e.poll_timeout(), Some(at));
        assert!(e.handle_timeout(at - 1).is_empty());
        assert_eq!(
            e.handle_timeout(at),
            vec![Incoming::Failed {
                peer: A,
                id,
                reason: Failure::Timeout
            }]
        );
        assert!(drain(&mut e).is_empty(), "a sixth transmission");
        assert_eq!(e.poll_timeout(), None);
        assert!(at - t0 <= TransmissionParams::default().max_transmit_wait_ms());
    }
    initials.sort_unstable();
    initials.dedup();
    assert!(
        initials.len() > 10,
        "initial timeouts are not random: {initials:?}"
    );
}

#[test]
fn rst_fails_the_request_and_wrong_mid_is_ignored() {
    let mut e = ep();
    let id = e.request(0, A, register_request(), true);
    let mid = mid_of(&one_sent(&mut e, A));
    let other = u16::from_be_bytes(mid).wrapping_add(1).to_be_bytes();
    // K2 shape `70 00 <mid>`.
    let mut rst_other = hex("70 00");
    rst_other.extend_from_slice(&other);
    assert_eq!(e.handle_datagram(10, A, &rst_other), None);
    let mut rst = hex("70 00");
    rst.extend_from_slice(&mid);
    assert_eq!(e.handle_datagram(10, B, &rst), None); // wrong peer
    assert_eq!(
        e.handle_datagram(10, A, &rst),
        Some(Incoming::Failed {
            peer: A,
            id,
            reason: Failure::Reset
        })
    );
    assert!(drain(&mut e).is_empty());
    assert_eq!(e.poll_timeout(), None);
    assert_eq!(e.outstanding(A), 0);
}

#[test]
fn nstart_one_queues_per_peer_and_next_starts_in_same_call() {
    let mut e = ep();
    let a1 = e.request(0, A, msg::new_request(GET, &["a1"], &[]), true);
    let a2 = e.request(0, A, msg::new_request(GET, &["a2"], &[]), true);
    let a3 = e.request(0, A, msg::new_request(GET, &["a3"], &[]), true);
    e.request(0, B, msg::new_request(GET, &["b1"], &[]), true);
    let out = drain(&mut e);
    assert_eq!(out.len(), 2, "only one CON per peer may be outstanding");
    assert_eq!(out[0].0, A);
    assert_eq!(out[1].0, B);
    assert_eq!(e.outstanding(A), 3);
    let first = &out[0].1;
    assert_eq!(
        msg::uri_path(&Packet::from_bytes(first).unwrap()).unwrap(),
        ["a1"]
    );

    // a1 answered: a2 goes out from the same handle_datagram call.
    let ack = msg_bytes(0x60, CONTENT, mid_of(first), &token_of(first), &[]);
    assert!(matches!(
        e.handle_datagram(100, A, &ack),
        Some(Incoming::Response { id, .. }) if id == a1
    ));
    let second = one_sent(&mut e, A);
    assert_eq!(
        msg::uri_path(&Packet::from_bytes(&second).unwrap()).unwrap(),
        ["a2"]
    );
    // MIDs to one peer increase by one.
    assert_eq!(
        u16::from_be_bytes(mid_of(&second)),
        u16::from_be_bytes(mid_of(first)).wrapping_add(1)
    );
    assert_eq!(e.outstanding(A), 2);

    // a2 times out: a3 is sent by the same handle_timeout call.
    let failed_at = loop {
        let now = e.poll_timeout().unwrap();
        let failed = e.handle_timeout(now);
        let out = drain(&mut e);
        if failed
            .iter()
            .any(|f| matches!(f, Incoming::Failed { id, .. } if *id == a2))
        {
            let sent_to_a: Vec<_> = out.iter().filter(|(p, _)| *p == A).collect();
            assert_eq!(sent_to_a.len(), 1);
            let p = Packet::from_bytes(&sent_to_a[0].1).unwrap();
            assert_eq!(msg::uri_path(&p).unwrap(), ["a3"]);
            break now;
        }
        assert!(
            out.iter().all(|(p, b)| *p == B || *b == second),
            "only a2 is retransmitted"
        );
    };
    assert!(failed_at <= 100 + 93_000);
    assert_eq!(e.outstanding(A), 1);

    // Cancelling a3 leaves nothing for A.
    e.cancel(a3);
    assert_eq!(e.outstanding(A), 0);
}

#[test]
fn cancel_of_the_active_request_starts_the_next_one() {
    let mut e = ep();
    let a1 = e.request(0, A, msg::new_request(GET, &["a1"], &[]), true);
    e.request(0, A, msg::new_request(GET, &["a2"], &[]), true);
    let first = one_sent(&mut e, A);
    e.cancel(a1);
    let second = one_sent(&mut e, A);
    assert_eq!(
        msg::uri_path(&Packet::from_bytes(&second).unwrap()).unwrap(),
        ["a2"]
    );
    // A late piggybacked response to a1 is not surfaced.
    let ack = msg_bytes(0x60, CONTENT, mid_of(&first), &token_of(&first), &[]);
    assert_eq!(e.handle_datagram(10, A, &ack), None);
    // A late separate CON response to a1 is rejected with RST.
    let late = msg_bytes(0x40, CONTENT, [0x10, 0x01], &token_of(&first), &[]);
    assert_eq!(e.handle_datagram(10, A, &late), None);
    assert_eq!(one_sent(&mut e, A), hex("70 00 10 01"));
    assert_eq!(e.outstanding(A), 1);
}

#[test]
fn duplicate_con_request_is_answered_from_cache_p1() {
    let mut e = ep();
    // CON PUT /1, MID 0x2222, token 112233.
    let req = hex("43 03 22 22 11 22 33 b1 31");
    let Some(Incoming::Request { peer, request }) = e.handle_datagram(0, A, &req) else {
        panic!("request not surfaced")
    };
    assert_eq!(peer, A);
    // A duplicate before we answered: nothing surfaces, nothing is sent.
    assert_eq!(e.handle_datagram(10, A, &req), None);
    assert!(drain(&mut e).is_empty());

    e.respond(20, A, &request, msg::new_response(CHANGED));
    // VECTORS §3.2 P1.
    let p1 = hex("63 44 2222 112233");
    assert_eq!(one_sent(&mut e, A), p1);

    // Later duplicates get the same bytes and never surface.
    for t in [2_000, 100_000, LIFETIME - 1] {
        assert_eq!(e.handle_datagram(t, A, &req), None);
        assert_eq!(one_sent(&mut e, A), p1);
    }
    // The same MID from another peer is a different message.
    assert!(matches!(
        e.handle_datagram(30, B, &req),
        Some(Incoming::Request { peer: B, .. })
    ));

    // The cache entry expires EXCHANGE_LIFETIME after the request arrived.
    assert_eq!(e.poll_timeout(), Some(LIFETIME));
    assert!(e.handle_timeout(LIFETIME).is_empty());
    assert!(matches!(
        e.handle_datagram(LIFETIME, A, &req),
        Some(Incoming::Request { .. })
    ));
}

#[test]
fn a_late_copy_of_an_older_request_is_not_processed_and_the_latest_still_replayed() {
    use crate::coap::dedup::SeenCache;
    let mut e = ep();
    // CON PUT /1 with MIDs 0x5000.., token = the MID's low byte; each answered 2.04.
    let put = |n: u8| hex(&format!("41 03 50 {n:02x} {n:02x} b1 31"));
    let answered = SeenCache::REPLIES as u8 + 2;
    for n in 0..answered {
        let Some(Incoming::Request { request, .. }) = e.handle_datagram(1_000, A, &put(n)) else {
            panic!("request {n} not surfaced")
        };
        e.respond(1_000, A, &request, msg::new_response(CHANGED));
        assert_eq!(
            one_sent(&mut e, A),
            hex(&format!("61 44 50 {n:02x} {n:02x}"))
        );
    }
    // The first request's answer is no longer kept: a copy now is neither processed again
    // nor answered (the server, which has sent newer requests since, had the answer).
    assert_eq!(e.handle_datagram(2_000, A, &put(0)), None);
    assert!(drain(&mut e).is_empty());
    // The latest one's copy gets the same bytes as before.
    let last = answered - 1;
    assert_eq!(e.handle_datagram(2_000, A, &put(last)), None);
    assert_eq!(
        one_sent(&mut e, A),
        hex(&format!("61 44 50 {last:02x} {last:02x}"))
    );
}

#[test]
fn non_request_duplicates_are_ignored_and_answers_are_non() {
    let mut e = ep();
    // NON POST /3 (a safe GET would be served again: see the next test).
    let req = hex("52 02 00 07 AB CD b1 33");
    let Some(Incoming::Request { request, .. }) = e.handle_datagram(0, A, &req) else {
        panic!()
    };
    assert_eq!(e.handle_datagram(1, A, &req), None);
    assert!(drain(&mut e).is_empty());
    let mut resp = msg::new_response(CONTENT);
    resp.payload = b"x".to_vec();
    e.respond(2, A, &request, resp);
    let out = one_sent(&mut e, A);
    assert_eq!(out[0], 0x52); // NON, TKL 2
    assert_eq!(out[1], CONTENT);
    assert_eq!(&out[4..], &hex("AB CD ff 78")[..]);
    assert_eq!(e.handle_datagram(3, A, &req), None);
    assert!(drain(&mut e).is_empty());
}

#[test]
fn a_duplicate_get_or_fetch_is_served_again_and_nothing_of_it_is_kept() {
    let mut e = ep();
    // CON GET /3/0/0, MID 0x3333, token 77: every copy surfaces and gets a fresh answer with
    // the copy's MID (RFC 7252 §4.5 lets a safe request be processed again).
    let req = hex("41 01 33 33 77 b1 33 01 30 01 30");
    for t in [0, 10, 2_000] {
        let Some(Incoming::Request { request, .. }) = e.handle_datagram(t, A, &req) else {
            panic!("the copy at {t} ms was not served")
        };
        let mut resp = msg::new_response(CONTENT);
        resp.payload = b"ACME".to_vec();
        e.respond(t, A, &request, resp);
        assert_eq!(one_sent(&mut e, A), hex("61 45 33 33 77 ff 41 43 4d 45"));
    }
    // No cache entry, so no expiry to wake up for.
    assert_eq!(e.poll_timeout(), None);
    // A NON FETCH (0.05) duplicate is a new request too.
    let fetch = hex("51 05 00 09 88");
    for t in [3_000, 3_001] {
        assert!(matches!(
            e.handle_datagram(t, A, &fetch),
            Some(Incoming::Request { peer: A, .. })
        ));
    }
}

#[test]
fn notification_in_ack_n3() {
    let mut e = ep();
    // CON GET Observe=0 /5, MID 0x2222, token 4444.
    let req = hex("42 01 22 22 44 44 61 00 51 35");
    let Some(Incoming::Request { request, .. }) = e.handle_datagram(0, A, &req) else {
        panic!()
    };
    assert_eq!(msg::observe(&request), Some(0));
    let mut resp = msg::new_response(CONTENT);
    msg::set_observe(&mut resp, 0x2233);
    msg::set_content_format(&mut resp, 0);
    resp.payload = b"211".to_vec();
    e.respond(1, A, &request, resp);
    // VECTORS §3.2 N3.
    assert_eq!(
        one_sent(&mut e, A),
        hex("62 45 2222 4444 62 2233 60 ff 323131")
    );
}

#[test]
fn unknown_critical_option_gets_4_02() {
    let mut e = ep();
    // CON GET, token AA, option 19 (Q-Block1, not implemented), empty value.
    let req = hex("41 01 12 34 AA d0 06");
    assert_eq!(e.handle_datagram(0, A, &req), None);
    let bad_option = hex("61 82 12 34 AA");
    assert_eq!(one_sent(&mut e, A), bad_option);
    assert_eq!(e.handle_datagram(5, A, &req), None);
    assert_eq!(one_sent(&mut e, A), bad_option);
    // In a NON the message is rejected silently.
    assert_eq!(e.handle_datagram(5, A, &hex("51 01 12 35 AA d0 06")), None);
    assert!(drain(&mut e).is_empty());
    // Unknown elective options are fine (option 2048, `e0 06 f3 00` = delta 2048, length 0).
    assert!(matches!(
        e.handle_datagram(5, A, &hex("41 01 12 36 AA e0 06 f3")),
        Some(Incoming::Request { .. })
    ));
    // A second Uri-Port (§5.4.5) makes an otherwise known option unrecognised.
    assert_eq!(
        e.handle_datagram(6, A, &hex("41 01 12 37 AA 71 01 01 02")),
        None
    );
    assert_eq!(one_sent(&mut e, A), hex("61 82 12 37 AA"));
}

#[test]
fn malformed_datagrams_never_surface_and_rst_only_for_con() {
    let cases: &[(&str, Option<&str>)] = &[
        ("", None),
        ("40", None),
        ("40 01", None),
        ("40 01 12", None),
        ("80 01 12 34", None), // version 2: silently ignored (§3)
        ("c0 00 12 34", None), // version 3
        (
            "49 01 12 34 01 02 03 04 05 06 07 08 09",
            Some("70 00 12 34"),
        ), // TKL 9
        ("4f 01 12 34", Some("70 00 12 34")), // TKL 15, nothing after
        ("48 01 12 34 01 02", Some("70 00 12 34")), // token truncated
        ("40 01 12 34 f1 00", Some("70 00 12 34")), // option delta 15
        ("40 01 12 34 1f 00", Some("70 00 12 34")), // option length 15
        ("40 01 12 34 b5 61", Some("70 00 12 34")), // truncated option value
        ("40 01 12 34 d1", Some("70 00 12 34")), // extended delta missing
        ("40 01 12 34 b1 31 ff", Some("70 00 12 34")), // marker without payload
        ("41 00 12 34 aa", Some("70 00 12 34")), // empty with a token
        ("40 00 12 34 ff 00", Some("70 00 12 34")), // empty with bytes
        ("40 20 12 34", Some("70 00 12 34")), // code 1.00, reserved class
        ("40 e0 12 34", Some("70 00 12 34")), // code 7.00, reserved class
        ("59 01 12 34 01 02 03 04 05 06 07 08 09", None), // NON with TKL 9
        ("50 01 12 34 f1 00", None), // NON, delta 15
        ("50 00 12 34", None), // empty NON
        ("50 20 12 34", None), // NON reserved class
        ("60 01 12 34 b1 31 ff", None), // ACK malformed
        ("60 01 12 34", None), // ACK carrying a request
        ("70 45 12 34", None), // RST carrying a response
        ("70 01 12 34", None), // RST carrying a request
    ];
    for (input, reply) in cases {
        let mut e = ep();
        assert_eq!(e.handle_datagram(0, A, &hex(input)), None, "{input}");
        let out = drain(&mut e);
        match reply {
            None => assert!(out.is_empty(), "{input}: {out:02x?}"),
            Some(r) => assert_eq!(out, vec![(A, hex(r))], "{input}"),
        }
        assert_eq!(e.poll_timeout(), None, "{input}");
    }
}

#[test]
fn responses_that_match_nothing() {
    let mut e = ep();
    e.request(0, A, register_request(), true);
    let sent = one_sent(&mut e, A);
    let (mid, token) = (mid_of(&sent), token_of(&sent));
    let deadline = e.poll_timeout();

    // CON response with an unknown token: RST, the same RST for its duplicate.
    let stray = msg_bytes(0x40, CONTENT, [0x55, 0x66], &[9, 9, 9], &[]);
    assert_eq!(e.handle_datagram(1, A, &stray), None);
    assert_eq!(one_sent(&mut e, A), hex("70 00 55 66"));
    assert_eq!(e.handle_datagram(2, A, &stray), None);
    assert_eq!(one_sent(&mut e, A), hex("70 00 55 66"));
    // NON response with an unknown token: silently dropped.
    let stray = msg_bytes(0x50, CONTENT, [0x55, 0x67], &[9, 9, 9], &[]);
    assert_eq!(e.handle_datagram(3, A, &stray), None);
    assert!(drain(&mut e).is_empty());
    // ACK with another MID: ignored.
    let other = u16::from_be_bytes(mid).wrapping_add(7).to_be_bytes();
    let wrong_mid = msg_bytes(0x60, CONTENT, other, &token, &[]);
    assert_eq!(e.handle_datagram(4, A, &wrong_mid), None);
    // Our MID but another token: ignored, the request keeps its timer.
    let wrong_token = msg_bytes(0x60, CONTENT, mid, &[1, 2, 3, 4, 5, 6, 7, 8], &[]);
    assert_eq!(e.handle_datagram(5, A, &wrong_token), None);
    // The right response from another peer: ignored.
    let right = msg_bytes(0x60, CONTENT, mid, &token, &[]);
    assert_eq!(e.handle_datagram(6, B, &right), None);
    assert!(drain(&mut e).is_empty());
    assert_eq!(e.poll_timeout(), deadline);
    assert_eq!(e.outstanding(A), 1);
    // A piggybacked response with an unrecognised critical option is rejected (§5.4.1).
    let mut bad = right.clone();
    bad.extend_from_slice(&hex("d0 06")); // option 19
    assert_eq!(e.handle_datagram(7, A, &bad), None);
    assert_eq!(e.outstanding(A), 1);
    assert!(matches!(
        e.handle_datagram(8, A, &right),
        Some(Incoming::Response { .. })
    ));
}

#[test]
fn non_request_waits_for_its_response_and_is_not_queued() {
    let mut e = ep();
    e.request(0, A, msg::new_request(GET, &["c"], &[]), true);
    let id = e.request(0, A, msg::new_request(GET, &["n"], &[]), false);
    let out = drain(&mut e);
    assert_eq!(out.len(), 2);
    let non = &out[1].1;
    assert_eq!(non[0], 0x58); // NON, TKL 8
    assert_eq!(e.outstanding(A), 2);
    let resp = msg_bytes(0x50, CONTENT, [0, 1], &token_of(non), &[]);
    assert!(matches!(
        e.handle_datagram(10, A, &resp),
        Some(Incoming::Response { id: rid, .. }) if rid == id
    ));
    // RST to a NON request fails it.
    let id2 = e.request(20, A, msg::new_request(GET, &["n2"], &[]), false);
    let non2 = one_sent(&mut e, A);
    let mut rst = hex("70 00");
    rst.extend_from_slice(&mid_of(&non2));
    assert_eq!(
        e.handle_datagram(30, A, &rst),
        Some(Incoming::Failed {
            peer: A,
            id: id2,
            reason: Failure::Reset
        })
    );
}

#[test]
fn observation_keeps_matching_until_cancelled() {
    let mut e = ep();
    let mut get = msg::new_request(GET, &["3", "0", "9"], &[]);
    msg::set_observe(&mut get, 0);
    let id = e.request(0, A, get, true);
    let sent = one_sent(&mut e, A);
    let token = token_of(&sent);
    let first = msg_bytes(0x60, CONTENT, mid_of(&sent), &token, &hex("61 05 ff 31"));
    assert!(
        matches!(e.handle_datagram(1, A, &first), Some(Incoming::Response { id: r, .. }) if r == id)
    );
    assert_eq!(e.outstanding(A), 0);
    // CON notification: surfaced with the same id, ACKed.
    let n = msg_bytes(0x40, CONTENT, [0x30, 0x00], &token, &hex("61 06 ff 32"));
    assert!(
        matches!(e.handle_datagram(2, A, &n), Some(Incoming::Response { id: r, .. }) if r == id)
    );
    assert_eq!(one_sent(&mut e, A), hex("60 00 30 00"));
    // After cancel, the next notification is rejected with RST (RFC 7641 §3.6).
    e.cancel(id);
    let n = msg_bytes(0x40, CONTENT, [0x30, 0x01], &token, &hex("61 07 ff 33"));
    assert_eq!(e.handle_datagram(3, A, &n), None);
    assert_eq!(one_sent(&mut e, A), hex("70 00 30 01"));
}

#[test]
fn send_con_and_non_messages_n1_n2() {
    let mut e = ep();
    let mut n = msg::new_response(CONTENT);
    n.set_token(hex("4444"));
    msg::set_observe(&mut n, 0x2233);
    msg::set_content_format(&mut n, 0);
    n.payload = b"211".to_vec();

    let id = e.send(0, A, n.clone(), true);
    let con = one_sent(&mut e, A);
    let mid = mid_of(&con);
    // VECTORS §3.2 N2 with our MID.
    assert_eq!(
        con,
        msg_bytes(0x40, 0x45, mid, &hex("4444"), &hex("62 2233 60 ff 323131"))
    );
    assert_eq!(e.outstanding(A), 1);
    let mut ack = hex("60 00");
    ack.extend_from_slice(&mid);
    assert_eq!(e.handle_datagram(5, A, &ack), None); // success is silent
    assert_eq!(e.outstanding(A), 0);
    assert_eq!(e.poll_timeout(), None);

    let id2 = e.send(10, A, n.clone(), true);
    assert_ne!(id, id2);
    let mid2 = mid_of(&one_sent(&mut e, A));
    let mut rst = hex("70 00");
    rst.extend_from_slice(&mid2);
    assert_eq!(
        e.handle_datagram(11, A, &rst),
        Some(Incoming::Failed {
            peer: A,
            id: id2,
            reason: Failure::Reset
        })
    );

    // VECTORS §3.2 N1 with our MID; without RST it is forgotten after NON_LIFETIME, silently.
    e.send(20, A, n, false);
    let non = one_sent(&mut e, A);
    assert_eq!(
        non,
        msg_bytes(
            0x50,
            0x45,
            mid_of(&non),
            &hex("4444"),
            &hex("62 2233 60 ff 323131")
        )
    );
    assert_eq!(e.outstanding(A), 0);
    assert_eq!(e.poll_timeout(), Some(20 + 145_000));
    assert!(e.handle_timeout(20 + 145_000).is_empty());
    assert_eq!(e.poll_timeout(), None);
}

#[test]
fn many_non_messages_are_watched_for_an_rst_without_waking_anyone() {
    let mut e = ep();
    let mut sent = Vec::new();
    // One notification a second for 200 s: those of the last NON_LIFETIME (145 s) are watched.
    for t in 0..200u64 {
        let mut n = msg::new_response(CONTENT);
        n.set_token(vec![0x44]);
        let id = e.send(t * 1000, A, n, false);
        sent.push((id, mid_of(&one_sent(&mut e, A))));
        assert!(e.handle_timeout(t * 1000).is_empty(), "expiry is silent");
    }
    // Nothing to wake up for: watches end silently and are swept at the next call.
    assert_eq!(e.poll_exchange_timeout(), None);
    assert_eq!(e.outstanding(A), 0);
    // An RST to one still watched (sent at 150 s) fails that one, and only it.
    let (id, mid) = sent[150];
    let mut rst = hex("70 00");
    rst.extend_from_slice(&mid);
    assert_eq!(
        e.handle_datagram(199_500, A, &rst),
        Some(Incoming::Failed {
            peer: A,
            id,
            reason: Failure::Reset
        })
    );
    assert_eq!(e.handle_datagram(199_600, A, &rst), None, "once");
    // One sent at 10 s is past NON_LIFETIME: its RST matches nothing.
    let mut late = hex("70 00");
    late.extend_from_slice(&sent[10].1);
    assert_eq!(e.handle_datagram(199_700, A, &late), None);
    // The oldest watch left (sent at 55 s; the one of 54 s ended at 199 s) ends NON_LIFETIME
    // after it was sent.
    assert_eq!(e.poll_timeout(), Some(55_000 + 145_000));
    e.handle_timeout(199_000 + 145_000);
    assert_eq!(e.poll_timeout(), None);
}

#[test]
fn at_most_256_non_messages_are_watched_the_oldest_forgotten_first() {
    let mut e = ep();
    let mut mids = Vec::new();
    for t in 0..300u64 {
        let mut n = msg::new_response(CONTENT);
        n.set_token(vec![0x44]);
        e.send(t, A, n, false);
        mids.push(mid_of(&one_sent(&mut e, A)));
    }
    let rst = |mid: [u8; 2]| {
        let mut r = hex("70 00");
        r.extend_from_slice(&mid);
        r
    };
    // The first 44 were forgotten: their RST matches nothing; the 45th still is watched.
    assert_eq!(e.handle_datagram(400, A, &rst(mids[43])), None);
    assert!(matches!(
        e.handle_datagram(401, A, &rst(mids[44])),
        Some(Incoming::Failed {
            reason: Failure::Reset,
            ..
        })
    ));
}

#[test]
fn forget_peer_drops_everything_silently() {
    let mut e = ep();
    e.request(0, A, register_request(), true);
    e.request(0, A, register_request(), true);
    let sent = one_sent(&mut e, A);
    e.handle_datagram(0, A, &hex("42 01 00 01 01 02"));
    e.forget_peer(A);
    assert_eq!(e.outstanding(A), 0);
    assert_eq!(e.poll_timeout(), None);
    assert!(e.handle_timeout(1_000_000).is_empty());
    assert!(drain(&mut e).is_empty());
    // A late response is now unknown.
    let late = msg_bytes(0x60, CONTENT, mid_of(&sent), &token_of(&sent), &[]);
    assert_eq!(e.handle_datagram(1, A, &late), None);
}

#[test]
fn forget_peer_keeps_an_already_queued_answer() {
    let mut e = ep();
    let Some(Incoming::Request { request, .. }) =
        e.handle_datagram(0, A, &hex("42 02 00 01 01 02 b2 62 73"))
    else {
        panic!()
    };
    e.respond(0, A, &request, msg::new_response(CHANGED));
    e.forget_peer(A);
    assert_eq!(one_sent(&mut e, A), hex("62 44 00 01 01 02"));
}

#[test]
fn works_with_socket_addresses() {
    use std::net::{Ipv4Addr, SocketAddr};
    let server = SocketAddr::from((Ipv4Addr::LOCALHOST, 5683));
    let mut e: Endpoint<SocketAddr> = Endpoint::new(7, TransmissionParams::default());
    e.handle_datagram(0, server, &hex("40 00 00 00"));
    assert_eq!(e.poll_transmit(), Some((server, hex("70 00 00 00"))));
}

#[test]
fn pseudo_random_datagrams_never_panic() {
    let mut rng = crate::rng::Rng::new(0x5EED);
    let mut e = ep();
    let seeds = [
        hex("40 00 00 00"),
        hex("68 41 3721 1234567811111111 82 7264 04 35613366"),
        hex("48 03 3721 1234567811111111 b1 35 01 30 01 31 10 d1 02 ee ff 334455"),
        hex("44 01 2137 12345678 b1 33 01 33 02 3131 02 3131 62 0140"),
        hex("63 44 2222 112233"),
    ];
    let mut now = 0u64;
    let mut surfaced = 0;
    for round in 0..20_000u32 {
        now += rng.range(0, 3_000);
        let peer = (rng.next_u64() % 3) as u32;
        let bytes: Vec<u8> = if round % 2 == 0 {
            let len = rng.range(0, 40) as usize;
            (0..len).map(|_| rng.next_u64() as u8).collect()
        } else {
            // A vector with a few bytes flipped, cut or extended.
            let mut v = seeds[(rng.next_u64() % seeds.len() as u64) as usize].clone();
            for _ in 0..rng.range(1, 3) {
                if v.is_empty() {
                    break;
                }
                let at = (rng.next_u64() % v.len() as u64) as usize;
                v[at] = rng.next_u64() as u8;
            }
            v.truncate(rng.range(0, v.len() as u64 + 2) as usize);
            v
        };
        if round % 97 == 0 {
            e.request(now, peer, register_request(), round % 3 != 0);
        }
        match e.handle_datagram(now, peer, &bytes) {
            Some(Incoming::Request { peer, request }) => {
                surfaced += 1;
                e.respond(now, peer, &request, msg::new_response(CONTENT));
            }
            Some(_) => surfaced += 1,
            None => {}
        }
        if let Some(t) = e.poll_timeout() {
            if t <= now {
                e.handle_timeout(now);
            }
        }
        while let Some((_, out)) = e.poll_transmit() {
            let p = Packet::from_bytes(&out).expect("we only send valid messages");
            assert_eq!(p.header.get_version(), 1);
            let h = wire::read_header(&out).unwrap();
            assert!(wire::well_formed(&h, &out), "{out:02x?}");
        }
    }
    assert!(surfaced > 0);
}
