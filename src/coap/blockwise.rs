//! Block-wise transfer on the server side of the client (RFC 7959), sans-I/O: a request body
//! that comes in Block1 blocks is put back together before the LwM2M layers see it (they see
//! one whole request, never a fragment), and an answer larger than the block size goes out in
//! Block2 blocks, each cut from the answer built anew for its request (stateless, RFC 7959
//! §2.4), with an ETag so that the peer sees when the body changed between blocks.

use alloc::vec::Vec;

use coap_lite::{CoapOption, Packet};

use crate::coap::msg;
use crate::peer::PeerId;
use crate::request::{Reply, Request};

pub(crate) mod requests;

/// A Block1 or Block2 option value (RFC 7959 §2.2): block number, more flag, size exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    /// NUM: which block (offset = NUM * size).
    pub(crate) num: u32,
    /// M: more blocks follow (Block1 in a request, Block2 in a response).
    pub(crate) more: bool,
    /// SZX: the size is 2^(SZX+4) bytes, 16 to 1024; 7 is reserved.
    pub(crate) szx: u8,
}

impl Block {
    /// The block size in bytes.
    pub(crate) const fn size(self) -> usize {
        16 << self.szx
    }

    /// The byte offset of this block.
    pub(crate) fn offset(self) -> usize {
        usize::try_from(self.num)
            .unwrap_or(usize::MAX)
            .saturating_mul(self.size())
    }

    /// Parses an option value: 0 to 3 bytes, `NUM << 4 | M << 3 | SZX`. `None` for a longer one
    /// or the reserved SZX 7 (RFC 7959 §2.2: "MUST NOT be used").
    pub(crate) fn parse(value: &[u8]) -> Option<Block> {
        if value.len() > 3 {
            return None;
        }
        let v = value.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
        let szx = (v & 0x07) as u8;
        (szx != 7).then_some(Block {
            num: v >> 4,
            more: v & 0x08 != 0,
            szx,
        })
    }

    /// The option value, in as few bytes as it needs (NUM is at most 20 bits).
    pub(crate) fn encode(self) -> Vec<u8> {
        let v = ((self.num & 0x000F_FFFF) << 4) | (u32::from(self.more) << 3) | u32::from(self.szx);
        msg::encode_uint(v)
    }
}

/// The Block option `which` of `packet`: `None` without one, `Some(None)` for one that is
/// malformed. An option list emptied by `Packet::clear_option` counts as none.
#[cfg(any(test, feature = "testkit"))]
pub(crate) fn block_option(packet: &Packet, which: CoapOption) -> Option<Option<Block>> {
    let value = packet.get_option(which)?.front()?;
    Some(Block::parse(value))
}

/// The same for the first value of a Block option as a message carries it (`None`: no such
/// option).
pub(crate) fn block_in(value: Option<&[u8]>) -> Option<Option<Block>> {
    value.map(Block::parse)
}

/// The size exponent for a block size in bytes (rounded down to a power of two, 16..=1024).
pub(crate) const fn szx_for(size: usize) -> u8 {
    let mut szx = 6u8;
    while szx > 0 && (16usize << szx) > size {
        szx -= 1;
    }
    szx
}

/// One request body being received in blocks, from a peer known as `P`.
#[derive(Debug, Clone)]
struct Transfer<P> {
    peer: P,
    /// What identifies the request across its blocks (RFC 7959 §2.3: the request URI and
    /// method; the token may change from block to block).
    key: (
        u8,
        Result<crate::path::Path, crate::path::PathError>,
        bool,
        Vec<alloc::string::String>,
        Option<u16>,
    ),
    body: Vec<u8>,
    /// When it is given up if no block comes (EXCHANGE_LIFETIME after the last one).
    expires: u64,
}

/// What to do with a request carrying Block1.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block1Outcome {
    /// More blocks are to come: answer 2.31 Continue (with the Block1 option echoed).
    Continue,
    /// This was the last block: the whole body, to handle as one request.
    Complete(Vec<u8>),
    /// Refused; nothing is kept.
    Refuse(Reply),
}

/// The request bodies being received, bounded in number and size. `P` names peers: the
/// client's `PeerId`, or a socket address for the testkit servers.
#[derive(Debug, Clone)]
pub(crate) struct Reassembly<P = PeerId> {
    transfers: Vec<Transfer<P>>,
}

impl<P> Default for Reassembly<P> {
    fn default() -> Self {
        Reassembly {
            transfers: Vec::new(),
        }
    }
}

/// Most bodies received at once; a new one beyond replaces the oldest (RFC 7959 §2.3 lets a
/// server drop the state of a transfer, which then gets 4.08).
const MAX_TRANSFERS: usize = 4;

/// What bounds a transfer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// How long a transfer waits for its next block (EXCHANGE_LIFETIME).
    pub(crate) lifetime_ms: u64,
    /// The largest whole body accepted (4.13 with Size1 beyond, RFC 7959 §2.9.3, also when
    /// the Size1 the peer announces is larger).
    pub(crate) limit: usize,
}

