//! Block-wise transfer on the client side of our own requests (RFC 7959), sans-I/O, between
//! the LwM2M layers and the [`Endpoint`]: a request body longer than the block size goes out
//! in Block1 blocks, one after the other as each is answered 2.31 Continue, and a response
//! that comes in Block2 blocks is fetched block by block and handed up whole. The layers above
//! see one request and one response, as if neither were cut.
//!
//! A request stays here (with its packet, to cut the next block or to ask for the next
//! response block) until its final response or its failure. Nothing here reads a clock: the
//! endpoint does the retransmissions of each block.

use alloc::vec::Vec;

use super::Block;
use crate::coap::message::option;
use crate::coap::message_buf::MessageBuf;
use crate::coap::{msg, Endpoint, ExchangeId, Failure};
use crate::peer::PeerId;

/// How the response body is handed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reassemble {
    /// Put Block2 blocks together; the layer above sees the whole body.
    Whole,
    /// Hand each response up as it is, Block2 option and all (the layer above asks for the
    /// next block itself, e.g. a firmware download streamed to storage).
    Blocks,
}

/// What bounds our requests and the responses they get.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// The block size for request bodies and the largest response block asked for; `None`
    /// sends bodies whole.
    pub(crate) block_size: Option<usize>,
    /// The largest whole response body put together.
    pub(crate) response_limit: usize,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestFailure {
    /// The CoAP layer gave up on one of its messages (timeout or RST).
    Transport(Failure),
    /// The response blocks could not be put together (the body changed between blocks, a block
    /// out of place, or more than the limit); the text says which.
    Blocks(&'static str),
}

/// What became of a request after a response to one of its messages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// Not a request of ours (anymore): ignore the response.
    Unknown,
    /// The next block went out; nothing to hand up yet.
    Pending,
    /// The final response, its body whole, for the request known as `id`.
    Done {
        /// The id [`BlockRequests::send`] returned.
        id: ExchangeId,
        /// The response.
        response: MessageBuf,
    },
    /// The request known as `id` failed.
    Failed {
        /// The id [`BlockRequests::send`] returned.
        id: ExchangeId,
        /// Why.
        reason: RequestFailure,
    },
}

#[derive(Debug, Clone)]
enum Phase {
    /// Sending the body: the block in flight.
    Sending(Block),
    /// Receiving the response body: the first response (its options), the bytes so far and
    /// the block in flight.
    Receiving {
        first: MessageBuf,
        body: Vec<u8>,
        asked: Block,
    },
}

#[derive(Debug, Clone)]
struct Transfer {
    /// The id the layer above knows (that of the first message).
    id: ExchangeId,
    /// The message in flight.
    current: ExchangeId,
    peer: PeerId,
    /// The request as the layer above built it, whole.
    request: MessageBuf,
    reassemble: Reassemble,
    phase: Phase,
    /// Whether a 4.13 already made us restart with smaller blocks (RFC 7959 §2.9.3); once only.
    shrunk: bool,
}

/// Our requests in flight.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockRequests {
    transfers: Vec<Transfer>,
}

impl BlockRequests {
    /// Gives back the room of finished transfers once none is left.
    pub(crate) fn trim(&mut self) {
        if self.transfers.is_empty() {
            self.transfers = Vec::new();
        }
    }

    /// Sends `request` to `peer`, in Block1 blocks when its body is longer than the block
    /// size (RFC 7959 §2.3, with Size1 announcing the whole, §4). The id stands for the whole
    /// request in [`Outcome`]s.
    pub(crate) fn send(
        &mut self,
        ep: &mut Endpoint<PeerId>,
        now: u64,
        peer: PeerId,
        request: MessageBuf,
        sizes: Sizes,
        reassemble: Reassemble,
    ) -> ExchangeId {
        let cut = sizes
            .block_size
            .filter(|size| request.payload.len() > *size)
            .map(|size| Block {
                num: 0,
                more: true,
                szx: super::szx_for(size),
            });
        let (id, phase) = match cut {
            Some(first) => {
                let (packet, block) = block1_packet(&request, first);
                (
                    ep.request_message(now, peer, &packet, true),
                    Phase::Sending(block),
                )
            }
            // The request goes out whole; it is kept for a Block2 answer.
            None => (
                ep.request_message(now, peer, &request, true),
                Phase::Sending(WHOLE),
            ),
        };
        let transfer = Transfer {
            id,
            current: id,
            peer,
            request,
            reassemble,
            phase,
            shrunk: false,
        };
        // Usually the only one in flight: room for one (a Vec's first growth makes room for
        // four, 700 bytes; issue 15).
        self.transfers.reserve_exact(1);
        self.transfers.push(transfer);
        id
    }

