//! Integration tests of the SMS encoding: properties (round trips, part sizes, counting agrees with
//! splitting) and vectors computed by independent implementations. One test binary for the crate.

mod properties;
mod vectors;
