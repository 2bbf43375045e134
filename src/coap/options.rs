//! Which critical options this endpoint recognises (RFC 7252 §5.4.1).
//!
//! An option is critical when its number is odd (§5.4.6). A critical option is "recognised" only
//! if it is in the table below, occurs at most once unless repeatable (§5.4.5), and its length
//! is within the defined range (§5.4.3); otherwise it must be treated like an unrecognised one.
//! Elective (even) options are never a reason to reject and are left to the upper layers.

#[cfg(test)]
use coap_lite::Packet;

/// (number, repeatable, min length, max length) of every critical option defined by
/// RFC 7252 §5.10 (Table 4), RFC 7641 (Observe is 6: elective) and RFC 7959 §2.1 (Block1/2).
/// OSCORE (9, RFC 8613) is deliberately absent: we do not implement it, so a request that
/// needs it must be refused with 4.02.
const KNOWN_CRITICAL: &[(u16, bool, usize, usize)] = &[
    (1, true, 0, 8),      // If-Match
    (3, false, 1, 255),   // Uri-Host
    (5, false, 0, 0),     // If-None-Match
    (7, false, 0, 2),     // Uri-Port
    (11, true, 0, 255),   // Uri-Path
    (15, true, 0, 255),   // Uri-Query
    (17, false, 0, 2),    // Accept
    (23, false, 0, 3),    // Block2
    (27, false, 0, 3),    // Block1
    (35, false, 1, 1034), // Proxy-Uri
    (39, false, 1, 255),  // Proxy-Scheme
];

const BLOCK2: u16 = 23;
const BLOCK1: u16 = 27;

/// The number of the first critical option the message carries that we do not recognise.
/// `block_responses`: the layer above takes responses in blocks itself (see
/// `Endpoint::accept_block_responses`).
/// (The endpoint reads messages in place, `Message::unrecognised_in_response`; this reads a
/// `Packet` and is what the tests check that against.)
#[cfg(test)]
pub(crate) fn unrecognised_critical(packet: &Packet, block_responses: bool) -> Option<u16> {
    let request = crate::coap::msg::is_request_code(crate::coap::msg::code_of(packet));
    let options = packet
        .options()
        .flat_map(|(&number, values)| values.iter().map(move |v| (number, v.as_slice())));
    let mut previous: Option<u16> = None;
    for (number, value) in options {
        let repeated = previous == Some(number);
        previous = Some(number);
        let ok = option_recognised(number, value.len(), repeated)
            && (block_responses || block_is_whole(number, value, request));
        if !ok {
            return Some(number);
        }
    }
    None
}

/// Whether an option is recognised where it stands (§5.4.1): an elective one
/// always; a critical one if it is known, has an allowed length, and is repeated only when
/// repeatable (`repeated`: the option before it had the same number).
pub(crate) fn option_recognised(number: u16, len: usize, repeated: bool) -> bool {
    if number & 1 == 0 {
        return true;
    }
    match KNOWN_CRITICAL.iter().find(|(n, ..)| *n == number) {
        None => false,
        Some(&(_, repeatable, min, max)) => (repeatable || !repeated) && (min..=max).contains(&len),
    }
}

/// Block-wise transfer (RFC 7959) is served for requests (`coap::blockwise`: Block1 bodies put
/// back together, answers cut into Block2 blocks). In a response to one of the client's own
/// requests it is not handled yet, so there a Block option is understood only where it
/// describes the whole body (Block2 NUM=0 without M); anything else would make the client take
/// a fragment for the whole, and the response is rejected.
pub(crate) fn block_is_whole(number: u16, value: &[u8], request: bool) -> bool {
    if request || (number != BLOCK1 && number != BLOCK2) {
        return true;
    }
    let v = value.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    let (num, more) = (v >> 4, v & 0x08 != 0);
    num == 0 && !more
}

#[cfg(test)]
mod tests {
    use super::unrecognised_critical;
    use coap_lite::{CoapOption, Packet};

    #[test]
    fn recognition_rules() {
        let mut p = Packet::new();
        p.add_option(CoapOption::UriPath, b"3".to_vec());
        p.add_option(CoapOption::UriPath, b"0".to_vec());
        p.add_option(CoapOption::Accept, vec![0x2D, 0x16]);
        p.add_option(CoapOption::Block2, vec![0x06]);
        p.add_option(CoapOption::Unknown(2048), vec![1]); // elective unknown: fine
        p.add_option(CoapOption::NoResponse, vec![]); // 258, elective
        assert_eq!(unrecognised_critical(&p, false), None);

        let mut q = p.clone();
        q.add_option(CoapOption::Unknown(2049), vec![]); // critical unknown
        assert_eq!(unrecognised_critical(&q, false), Some(2049));

        let mut q = p.clone();
        q.add_option(CoapOption::Oscore, vec![]);
        assert_eq!(unrecognised_critical(&q, false), Some(9));

        // Block options only in their whole-body forms (no block-wise transfer yet).
        let block = |option, value: Vec<u8>, request: bool| {
            let mut b = Packet::new();
            b.header.code = if request {
                coap_lite::MessageClass::Request(coap_lite::RequestType::Put)
            } else {
                coap_lite::MessageClass::Response(coap_lite::ResponseType::Content)
            };
            b.add_option(option, value);
            unrecognised_critical(&b, false)
        };
        assert_eq!(block(CoapOption::Block1, vec![0x06], true), None); // NUM 0, last, 1 KiB
        assert_eq!(block(CoapOption::Block1, vec![], true), None); // NUM 0, last, 16 B
                                                                   // In requests every block is understood: coap::blockwise serves them.
        assert_eq!(block(CoapOption::Block1, vec![0x0E], true), None); // NUM 0, more
        assert_eq!(block(CoapOption::Block1, vec![0x16], true), None); // NUM 1
        assert_eq!(block(CoapOption::Block1, vec![0x01, 0x06], true), None); // NUM 16
        assert_eq!(block(CoapOption::Block2, vec![0x06], true), None); // first block wanted
        assert_eq!(block(CoapOption::Block2, vec![0x0E], true), None);
        assert_eq!(block(CoapOption::Block2, vec![0x26], true), None); // NUM 2
                                                                       // In responses to the client's own requests only a whole body is.
        assert_eq!(block(CoapOption::Block2, vec![0x26], false), Some(23)); // NUM 2
        assert_eq!(block(CoapOption::Block2, vec![0x0E], false), Some(23)); // more to come
        assert_eq!(block(CoapOption::Block2, vec![0x06], false), None);

        let mut q = p.clone();
        q.add_option(CoapOption::Accept, vec![0]); // second Accept (§5.4.5)
        assert_eq!(unrecognised_critical(&q, false), Some(17));

        let mut q = p.clone();
        q.add_option(CoapOption::Block1, vec![1, 2, 3, 4]); // too long (RFC 7959 §2.1)
        assert_eq!(unrecognised_critical(&q, false), Some(27));

        let mut q = p;
        q.add_option(CoapOption::UriHost, vec![]); // too short (§5.10.1)
        assert_eq!(unrecognised_critical(&q, false), Some(3));
    }
}
