//! `xtask lms-learner`: a learner who signs up in one of the local mapping's LMS accounts (the LMS
//! sandbox), with the library's own client and the account's local secret, as happens on a
//! platform that sends no webhooks. Only the daily batch's poll brings such a learner to GHL.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lms_ghl::domain::Email;
use lms_ghl::lms::{LearnerFields, LmsConfig};
use lms_ghl::mapping::{Mapping, Platform};
use lms_ghl::memory::MemorySecrets;

pub struct NewLearner {
    pub target: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

pub async fn run(learner: NewLearner) -> Result<()> {
    let mapping = Mapping::load(&crate::root().join(crate::provision::LOCAL_MAPPING))?;
    let Some(target) = mapping.targets.get(&learner.target) else {
        bail!(
            "{} has no target {:?}",
            crate::provision::LOCAL_MAPPING,
            learner.target
        );
    };
    let secrets = crate::provision::lms_secrets()?;
    let Some((id, secret)) = secrets.iter().find(|(id, _)| *id == target.secret_id) else {
        bail!("no local secret for target {}", learner.target);
    };
    let source: Arc<dyn lms_ghl::ports::SecretSource> =
        Arc::new(MemorySecrets::default().with(id, secrecy::ExposeSecret::expose_secret(secret)));
    let platform = *target.platform.get_ref();
    let base_url = match platform {
        Platform::Skilljar => "SKILLJAR_BASE_URL",
        Platform::Talentlms => "TALENTLMS_BASE_URL",
        Platform::Trainual => "TRAINUAL_BASE_URL",
        Platform::Outbound => bail!("target {} is an outbound destination, not an LMS", learner.target),
    };
    let config = LmsConfig {
        base_url: Some(crate::env_var(base_url)?),
        retry: Default::default(),
    };
    let account = lms_ghl::app::lms_account(
        platform,
        &config,
        reqwest::Client::new(),
        (source, id, Duration::from_secs(60)),
        &mut |_, _| Arc::new(lms_ghl::http::Unlimited),
    )?;
    let email = Email::try_from(learner.email.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let user = account
        .upsert_user(&LearnerFields {
            email,
            first_name: learner.first_name,
            last_name: learner.last_name,
            custom_fields: Default::default(),
        })
        .await
        .with_context(|| format!("creating {} in {}", learner.email, platform.as_str()))?;
    println!(
        "[lms-learner] {} is user {} in {} ({})",
        learner.email,
        user.id,
        learner.target,
        platform.as_str()
    );
    Ok(())
}
