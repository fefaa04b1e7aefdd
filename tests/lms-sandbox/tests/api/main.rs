//! The sandbox exercised over real HTTP, as the LMS clients will call it.

mod binary;
mod common;
mod edge;
mod skilljar;
mod talentlms;
mod trainual;