    /// A response arrived for one of our messages.
    pub(crate) fn on_response(
        &mut self,
        ep: &mut Endpoint<PeerId>,
        now: u64,
        current: ExchangeId,
        response: MessageBuf,
        sizes: Sizes,
    ) -> Outcome {
        let Some(at) = self.transfers.iter().position(|t| t.current == current) else {
            return Outcome::Unknown;
        };
        let mut transfer = self.transfers.swap_remove(at);
        let id = transfer.id;
        match transfer.step(ep, now, response, sizes) {
            Step::Sent(next) => {
                transfer.current = next;
                self.transfers.push(transfer);
                Outcome::Pending
            }
            Step::Done(response) => Outcome::Done { id, response },
            Step::Failed(why) => Outcome::Failed {
                id,
                reason: RequestFailure::Blocks(why),
            },
        }
    }

    /// One of our messages failed: the request it belongs to fails. `None` for a message that
    /// is not one of ours.
    pub(crate) fn on_failure(&mut self, current: ExchangeId) -> Option<ExchangeId> {
        let at = self.transfers.iter().position(|t| t.current == current)?;
        Some(self.transfers.swap_remove(at).id)
    }

    /// Abandons the request known as `id`: its message in flight is cancelled.
    pub(crate) fn cancel(&mut self, ep: &mut Endpoint<PeerId>, id: ExchangeId) {
        if let Some(at) = self.transfers.iter().position(|t| t.id == id) {
            let transfer = self.transfers.swap_remove(at);
            ep.cancel(transfer.current);
        }
    }

    /// Forgets every request to `peer` (the endpoint forgot the peer too).
    pub(crate) fn forget_peer(&mut self, peer: PeerId) {
        self.transfers.retain(|t| t.peer != peer);
    }

    /// How many requests are in flight.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.transfers.len()
    }
}

/// The phase of a request sent whole (no Block1 option went out).
const WHOLE: Block = Block {
    num: 0,
    more: false,
    szx: 6,
};

/// The Block1 block `block` of `request`'s body, with Size1 on the first (RFC 7959 §4: it
/// announces the size of the whole body); M is set from where the block ends.
fn block1_packet(request: &MessageBuf, block: Block) -> (MessageBuf, Block) {
    let total = request.payload.len();
    let start = block.offset().min(total);
    let end = start.saturating_add(block.size()).min(total);
    let block = Block {
        more: end < total,
        ..block
    };
    let mut packet = request.without_payload();
    packet.payload = request.payload.get(start..end).unwrap_or(&[]).to_vec();
    packet.add(option::BLOCK1, &block.encode());
    if block.num == 0 {
        packet.add_uint(option::SIZE1, u32::try_from(total).unwrap_or(u32::MAX));
    }
    (packet, block)
}

/// The Block1 or Block2 option of a response: `None` without one, `Some(None)` if malformed
/// (as `blockwise::block_option` reads a `Packet`'s).
pub(crate) fn response_block(response: &MessageBuf, number: u16) -> Option<Option<Block>> {
    super::block_in(response.values(number).next())
}

/// What one response led to.
enum Step {
    Sent(ExchangeId),
    Done(MessageBuf),
    Failed(&'static str),
}

impl Transfer {
    /// Sends the Block1 block `block` of the request body.
    fn send_block1(&mut self, ep: &mut Endpoint<PeerId>, now: u64, block: Block) -> ExchangeId {
        let (packet, block) = block1_packet(&self.request, block);
        self.phase = Phase::Sending(block);
        ep.request_message(now, self.peer, &packet, true)
    }

    /// Asks for the response block `block` (RFC 7959 §2.4): the request again, with Block2
    /// and without its body (§2.7: once the body is sent, later requests carry Block2 only).
    fn ask_block2(&mut self, ep: &mut Endpoint<PeerId>, now: u64, block: Block) -> ExchangeId {
        let mut packet = self.request.without_payload();
        packet.remove(option::BLOCK1);
        packet.remove(option::SIZE1);
        packet.remove(option::BLOCK2);
        packet.add(option::BLOCK2, &block.encode());
        ep.request_message(now, self.peer, &packet, true)
    }

    fn step(
        &mut self,
        ep: &mut Endpoint<PeerId>,
        now: u64,
        response: MessageBuf,
        sizes: Sizes,
    ) -> Step {
        match core::mem::replace(&mut self.phase, Phase::Sending(WHOLE)) {
            Phase::Sending(sent) => self.after_block1(ep, now, sent, response, sizes),
            Phase::Receiving { first, body, asked } => {
                self.after_block2(ep, now, (first, body, asked), response, sizes)
            }
        }
    }

