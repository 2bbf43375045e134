use super::*;
use crate::coap::blockwise::block_option;
use crate::coap::TransmissionParams;
use alloc::vec;
use coap_lite::{CoapOption, Packet};

const SERVER: PeerId = PeerId(7);

const SIZES: Sizes = Sizes {
    block_size: Some(1024),
    response_limit: 4096,
};

/// A client endpoint and its block-wise requests; the test plays the server by hand.
struct Harness {
    ep: Endpoint<PeerId>,
    blocks: BlockRequests,
    now: u64,
}

impl Harness {
    fn new() -> Harness {
        let mut ep = Endpoint::new(3, TransmissionParams::default());
        ep.accept_block_responses(true);
        Harness {
            ep,
            blocks: BlockRequests::default(),
            now: 1_000,
        }
    }

    fn send(&mut self, packet: MessageBuf, reassemble: Reassemble) -> ExchangeId {
        self.blocks
            .send(&mut self.ep, self.now, SERVER, packet, SIZES, reassemble)
    }

    /// The request now on the wire.
    fn sent(&mut self) -> Packet {
        let (peer, bytes) = self.ep.poll_transmit().expect("a request was sent");
        assert_eq!(peer, SERVER);
        assert!(self.ep.poll_transmit().is_none(), "one message at a time");
        Packet::from_bytes(&bytes).expect("a valid CoAP message")
    }

    /// Answers `request` with `response` piggybacked in its ACK.
    fn answer(&mut self, request: &Packet, mut response: Packet) -> Outcome {
        response.header.set_version(1);
        response
            .header
            .set_type(coap_lite::MessageType::Acknowledgement);
        response.header.message_id = request.header.message_id;
        response.set_token(request.get_token().to_vec());
        let bytes = response.to_bytes().expect("encodable");
        match self.ep.handle_datagram(self.now, SERVER, &bytes) {
            Some(crate::coap::Incoming::Response { id, response, .. }) => {
                let response = MessageBuf::of_packet(&response);
                self.blocks
                    .on_response(&mut self.ep, self.now, id, response, SIZES)
            }
            other => panic!("not a response: {other:?}"),
        }
    }
}

fn block_of(packet: &Packet, which: CoapOption) -> Option<Block> {
    block_option(packet, which).flatten()
}

fn response(code: u8) -> Packet {
    msg::new_response(code)
}

fn with_block(mut packet: Packet, which: CoapOption, block: Block) -> Packet {
    packet.add_option(which, block.encode());
    packet
}

fn block(num: u32, more: bool, szx: u8) -> Block {
    Block { num, more, szx }
}

fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn post(payload: Vec<u8>) -> MessageBuf {
    let mut p = MessageBuf::request(msg::POST, &["dp"], &[]);
    p.add_uint(option::CONTENT_FORMAT, 110);
    p.payload = payload;
    p
}

