//! `xtask ghl-contact`: a contact created and then tagged in GHL (the sandbox, or the real one) with
//! the library's own client and the local run's Private Integration Token, as someone working in
//! GHL would. With the sandbox's webhooks pointed at `ghl-events`, this is the start of GHL → LMS.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use lms_ghl::ghl::auth::GhlCredentials;
use lms_ghl::ghl::{
    ContactFields, Created, Credentials, GhlClient, GhlConfig, GhlError, Idempotence, LocationAuth,
};
use secrecy::SecretString;

pub struct NewContact {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub tags: Vec<String>,
}

/// The token and location of `provision`'s GHL secret, handed to the client as they are.
struct LocalToken(LocationAuth);

#[async_trait::async_trait]
impl Credentials for LocalToken {
    async fn location_auth(&self) -> Result<LocationAuth, GhlError> {
        Ok(self.0.clone())
    }
}

pub async fn run(contact: NewContact) -> Result<()> {
    let secret: SecretString = crate::provision::ghl_secret()?;
    let credentials: GhlCredentials = lms_ghl::secrets::parse_secret("the local GHL secret", &secret)?;
    let location = credentials.location_id.clone();
    let config = GhlConfig {
        base_url: crate::env_var("GHL_BASE_URL")?,
        ..GhlConfig::default()
    };
    let auth = LocationAuth {
        location_id: credentials.location_id,
        token: credentials.private_integration_token,
    };
    let client = GhlClient::new(
        &config,
        Arc::new(LocalToken(auth)),
        Arc::new(lms_ghl::ghl::Unlimited),
    )
    .context("building the GHL client")?;

    let fields = ContactFields {
        email: Some(contact.email.clone()),
        first_name: contact.first_name,
        last_name: contact.last_name,
        ..ContactFields::default()
    };
    let id = match client
        .create_contact(&fields, Idempotence::NotIdempotent)
        .await
        .with_context(|| format!("creating the contact {} in location {location}", contact.email))?
    {
        Created::New(id) => id,
        Created::Existing(id) => bail!(
            "location {location} already has a contact with {} ({id}); use another email",
            contact.email
        ),
    };
    println!("created contact {id} ({}) in location {location}", contact.email);
    if !contact.tags.is_empty() {
        client
            .add_tags(&id, &contact.tags)
            .await
            .with_context(|| format!("tagging contact {id}"))?;
        println!("tagged contact {id}: {}", contact.tags.join(", "));
    }
    Ok(())
}
