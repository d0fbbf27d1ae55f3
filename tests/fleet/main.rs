//! The actor core end to end, through the public `Fleet` API on the simulated radio, in
//! virtual time with fixed seeds.

mod support;

mod connect;
mod faults;
mod reconnect;
mod slots;
mod stories;