#[test]
fn a_long_body_goes_out_in_block1_blocks_each_after_its_2_31() {
    let mut h = Harness::new();
    let whole = body(2500);
    let id = h.send(post(whole.clone()), Reassemble::Whole);

    let first = h.sent();
    assert_eq!(
        first
            .get_option(CoapOption::Block1)
            .and_then(|v| v.front().cloned()),
        Some(vec![0x0E])
    );
    assert_eq!(msg::uint_option(&first, CoapOption::Size1), Some(2500));
    assert_eq!(first.payload, whole[..1024]);
    assert_eq!(msg::uri_path(&first), Some(vec!["dp".into()]));
    assert_eq!(msg::content_format(&first), Some(110));
    let cont = with_block(
        response(msg::CONTINUE),
        CoapOption::Block1,
        block(0, true, 6),
    );
    assert_eq!(h.answer(&first, cont), Outcome::Pending);

    let second = h.sent();
    assert_eq!(
        block_of(&second, CoapOption::Block1),
        Some(block(1, true, 6))
    );
    assert_eq!(
        second.get_option(CoapOption::Size1),
        None,
        "Size1 on the first only"
    );
    assert_eq!(second.payload, whole[1024..2048]);
    let cont = with_block(
        response(msg::CONTINUE),
        CoapOption::Block1,
        block(1, true, 6),
    );
    assert_eq!(h.answer(&second, cont), Outcome::Pending);

    let last = h.sent();
    assert_eq!(
        block_of(&last, CoapOption::Block1),
        Some(block(2, false, 6))
    );
    assert_eq!(last.payload, whole[2048..]);
    let done = with_block(
        response(msg::CHANGED),
        CoapOption::Block1,
        block(2, false, 6),
    );
    match h.answer(&last, done) {
        Outcome::Done {
            id: done_id,
            response,
        } => {
            assert_eq!(
                done_id, id,
                "the whole request keeps the first message's id"
            );
            assert_eq!(response.code, msg::CHANGED);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.blocks.len(), 0);
    assert!(h.ep.poll_transmit().is_none());
}

#[test]
fn a_smaller_block_size_asked_in_the_2_31_is_used_from_the_next_block_on() {
    let mut h = Harness::new();
    let whole = body(2000);
    h.send(post(whole.clone()), Reassemble::Whole);
    let first = h.sent();
    // RFC 7959 §2.3: the server takes 1024 bytes but wants 512 from now on.
    let cont = with_block(
        response(msg::CONTINUE),
        CoapOption::Block1,
        block(0, true, 5),
    );
    assert_eq!(h.answer(&first, cont), Outcome::Pending);
    let second = h.sent();
    assert_eq!(
        block_of(&second, CoapOption::Block1),
        Some(block(2, true, 5))
    );
    assert_eq!(second.payload, whole[1024..1536]);
    let cont = with_block(
        response(msg::CONTINUE),
        CoapOption::Block1,
        block(2, true, 5),
    );
    h.answer(&second, cont);
    let third = h.sent();
    assert_eq!(
        block_of(&third, CoapOption::Block1),
        Some(block(3, false, 5))
    );
    assert_eq!(third.payload, whole[1536..]);
}

#[test]
fn a_4_13_naming_a_smaller_size_restarts_once_then_is_the_answer() {
    let mut h = Harness::new();
    let whole = body(1500);
    let id = h.send(post(whole.clone()), Reassemble::Whole);
    let first = h.sent();
    let too_large = with_block(
        response(msg::REQUEST_ENTITY_TOO_LARGE),
        CoapOption::Block1,
        block(0, true, 4),
    );
    assert_eq!(h.answer(&first, too_large.clone()), Outcome::Pending);
    let again = h.sent();
    assert_eq!(
        block_of(&again, CoapOption::Block1),
        Some(block(0, true, 4))
    );
    assert_eq!(msg::uint_option(&again, CoapOption::Size1), Some(1500));
    assert_eq!(again.payload, whole[..256]);
    let smaller = with_block(
        response(msg::REQUEST_ENTITY_TOO_LARGE),
        CoapOption::Block1,
        block(0, true, 2),
    );
    match h.answer(&again, smaller) {
        Outcome::Done { id: done, response } => {
            assert_eq!(done, id);
            assert_eq!(response.code, msg::REQUEST_ENTITY_TOO_LARGE);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_response_in_block2_blocks_is_fetched_and_handed_up_whole() {
    let mut h = Harness::new();
    let get = MessageBuf::request(msg::GET, &["fw", "image"], &[]);
    let id = h.send(get, Reassemble::Whole);
    let first = h.sent();
    assert_eq!(first.get_option(CoapOption::Block2), None);
    let content = body(2100);
    let mut r = with_block(
        response(msg::CONTENT),
        CoapOption::Block2,
        block(0, true, 6),
    );
    r.add_option(CoapOption::ETag, vec![1, 2]);
    r.payload = content[..1024].to_vec();
    assert_eq!(h.answer(&first, r), Outcome::Pending);

    let second = h.sent();
    assert_eq!(
        block_of(&second, CoapOption::Block2),
        Some(block(1, false, 6))
    );
    assert_eq!(
        msg::uri_path(&second),
        Some(vec!["fw".into(), "image".into()])
    );
    let mut r = with_block(
        response(msg::CONTENT),
        CoapOption::Block2,
        block(1, true, 6),
    );
    r.add_option(CoapOption::ETag, vec![1, 2]);
    r.payload = content[1024..2048].to_vec();
    assert_eq!(h.answer(&second, r), Outcome::Pending);

    let third = h.sent();
    assert_eq!(
        block_of(&third, CoapOption::Block2),
        Some(block(2, false, 6))
    );
    let mut r = with_block(
        response(msg::CONTENT),
        CoapOption::Block2,
        block(2, false, 6),
    );
    r.add_option(CoapOption::ETag, vec![1, 2]);
    r.payload = content[2048..].to_vec();
    match h.answer(&third, r) {
        Outcome::Done { id: done, response } => {
            assert_eq!(done, id);
            assert_eq!(response.payload, content);
            assert_eq!(response_block(&response, option::BLOCK2), None);
            assert_eq!(response.code, msg::CONTENT);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn after_a_block1_body_the_block2_requests_carry_no_body() {
    let mut h = Harness::new();
    h.send(post(body(1100)), Reassemble::Whole);
    let first = h.sent();
    let cont = with_block(
        response(msg::CONTINUE),
        CoapOption::Block1,
        block(0, true, 6),
    );
    h.answer(&first, cont);
    let last = h.sent();
    let mut r = with_block(
        response(msg::CHANGED),
        CoapOption::Block1,
        block(1, false, 6),
    );
    r.add_option(CoapOption::Block2, block(0, true, 6).encode());
    r.payload = body(1024);
    assert_eq!(h.answer(&last, r), Outcome::Pending);
    // RFC 7959 §2.7: later requests carry Block2 only.
    let ask = h.sent();
    assert_eq!(block_of(&ask, CoapOption::Block2), Some(block(1, false, 6)));
    assert_eq!(block_option(&ask, CoapOption::Block1), None);
    assert_eq!(
        ask.get_option(CoapOption::Size1),
        None,
        "not even empty: parsed from bytes"
    );
    assert!(ask.payload.is_empty());
}

#[test]
fn a_body_that_changes_between_blocks_or_grows_past_the_limit_fails_the_request() {
    let mut h = Harness::new();
    let id = h.send(
        MessageBuf::request(msg::GET, &["a"], &[]),
        Reassemble::Whole,
    );
    let first = h.sent();
    let mut r = with_block(
        response(msg::CONTENT),
        CoapOption::Block2,
        block(0, true, 6),
    );
    r.add_option(CoapOption::ETag, vec![1]);
    r.payload = body(1024);
    h.answer(&first, r);
    let second = h.sent();
    let mut r = with_block(
        response(msg::CONTENT),
        CoapOption::Block2,
        block(1, false, 6),
    );
    r.add_option(CoapOption::ETag, vec![2]);
    r.payload = body(10);
    assert_eq!(
        h.answer(&second, r),
        Outcome::Failed {
            id,
            reason: RequestFailure::Blocks("the response changed between its blocks (ETag)")
        }
    );

    // SIZES.response_limit is 4096: the fifth full block is one too many.
    let id = h.send(
        MessageBuf::request(msg::GET, &["b"], &[]),
        Reassemble::Whole,
    );
    let mut outcome = Outcome::Pending;
    for num in 0..5 {
        let req = h.sent();
        let mut r = with_block(
            response(msg::CONTENT),
            CoapOption::Block2,
            block(num, true, 6),
        );
        r.payload = body(1024);
        outcome = h.answer(&req, r);
        if outcome != Outcome::Pending {
            break;
        }
    }
    assert_eq!(
        outcome,
        Outcome::Failed {
            id,
            reason: RequestFailure::Blocks("the response body exceeds the response limit")
        }
    );
    assert_eq!(h.blocks.len(), 0);
}

#[test]
fn a_block_out_of_place_fails_the_request() {
    let mut h = Harness::new();
    let id = h.send(
        MessageBuf::request(msg::GET, &["a"], &[]),
        Reassemble::Whole,
    );
    let first = h.sent();
    let mut r = with_block(
        response(msg::CONTENT),
        CoapOption::Block2,
        block(0, true, 6),
    );
    r.payload = body(1024);
    h.answer(&first, r);
    let second = h.sent();
    let mut r = with_block(
        response(msg::CONTENT),
        CoapOption::Block2,
        block(3, false, 6),
    );
    r.payload = body(10);
    assert_eq!(
        h.answer(&second, r),
        Outcome::Failed {
            id,
            reason: RequestFailure::Blocks("a response block out of place")
        }
    );
}

#[test]
fn in_blocks_mode_each_response_is_handed_up_as_it_came() {
    let mut h = Harness::new();
    let id = h.send(
        MessageBuf::request(msg::GET, &["fw"], &[]),
        Reassemble::Blocks,
    );
    let first = h.sent();
    let mut r = with_block(
        response(msg::CONTENT),
        CoapOption::Block2,
        block(0, true, 6),
    );
    r.payload = body(1024);
    match h.answer(&first, r) {
        Outcome::Done { id: done, response } => {
            assert_eq!(done, id);
            assert_eq!(
                response_block(&response, option::BLOCK2),
                Some(Some(block(0, true, 6)))
            );
            assert_eq!(response.payload.len(), 1024);
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ep.poll_transmit().is_none(), "nothing asked on its own");
}

#[test]
fn a_short_request_goes_out_whole_and_a_lost_block_fails_the_whole_request() {
    let mut h = Harness::new();
    let id = h.send(post(body(1024)), Reassemble::Whole);
    let only = h.sent();
    assert_eq!(
        only.get_option(CoapOption::Block1),
        None,
        "exactly one block: whole"
    );
    assert_eq!(only.payload.len(), 1024);
    match h.answer(&only, response(msg::CHANGED)) {
        Outcome::Done { id: done, .. } => assert_eq!(done, id),
        other => panic!("{other:?}"),
    }

    let id = h.send(post(body(3000)), Reassemble::Whole);
    let first = h.sent();
    let cont = with_block(
        response(msg::CONTINUE),
        CoapOption::Block1,
        block(0, true, 6),
    );
    h.answer(&first, cont);
    let _second = h.sent();
    // The endpoint gives up on the second block: the request fails under its own id.
    let mut failed = Vec::new();
    for _ in 0..10 {
        h.now += 300_000;
        failed.extend(h.ep.handle_timeout(h.now));
        while h.ep.poll_transmit().is_some() {}
    }
    let Some(crate::coap::Incoming::Failed { id: lost, .. }) = failed.first() else {
        panic!("no failure: {failed:?}");
    };
    assert_eq!(h.blocks.on_failure(*lost), Some(id));
    assert_eq!(h.blocks.len(), 0);
    assert_eq!(h.blocks.on_failure(*lost), None);
}

#[test]
fn cancel_stops_the_block_in_flight() {
    let mut h = Harness::new();
    let id = h.send(post(body(3000)), Reassemble::Whole);
    let first = h.sent();
    let cont = with_block(
        response(msg::CONTINUE),
        CoapOption::Block1,
        block(0, true, 6),
    );
    h.answer(&first, cont);
    let second = h.sent();
    h.blocks.cancel(&mut h.ep, id);
    assert_eq!(h.blocks.len(), 0);
    assert_eq!(h.ep.outstanding(SERVER), 0);
    let late = with_block(
        response(msg::CONTINUE),
        CoapOption::Block1,
        block(1, true, 6),
    );
    let mut late = late;
    late.header.set_version(1);
    late.header
        .set_type(coap_lite::MessageType::Acknowledgement);
    late.header.message_id = second.header.message_id;
    late.set_token(second.get_token().to_vec());
    let bytes = late.to_bytes().unwrap();
    assert_eq!(h.ep.handle_datagram(h.now, SERVER, &bytes), None);
}
