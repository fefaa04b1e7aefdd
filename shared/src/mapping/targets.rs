//! `[targets.<name>]`: the LMS accounts a GHL location feeds (GHL → LMS), one table each: which
//! location, which contacts qualify, what a contact becomes there (fields, default courses, tag
//! rules), and what a deleted contact does to the learner.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::domain::{FieldRef, Membership, SourcePlatform};

/// An LMS account (or outbound destination) fed from a GHL location.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub platform: Spanned<Platform>,
    /// Secrets Manager id of the account's credentials (the outbound signing secret for
    /// `outbound`); shapes in `docs/lms-targets.md`.
    pub secret_id: String,
    /// The GHL location whose contacts feed this target.
    pub location_id: String,
    /// The slug this account's own webhooks arrive under (LMS → GHL), so that what it sends back
    /// about our writes is recognised; default: the platform's name.
    #[serde(default)]
    pub source: Option<String>,
    /// Which contacts become learners here; every contact when absent.
    #[serde(default)]
    pub qualify: Option<Qualify>,
    /// Courses every qualifying contact is enrolled in.
    #[serde(default)]
    pub default_courses: Vec<String>,
    /// LMS custom field key → the GHL custom field it is filled from.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldRef>,
    /// Tag → group / branch / role / subject.
    #[serde(default)]
    pub tag_rules: Vec<Spanned<TagGrant>>,
    /// What a contact deleted in GHL does to the learner (learning records are never deleted).
    #[serde(default)]
    pub on_delete: OnDelete,
    /// Which GHL contacts the daily batch's reconcile reads for this target.
    #[serde(default)]
    pub reconcile: ReconcileFilter,
}

/// `[targets.<name>.reconcile]`: the contact search of the daily reconcile. Without a `tag`, the
/// target's qualifying tag is used (a contact without it cannot become a learner here).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileFilter {
    #[serde(default)]
    pub tag: Option<String>,
    /// Only the contacts of this GHL business (company).
    #[serde(default)]
    pub business_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Skilljar,
    Talentlms,
    Trainual,
    /// A signed JSON document POSTed to a URL (TalkNotes and any app without an API of ours). The
    /// URL is in the target's secret, not here: a hook URL is often all a sender needs.
    Outbound,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Skilljar => "skilljar",
            Platform::Talentlms => "talentlms",
            Platform::Trainual => "trainual",
            Platform::Outbound => "outbound",
        }
    }

    /// The membership kinds a tag rule may grant on this platform.
    fn grants(self) -> &'static [&'static str] {
        match self {
            Platform::Skilljar => &["group"],
            Platform::Talentlms => &["group", "branch"],
            Platform::Trainual => &["role", "subject"],
            Platform::Outbound => &[],
        }
    }
}

/// A contact qualifies by a tag, or by a custom field holding a value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Qualify {
    Tag { tag: String },
    Field { field: FieldRef, value: String },
}

/// One tag rule: while a contact has `tag`, the learner has the membership; when the tag goes,
/// the membership goes too only if `remove_when_untagged` says so.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagGrant {
    pub tag: String,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub remove_when_untagged: bool,
}

impl TagGrant {
    /// The one membership the rule grants (validation checks there is exactly one).
    pub fn membership(&self) -> Option<Membership> {
        self.kinds().into_iter().next().map(|(_, m)| m)
    }

    fn kinds(&self) -> Vec<(&'static str, Membership)> {
        [
            ("group", self.group.clone().map(Membership::Group)),
            ("branch", self.branch.clone().map(Membership::Branch)),
            ("role", self.role.clone().map(Membership::Role)),
            ("subject", self.subject.clone().map(Membership::Subject)),
        ]
        .into_iter()
        .filter_map(|(kind, m)| m.map(|m| (kind, m)))
        .collect()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDelete {
    /// The learner stays as they are.
    #[default]
    Leave,
    /// The learner is deactivated (never deleted).
    Deactivate,
}

impl Target {
    /// The slug this account's own webhooks arrive under.
    pub fn source(&self) -> &str {
        self.source
            .as_deref()
            .unwrap_or_else(|| self.platform.get_ref().as_str())
    }

    /// Checks what serde cannot; `at` turns a span into a line number.
    pub(super) fn validate(
        &self,
        name: &str,
        at: impl Fn(std::ops::Range<usize>) -> usize,
    ) -> Result<(), String> {
        let platform = *self.platform.get_ref();
        let line = at(self.platform.span());
        let problem = |what: String| Err(format!("line {line}: [targets.{name}] {what}"));
        if self.secret_id.trim().is_empty() || self.location_id.trim().is_empty() {
            return problem("needs a secret_id and a location_id".into());
        }
        if platform == Platform::Outbound && (!self.default_courses.is_empty() || !self.tag_rules.is_empty())
        {
            return problem("is outbound: default_courses and tag_rules have no meaning there".into());
        }
        if platform == Platform::Trainual && !self.default_courses.is_empty() {
            return problem(
                "is trainual: it has no course enrollment; assign subjects with tag_rules".into(),
            );
        }
        if SourcePlatform::try_from(self.source().to_owned()).is_err() {
            return problem("source must be a slug of a-z, 0-9, '-' or '_'".into());
        }
        if self.default_courses.iter().any(|c| c.trim().is_empty()) {
            return problem("default_courses must not hold empty ids".into());
        }
        for rule in &self.tag_rules {
            let rule_line = at(rule.span());
            let kinds = rule.get_ref().kinds();
            let allowed = platform.grants();
            if rule.get_ref().tag.trim().is_empty() {
                return Err(format!("line {rule_line}: a tag rule needs a tag"));
            }
            match kinds.as_slice() {
                [(kind, _)] if allowed.contains(kind) => {}
                [(kind, _)] => {
                    return Err(format!(
                        "line {rule_line}: {} cannot grant a {kind}; it grants: {}",
                        platform.as_str(),
                        if allowed.is_empty() {
                            "nothing".to_owned()
                        } else {
                            allowed.join(", ")
                        }
                    ));
                }
                _ => {
                    return Err(format!(
                        "line {rule_line}: a tag rule grants exactly one of {}",
                        allowed.join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}
