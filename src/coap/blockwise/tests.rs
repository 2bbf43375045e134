use super::*;
use alloc::vec;

fn request(payload: &[u8]) -> Request {
    Request {
        method: msg::PUT,
        path: Ok(crate::path::Path::resource(3, 0, 15)),
        bs: false,
        queries: vec![],
        content_format: Some(0),
        accept: None,
        observe: None,
        payload: payload.to_vec(),
    }
}

const PEER: PeerId = PeerId(1);

fn bounds(lifetime_ms: u64, limit: usize) -> Bounds {
    Bounds { lifetime_ms, limit }
}

fn block(num: u32, more: bool, szx: u8) -> Block {
    Block { num, more, szx }
}

#[test]
fn options_encode_and_parse_as_rfc_7959_says() {
    // §2.2: NUM 0, M, SZX 6 is 0x0E; NUM 1, last, SZX 6 is 0x16; NUM 16 takes two bytes.
    assert_eq!(block(0, true, 6).encode(), vec![0x0E]);
    assert_eq!(block(1, false, 6).encode(), vec![0x16]);
    assert_eq!(block(16, false, 6).encode(), vec![0x01, 0x06]);
    assert_eq!(block(0, false, 0).encode(), Vec::<u8>::new());
    assert_eq!(Block::parse(&[0x01, 0x06]), Some(block(16, false, 6)));
    assert_eq!(Block::parse(&[]), Some(block(0, false, 0)));
    assert_eq!(Block::parse(&[0x0F]), None, "SZX 7 is reserved");
    assert_eq!(Block::parse(&[1, 2, 3, 4]), None);
    assert_eq!(block(3, true, 5).offset(), 1536);
    assert_eq!(szx_for(1024), 6);
    assert_eq!(szx_for(1000), 5);
    assert_eq!(szx_for(8), 0);
}

#[test]
fn a_body_in_three_blocks_comes_out_whole_once() {
    let mut r = Reassembly::default();
    let a = [b'a'; 32];
    let b = [b'b'; 32];
    let out = |r: &mut Reassembly, now, payload: &[u8], blk| {
        r.accept(now, bounds(1000, 4096), PEER, &request(payload), blk, None)
    };
    assert_eq!(
        out(&mut r, 0, &a, block(0, true, 1)),
        Block1Outcome::Continue
    );
    assert_eq!(
        out(&mut r, 1, &b, block(1, true, 1)),
        Block1Outcome::Continue
    );
    // The same block again (a retransmission with a new Message ID): answered, not appended.
    assert_eq!(
        out(&mut r, 2, &b, block(1, true, 1)),
        Block1Outcome::Continue
    );
    let mut whole = a.to_vec();
    whole.extend_from_slice(&b);
    whole.extend_from_slice(b"end");
    assert_eq!(
        out(&mut r, 3, b"end", block(2, false, 1)),
        Block1Outcome::Complete(whole)
    );
    // Nothing is left of it: a next block is out of place.
    assert!(matches!(
        out(&mut r, 4, b"x", block(3, false, 1)),
        Block1Outcome::Refuse(Reply {
            code: msg::REQUEST_ENTITY_INCOMPLETE,
            ..
        })
    ));
}

