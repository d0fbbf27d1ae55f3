//! The Supervisor.

pub mod radio_choice;
