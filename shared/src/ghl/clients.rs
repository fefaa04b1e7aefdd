//! One client per GHL location a deployment writes to. The mapping says which location each LMS
//! account (provider) feeds; events of providers it does not place go to the first location.

use std::collections::HashMap;

use super::client::GhlClient;
use super::error::GhlError;

#[derive(Clone)]
pub struct GhlClients {
    default_location: String,
    by_location: HashMap<String, GhlClient>,
}

impl GhlClients {
    /// The first client's location is the default.
    pub async fn new(clients: Vec<GhlClient>) -> Result<Self, GhlError> {
        let mut by_location = HashMap::new();
        let mut default_location = None;
        for client in clients {
            let location_id = client.location_id().await?;
            default_location.get_or_insert_with(|| location_id.clone());
            if by_location.insert(location_id.clone(), client).is_some() {
                return Err(GhlError::CredentialsInvalid(format!(
                    "two GHL secrets are for location {location_id}"
                )));
            }
        }
        let default_location = default_location
            .ok_or_else(|| GhlError::CredentialsInvalid("no GHL credentials configured".into()))?;
        Ok(Self {
            default_location,
            by_location,
        })
    }

    /// A single location known up front (no call to the credentials).
    pub fn single(location_id: &str, client: GhlClient) -> Self {
        Self {
            default_location: location_id.to_owned(),
            by_location: HashMap::from([(location_id.to_owned(), client)]),
        }
    }

    /// The client for `location_id`, or the default one when the mapping names none.
    pub fn for_location(&self, location_id: Option<&str>) -> Result<&GhlClient, GhlError> {
        let location_id = location_id.unwrap_or(&self.default_location);
        self.by_location.get(location_id).ok_or_else(|| {
            GhlError::CredentialsInvalid(format!("no GHL credentials for location {location_id}"))
        })
    }

    pub fn locations(&self) -> impl Iterator<Item = (&str, &GhlClient)> {
        self.by_location.iter().map(|(id, client)| (id.as_str(), client))
    }
}
