use async_trait::async_trait;
use secrecy::SecretString;

use super::describe;
use crate::ports::{PortError, SecretSource};

#[derive(Clone, Debug)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl SecretSource for SecretsManager {
    async fn secret_string(&self, id: &str) -> Result<SecretString, PortError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| PortError::new("secrets", format!("reading {id}: {}", describe(&e))))?;
        output
            .secret_string
            .map(SecretString::from)
            .ok_or_else(|| PortError::new("secrets", format!("{id} has no SecretString")))
    }

    async fn put_secret_string(&self, id: &str, value: &SecretString) -> Result<(), PortError> {
        use secrecy::ExposeSecret;
        self.client
            .put_secret_value()
            .secret_id(id)
            .secret_string(value.expose_secret())
            .send()
            .await
            .map_err(|e| PortError::new("secrets", format!("writing {id}: {}", describe(&e))))?;
        Ok(())
    }
}
