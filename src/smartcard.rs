//! Bootstrap from Smartcard (Core 1.1 §5.2.3.2): a provisioning source hands the client
//! bootstrap information, which is applied exactly like Bootstrap-Writes followed by a
//! Bootstrap-Finish. The client asks again before every Register and Update; when the data is
//! gone, everything it provisioned is removed.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::bootstrap::{self, Session};
use crate::coap::msg;
use crate::codec::ContentFormat;
use crate::path::Path;
use crate::store::Store;

/// One write of the smartcard's bootstrap information: like a Bootstrap-Write on `path`
/// (`/O`, `/O/I` or `/O/I/R`) in TLV or SenML CBOR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmartcardWrite {
    /// Where the write goes: `/O`, `/O/I` or `/O/I/R`.
    pub path: Path,
    /// The payload's format: TLV or SenML CBOR.
    pub format: ContentFormat,
    /// The encoded write, as a Bootstrap-Write request would carry it.
    pub payload: Vec<u8>,
}

/// A source of smartcard bootstrap data (a SIM applet, a secure element, a file in tests).
pub trait Smartcard {
    /// The bootstrap information currently on the card, or `None` if there is no card or no
    /// data. Called at start and before every Register and Update, so keep it cheap.
    fn bootstrap_data(&mut self) -> Option<Vec<SmartcardWrite>>;
}

/// What applying the card's data produced.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The configuration with the card's data committed.
    pub store: Store,
    /// Instances the card wrote, removed again when the card's data goes away.
    pub instances: BTreeSet<(u16, u16)>,
}

/// Applies the card's writes to a copy of `store` and runs the Bootstrap-Finish check.
pub fn apply(
    store: &Store,
    writes: &[SmartcardWrite],
    max_instances: usize,
) -> Result<Provisioned, String> {
    let mut session = Session::begin(store);
    let before: BTreeSet<(u16, u16)> = instances_of(store);
    for w in writes {
        if !matches!(
            w.format,
            ContentFormat::Tlv | ContentFormat::SenmlCbor | ContentFormat::SenmlJson
        ) {
            return Err(format!(
                "smartcard write to {} uses an unsupported format",
                w.path
            ));
        }
        let r = bootstrap::write(
            &mut session,
            &w.path,
            Ok(w.format),
            &w.payload,
            max_instances,
        );
        if !r.is_success() {
            let why = String::from_utf8_lossy(&r.payload).into_owned();
            return Err(format!(
                "smartcard write to {} refused ({}): {why}",
                w.path,
                msg::code_string(r.code)
            ));
        }
    }
    let problems = bootstrap::validate(session.staged());
    if !problems.is_empty() {
        return Err(format!(
            "smartcard configuration inconsistent: {}",
            problems.join("; ")
        ));
    }
    let after = instances_of(session.staged());
    let instances = after.difference(&before).copied().collect();
    let (store, _) = session.result_over(store);
    Ok(Provisioned { store, instances })
}

fn instances_of(store: &Store) -> BTreeSet<(u16, u16)> {
    store
        .object_ids()
        .filter(|o| *o <= crate::model::oid::ACCESS_CONTROL)
        .flat_map(|o| store.instance_ids(o).into_iter().map(move |i| (o, i)))
        .collect()
}
