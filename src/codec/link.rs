//! Placeholder until the CoRE link-format codec lands.