#[test]
fn gaps_short_blocks_oversize_and_expiry_are_refused_and_keep_nothing() {
    let mut r = Reassembly::default();
    let full = [0u8; 16];
    let refuse = |o: Block1Outcome| match o {
        Block1Outcome::Refuse(reply) => reply.code,
        other => panic!("accepted: {other:?}"),
    };
    assert_eq!(
        r.accept(
            0,
            bounds(1000, 4096),
            PEER,
            &request(&full),
            block(0, true, 0),
            None
        ),
        Block1Outcome::Continue
    );
    // Block 2 after block 0: 4.08, and the transfer is gone.
    assert_eq!(
        refuse(r.accept(
            1,
            bounds(1000, 4096),
            PEER,
            &request(&full),
            block(2, true, 0),
            None
        )),
        msg::REQUEST_ENTITY_INCOMPLETE
    );
    assert_eq!(
        refuse(r.accept(
            2,
            bounds(1000, 4096),
            PEER,
            &request(&full),
            block(1, true, 0),
            None
        )),
        msg::REQUEST_ENTITY_INCOMPLETE
    );
    // A block before the last that does not fill its size: 4.00.
    assert_eq!(
        refuse(r.accept(
            3,
            bounds(1000, 4096),
            PEER,
            &request(&[0; 10]),
            block(0, true, 0),
            None
        )),
        msg::BAD_REQUEST
    );
    // Size1 announcing more than the limit, or a body growing past it: 4.13.
    assert_eq!(
        refuse(r.accept(
            4,
            bounds(1000, 4096),
            PEER,
            &request(&full),
            block(0, true, 0),
            Some(5000)
        )),
        msg::REQUEST_ENTITY_TOO_LARGE
    );
    assert_eq!(
        r.accept(
            5,
            bounds(1000, 20),
            PEER,
            &request(&full),
            block(0, true, 0),
            None
        ),
        Block1Outcome::Continue
    );
    assert_eq!(
        refuse(r.accept(
            6,
            bounds(1000, 20),
            PEER,
            &request(&full),
            block(1, true, 0),
            None
        )),
        msg::REQUEST_ENTITY_TOO_LARGE
    );
    // A transfer whose next block comes after the lifetime is forgotten.
    assert_eq!(
        r.accept(
            10,
            bounds(100, 4096),
            PEER,
            &request(&full),
            block(0, true, 0),
            None
        ),
        Block1Outcome::Continue
    );
    assert_eq!(
        refuse(r.accept(
            111,
            bounds(100, 4096),
            PEER,
            &request(&full),
            block(1, false, 0),
            None
        )),
        msg::REQUEST_ENTITY_INCOMPLETE
    );
}

#[test]
fn at_most_four_transfers_are_kept_the_oldest_goes() {
    let mut r = Reassembly::default();
    let full = [0u8; 16];
    for peer in 1..=5 {
        let o = r.accept(
            0,
            bounds(1000, 4096),
            PeerId(peer),
            &request(&full),
            block(0, true, 0),
            None,
        );
        assert_eq!(o, Block1Outcome::Continue);
    }
    assert_eq!(r.transfers.len(), 4);
    assert!(r.transfers.iter().all(|t| t.peer != PeerId(1)));
}

#[test]
fn block2_cuts_the_asked_block_with_an_etag() {
    let body: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
    let cut = |wanted, szx| {
        let mut p = msg::new_response(msg::CONTENT);
        p.payload = body.clone();
        cut_block2(&mut p, wanted, szx).map(|()| {
            let b2 = block_option(&p, CoapOption::Block2).flatten();
            (
                b2,
                p.payload.clone(),
                p.get_first_option(CoapOption::ETag).cloned(),
            )
        })
    };
    let (b, payload, tag) = cut(None, 6).unwrap();
    assert_eq!(b, Some(block(0, true, 6)));
    assert_eq!(payload, body[..1024]);
    assert_eq!(tag, Some(etag(&body)));
    let (b, payload, _) = cut(Some(block(2, false, 6)), 6).unwrap();
    assert_eq!((b, payload.len()), (Some(block(2, false, 6)), 452));
    assert_eq!(payload, body[2048..]);
    // The peer asks for 512-byte blocks (late negotiation): its offset, its size.
    let (b, payload, _) = cut(Some(block(3, false, 5)), 6).unwrap();
    assert_eq!(
        (b, payload.as_slice()),
        (Some(block(3, true, 5)), &body[1536..2048])
    );
    // It asks for more than we send: our size, at its offset.
    let (b, payload, _) = cut(Some(block(1, false, 6)), 5).unwrap();
    assert_eq!((b, payload.len()), (Some(block(2, true, 5)), 512));
    // Past the end: 4.02.
    assert_eq!(
        cut(Some(block(3, false, 6)), 6).unwrap_err().code,
        msg::BAD_OPTION
    );
}