    /// The answer to a Block1 block (or to the whole request).
    fn after_block1(
        &mut self,
        ep: &mut Endpoint<PeerId>,
        now: u64,
        sent: Block,
        response: MessageBuf,
        sizes: Sizes,
    ) -> Step {
        let code = response.code;
        let echoed = response_block(&response, option::BLOCK1).flatten();
        if code == msg::CONTINUE && sent.more {
            // RFC 7959 §2.3: the server may ask for smaller blocks in its Block1; the next
            // block starts where this one ended, at the size it asked for.
            let szx = echoed.map_or(sent.szx, |b| b.szx.min(sent.szx));
            let offset = sent.offset().saturating_add(sent.size());
            let num = u32::try_from(offset / (16usize << szx)).unwrap_or(u32::MAX);
            let next = Block {
                num,
                more: true,
                szx,
            };
            return Step::Sent(self.send_block1(ep, now, next));
        }
        // RFC 7959 §2.9.3: 4.13 may name, in Block1, a block size the server can take: start
        // again with it (once).
        if code == msg::REQUEST_ENTITY_TOO_LARGE && !self.shrunk && sent.num == 0 {
            if let Some(smaller) = echoed.filter(|b| b.szx < sent.szx) {
                self.shrunk = true;
                let first = Block {
                    num: 0,
                    more: true,
                    szx: smaller.szx,
                };
                return Step::Sent(self.send_block1(ep, now, first));
            }
        }
        self.response_body(ep, now, response, sizes)
    }

    /// The final answer to the request: whole, or its first Block2 block.
    fn response_body(
        &mut self,
        ep: &mut Endpoint<PeerId>,
        now: u64,
        response: MessageBuf,
        sizes: Sizes,
    ) -> Step {
        if self.reassemble == Reassemble::Blocks {
            return Step::Done(response);
        }
        match response_block(&response, option::BLOCK2) {
            None => Step::Done(response),
            Some(None) => Step::Failed("malformed Block2 option in the response"),
            Some(Some(block)) if block.num != 0 => {
                Step::Failed("the response began with a block other than the first")
            }
            Some(Some(block)) => {
                let body = response.payload.clone();
                self.take_block2((response, body, block), ep, now, block, sizes)
            }
        }
    }

    /// A later Block2 block of the response.
    fn after_block2(
        &mut self,
        ep: &mut Endpoint<PeerId>,
        now: u64,
        (first, mut body, asked): (MessageBuf, Vec<u8>, Block),
        response: MessageBuf,
        sizes: Sizes,
    ) -> Step {
        if response.code != first.code {
            // An error half way (e.g. 4.08 because the server dropped the body): it is the
            // answer now.
            return Step::Done(response);
        }
        // RFC 7959 §2.4: the body changed between blocks when the ETag did.
        if !response.values(option::ETAG).eq(first.values(option::ETAG)) {
            return Step::Failed("the response changed between its blocks (ETag)");
        }
        let Some(Some(block)) = response_block(&response, option::BLOCK2) else {
            return Step::Failed("a response block without a valid Block2 option");
        };
        if block.offset() != asked.offset() || block.offset() != body.len() {
            return Step::Failed("a response block out of place");
        }
        body.extend_from_slice(&response.payload);
        self.take_block2((first, body, asked), ep, now, block, sizes)
    }

    /// `block` was added to `body`: ask for the next or finish.
    fn take_block2(
        &mut self,
        (first, body, _): (MessageBuf, Vec<u8>, Block),
        ep: &mut Endpoint<PeerId>,
        now: u64,
        block: Block,
        sizes: Sizes,
    ) -> Step {
        if body.len() > sizes.response_limit {
            return Step::Failed("the response body exceeds the response limit");
        }
        if block.more && block.size() != body.len().saturating_sub(block.offset()) {
            return Step::Failed("a response block before the last is not full");
        }
        if !block.more {
            let mut whole = first;
            whole.remove(option::BLOCK2);
            whole.payload = body;
            return Step::Done(whole);
        }
        // Our own block size if smaller (RFC 7959 §2.4: a later request may ask for less).
        let szx = sizes
            .block_size
            .map_or(block.szx, |s| super::szx_for(s).min(block.szx));
        let num = u32::try_from(body.len() / (16usize << szx)).unwrap_or(u32::MAX);
        let asked = Block {
            num,
            more: false,
            szx,
        };
        let next = self.ask_block2(ep, now, asked);
        let mut first = first;
        first.payload.clear();
        self.phase = Phase::Receiving { first, body, asked };
        Step::Sent(next)
    }
}

#[cfg(test)]
mod tests;