impl<P: Copy + PartialEq> Reassembly<P> {
    /// Takes one block of `req` from `peer`; `size1` is the Size1 option it carried.
    pub(crate) fn accept(
        &mut self,
        now: u64,
        bounds: Bounds,
        peer: P,
        req: &Request,
        block: Block,
        size1: Option<u32>,
    ) -> Block1Outcome {
        let Bounds { lifetime_ms, limit } = bounds;
        self.transfers.retain(|t| t.expires > now);
        let key = (
            req.method,
            req.path.clone(),
            req.bs,
            req.queries.clone(),
            req.content_format,
        );
        let at = self
            .transfers
            .iter()
            .position(|t| t.peer == peer && t.key == key);
        // RFC 7959 §2.3: every block but the last is exactly the block size.
        if block.more && req.payload.len() != block.size() {
            return Block1Outcome::Refuse(Reply::error(
                msg::BAD_REQUEST,
                "a block before the last must fill its block size",
            ));
        }
        if size1.is_some_and(|s| usize::try_from(s).map_or(true, |s| s > limit)) {
            if let Some(i) = at {
                self.transfers.remove(i);
            }
            return Block1Outcome::Refuse(Reply::too_large(limit));
        }
        let offset = block.offset();
        let mut transfer = match (block.num, at) {
            (0, Some(i)) => {
                // A new first block restarts the transfer.
                let mut t = self.transfers.remove(i);
                t.body.clear();
                t
            }
            (0, None) => Transfer {
                peer,
                key,
                body: Vec::new(),
                expires: 0,
            },
            (_, Some(i)) => {
                let Some(t) = self.transfers.get(i) else {
                    return Block1Outcome::Refuse(Reply::code(msg::INTERNAL_SERVER_ERROR));
                };
                let end = offset.saturating_add(req.payload.len());
                // The block just received again (a retransmission with a new Message ID):
                // answered as before, nothing appended.
                if end == t.body.len() && t.body.get(offset..) == Some(req.payload.as_slice()) {
                    return match block.more {
                        true => Block1Outcome::Continue,
                        false => Block1Outcome::Refuse(Reply::error(
                            msg::REQUEST_ENTITY_INCOMPLETE,
                            "the transfer already ended",
                        )),
                    };
                }
                if offset != t.body.len() {
                    self.transfers.remove(i);
                    return Block1Outcome::Refuse(Reply::error(
                        msg::REQUEST_ENTITY_INCOMPLETE,
                        alloc::format!("block {} does not follow the blocks received", block.num),
                    ));
                }
                self.transfers.remove(i)
            }
            (_, None) => {
                return Block1Outcome::Refuse(Reply::error(
                    msg::REQUEST_ENTITY_INCOMPLETE,
                    "no transfer in progress for this block",
                ))
            }
        };
        if transfer.body.len().saturating_add(req.payload.len()) > limit {
            return Block1Outcome::Refuse(Reply::too_large(limit));
        }
        transfer.body.extend_from_slice(&req.payload);
        if !block.more {
            return Block1Outcome::Complete(transfer.body);
        }
        transfer.expires = now.saturating_add(lifetime_ms);
        if self.transfers.len() >= MAX_TRANSFERS {
            self.transfers.remove(0);
        }
        self.transfers.push(transfer);
        Block1Outcome::Continue
    }

    /// Drops every transfer from `peer` (its account went away).
    pub(crate) fn forget_peer(&mut self, peer: P) {
        self.transfers.retain(|t| t.peer != peer);
    }
}

/// An ETag for a body (RFC 7252 §5.10.6): 4 bytes of FNV-1a, enough for a peer to see that the
/// body changed between two blocks.
pub(crate) fn etag(body: &[u8]) -> Vec<u8> {
    let h = body.iter().fold(0x811C_9DC5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    });
    h.to_be_bytes().to_vec()
}

/// Cuts the block `wanted` asks for (or the first, of `szx`) out of `packet`'s payload and
/// sets its Block2 and ETag options (RFC 7959 §2.4). The block is `min(asked, ours)` bytes;
/// a smaller size than asked keeps the asked offset. `Err` with the reply for a block past
/// the end (4.02 Bad Option).
pub(crate) fn cut_block2(packet: &mut Packet, wanted: Option<Block>, szx: u8) -> Result<(), Reply> {
    let size_szx = wanted.map_or(szx, |w| w.szx.min(szx));
    let size = 16usize << size_szx;
    let offset = wanted.map_or(0, Block::offset);
    let total = packet.payload.len();
    if offset >= total && !(offset == 0 && total == 0) {
        return Err(Reply::error(
            msg::BAD_OPTION,
            "block beyond the end of the body",
        ));
    }
    let end = offset.saturating_add(size).min(total);
    let tag = etag(&packet.payload);
    let body = packet.payload.get(offset..end).unwrap_or(&[]).to_vec();
    let block = Block {
        num: u32::try_from(offset / size).unwrap_or(u32::MAX),
        more: end < total,
        szx: size_szx,
    };
    packet.payload = body;
    packet.add_option(CoapOption::ETag, tag);
    packet.add_option(CoapOption::Block2, block.encode());
    Ok(())
}

#[cfg(test)]
mod tests;
