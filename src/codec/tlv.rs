//! Placeholder until the tlv codec lands; see the contract in `codec/mod.rs`.

use alloc::vec::Vec;

use super::CodecError;
use crate::model::Schema;
use crate::path::Path;
use crate::value::Instances;

pub fn decode(
    _target: &Path,
    _payload: &[u8],
    _schema: &dyn Schema,
) -> Result<Instances, CodecError> {
    Err(CodecError::Unsupported)
}

pub fn encode(_target: &Path, _content: &Instances) -> Result<Vec<u8>, CodecError> {
    Err(CodecError::Unsupported)
}
