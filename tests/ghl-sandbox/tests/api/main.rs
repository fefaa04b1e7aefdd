//! The sandbox exercised over real HTTP, as a GHL client would.

mod auth;
mod binary;
mod children;
mod common;
mod contacts;
mod faults;
mod limits;
mod oauth;
mod objects;
mod search;
mod webhooks;
