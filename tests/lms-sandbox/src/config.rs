//! What a sandbox starts with, per platform: credentials, the catalogue learners are enrolled in
//! or granted (domains and courses, groups, branches, roles, subjects, custom fields), the rate
//! limit and the faults. Everything has a default so that a test names only what it cares about.

use std::fmt;
use std::time::Duration;

pub use ghl_sandbox::{FaultConfig, Latency};

/// The Skilljar API key of `SandboxConfig::default()` (HTTP Basic user name, empty password).
pub const DEFAULT_SKILLJAR_API_KEY: &str = "sk-local-demo-key";
/// The Skilljar domain of `SandboxConfig::default()`.
pub const DEFAULT_SKILLJAR_DOMAIN: &str = "demo.skilljar.com";
/// The TalentLMS API key of `SandboxConfig::default()` (`X-API-Key`, and the v1 Basic user name).
pub const DEFAULT_TALENTLMS_API_KEY: &str = "tl-local-demo-key";
/// The Trainual account of `SandboxConfig::default()` (HTTP Basic).
pub const DEFAULT_TRAINUAL_USERNAME: &str = "trainual-local@example.com";
pub const DEFAULT_TRAINUAL_PASSWORD: &str = "tr-local-demo-password";

/// One of the imitated platforms; all three are served on one port under their own prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Skilljar,
    TalentLms,
    Trainual,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Skilljar, Platform::TalentLms, Platform::Trainual];

    /// `skilljar`, `talentlms`, `trainual`: the slugs the project's LMS clients use.
    pub fn slug(self) -> &'static str {
        match self {
            Platform::Skilljar => "skilljar",
            Platform::TalentLms => "talentlms",
            Platform::Trainual => "trainual",
        }
    }

    /// Where the platform's real base URL is mounted: `https://api.skilljar.com/v1` →
    /// `/skilljar/v1`, `https://<domain>.talentlms.com` → `/talentlms` (its APIs live under
    /// `/api/v2` and `/api/v1` below that), `https://api.trainual.com/v1` → `/trainual/v1`.
    /// Paths in `PlatformStats` are relative to it.
    pub fn base_path(self) -> &'static str {
        match self {
            Platform::Skilljar => "/skilljar/v1",
            Platform::TalentLms => "/talentlms",
            Platform::Trainual => "/trainual/v1",
        }
    }

    /// The platform whose prefix the path starts with.
    pub fn of_path(path: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| {
            let mount = p.mount();
            path.strip_prefix(mount)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// `/skilljar`, `/talentlms`, `/trainual`: everything under it belongs to the platform.
    pub(crate) fn mount(self) -> &'static str {
        match self {
            Platform::Skilljar => "/skilljar",
            Platform::TalentLms => "/talentlms",
            Platform::Trainual => "/trainual",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Platform::Skilljar => 0,
            Platform::TalentLms => 1,
            Platform::Trainual => 2,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.slug())
    }
}

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Port on 127.0.0.1; `None` or `Some(0)` lets the OS pick one.
    pub port: Option<u16>,
    /// Seeds each platform's fault dice (mixed with the platform, so one platform's traffic never
    /// shifts another's faults) and generated ids.
    pub seed: u64,
    /// Print one `METHOD PATH STATUS` line per request to stdout (the binary turns this on).
    pub log_requests: bool,
    pub skilljar: SkilljarConfig,
    pub talentlms: TalentLmsConfig,
    pub trainual: TrainualConfig,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: None,
            seed: 0x5eed,
            log_requests: false,
            skilljar: SkilljarConfig::default(),
            talentlms: TalentLmsConfig::default(),
            trainual: TrainualConfig::default(),
        }
    }
}

impl SandboxConfig {
    pub fn rate_limit_mut(&mut self, platform: Platform) -> &mut RateLimit {
        match platform {
            Platform::Skilljar => &mut self.skilljar.rate_limit,
            Platform::TalentLms => &mut self.talentlms.rate_limit,
            Platform::Trainual => &mut self.trainual.rate_limit,
        }
    }

    pub fn faults_mut(&mut self, platform: Platform) -> &mut FaultConfig {
        match platform {
            Platform::Skilljar => &mut self.skilljar.faults,
            Platform::TalentLms => &mut self.talentlms.faults,
            Platform::Trainual => &mut self.trainual.faults,
        }
    }

    /// Replaces the platform's sliding window (its long window, if any, stays).
    pub fn with_rate_limit(mut self, platform: Platform, max: u32, interval: Duration) -> Self {
        let limit = self.rate_limit_mut(platform);
        limit.max = max;
        limit.interval = interval;
        self
    }

    pub fn with_faults(mut self, platform: Platform, faults: FaultConfig) -> Self {
        *self.faults_mut(platform) = faults;
        self
    }
}

/// A sliding-window limit (at most `max` admitted requests in any `interval`), plus an optional
/// fixed long window counted from the sandbox's start (TalentLMS's hourly plan limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub interval: Duration,
    pub long: Option<LongWindow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongWindow {
    pub limit: u64,
    pub window: Duration,
}

impl RateLimit {
    pub fn new(max: u32, interval: Duration) -> Self {
        Self {
            max,
            interval,
            long: None,
        }
    }

    pub fn with_long_window(mut self, limit: u64, window: Duration) -> Self {
        self.long = Some(LongWindow { limit, window });
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Skilljar

#[derive(Debug, Clone)]
pub struct SkilljarConfig {
    /// Accepted API keys (HTTP Basic user name; the password must be empty).
    pub api_keys: Vec<String>,
    pub domains: Vec<SkilljarDomain>,
    pub groups: Vec<SkilljarGroup>,
    /// Default: 600 per 60 s and 5,000 per hour, the only figures found (a third-party page);
    /// Skilljar publishes none.
    pub rate_limit: RateLimit,
    pub faults: FaultConfig,
}

impl Default for SkilljarConfig {
    fn default() -> Self {
        Self {
            api_keys: vec![DEFAULT_SKILLJAR_API_KEY.into()],
            domains: vec![SkilljarDomain {
                name: DEFAULT_SKILLJAR_DOMAIN.into(),
                published_courses: vec![
                    SkilljarCourse::new("3x5sl8stqd2r", "1n0ib5mtxxzrz", "Onboarding 101", 5),
                    SkilljarCourse::new("2p8dmw0i6hx9o", "q4d3ju1bu4vm", "Product Basics", 3),
                ],
            }],
            groups: vec![
                SkilljarGroup::new("4ekqyk3w1qp2", "Customers"),
                SkilljarGroup::new("1u0vbx4cb1n8m", "Partners"),
            ],
            rate_limit: RateLimit::new(600, Duration::from_secs(60))
                .with_long_window(5_000, Duration::from_secs(3_600)),
            faults: FaultConfig::default(),
        }
    }
}

/// A domain (Skilljar's storefront, e.g. `training.example.com`) and the courses published on it.
#[derive(Debug, Clone)]
pub struct SkilljarDomain {
    pub name: String,
    pub published_courses: Vec<SkilljarCourse>,
}

#[derive(Debug, Clone)]
pub struct SkilljarCourse {
    /// What enrollment paths and progress name (`published_course_id`).
    pub published_course_id: String,
    /// The course behind it (`course.id` in progress answers).
    pub course_id: String,
    pub title: String,
    pub lesson_count: u32,
}

impl SkilljarCourse {
    pub fn new(published_course_id: &str, course_id: &str, title: &str, lesson_count: u32) -> Self {
        Self {
            published_course_id: published_course_id.into(),
            course_id: course_id.into(),
            title: title.into(),
            lesson_count,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SkilljarGroup {
    pub id: String,
    pub name: String,
}

impl SkilljarGroup {
    pub fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TalentLMS

#[derive(Debug, Clone)]
pub struct TalentLmsConfig {
    /// Accepted API keys: `X-API-Key` for v2, the Basic user name (empty password) for v1.
    pub api_keys: Vec<String>,
    pub courses: Vec<TalentLmsCourse>,
    pub groups: Vec<TalentLmsGroup>,
    pub branches: Vec<TalentLmsBranch>,
    pub custom_fields: Vec<TalentLmsCustomField>,
    /// Default: 200 per 5 s and 2,000 per hour (the smaller plans), as documented.
    pub rate_limit: RateLimit,
    pub faults: FaultConfig,
}

impl Default for TalentLmsConfig {
    fn default() -> Self {
        Self {
            api_keys: vec![DEFAULT_TALENTLMS_API_KEY.into()],
            courses: vec![
                TalentLmsCourse::new(101, "Onboarding 101", "ONB-101"),
                TalentLmsCourse::new(102, "Product Basics", "PRD-102"),
            ],
            groups: vec![
                TalentLmsGroup::new(1, "Customers", "grp-customers"),
                TalentLmsGroup::new(2, "Partners", "grp-partners"),
            ],
            branches: vec![
                TalentLmsBranch::new(1, "emea"),
                TalentLmsBranch::new(2, "americas"),
            ],
            custom_fields: vec![
                TalentLmsCustomField::new(1, "Employee Count", "text"),
                TalentLmsCustomField::new(2, "Department", "text"),
            ],
            rate_limit: RateLimit::new(200, Duration::from_secs(5))
                .with_long_window(2_000, Duration::from_secs(3_600)),
            faults: FaultConfig::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TalentLmsCourse {
    pub id: u64,
    pub name: String,
    pub code: String,
}

impl TalentLmsCourse {
    pub fn new(id: u64, name: &str, code: &str) -> Self {
        Self {
            id,
            name: name.into(),
            code: code.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TalentLmsGroup {
    pub id: u64,
    pub name: String,
    /// The key a learner redeems to join (v1 `addusertogroup` names groups by it).
    pub key: String,
}

impl TalentLmsGroup {
    pub fn new(id: u64, name: &str, key: &str) -> Self {
        Self {
            id,
            name: name.into(),
            key: key.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TalentLmsBranch {
    pub id: u64,
    pub name: String,
}

impl TalentLmsBranch {
    pub fn new(id: u64, name: &str) -> Self {
        Self {
            id,
            name: name.into(),
        }
    }
}

/// A user custom field; written as `custom_field_<id>` (v1 forms, v2 batch upserts).
#[derive(Debug, Clone)]
pub struct TalentLmsCustomField {
    pub id: u64,
    pub name: String,
    /// `text`, `dropdown`, `checkbox` or `date`, as v2 user answers type them.
    pub field_type: String,
    pub mandatory: bool,
}

impl TalentLmsCustomField {
    pub fn new(id: u64, name: &str, field_type: &str) -> Self {
        Self {
            id,
            name: name.into(),
            field_type: field_type.into(),
            mandatory: false,
        }
    }

    pub fn key(&self) -> String {
        format!("custom_field_{}", self.id)
    }
}

// ---------------------------------------------------------------------------------------------
// Trainual

#[derive(Debug, Clone)]
pub struct TrainualConfig {
    /// Accepted HTTP Basic (user name, password) pairs.
    pub credentials: Vec<(String, String)>,
    pub roles: Vec<TrainualRole>,
    pub subjects: Vec<TrainualSubject>,
    /// Default: 20 per second ("about 20 requests/s", third-party).
    pub rate_limit: RateLimit,
    pub faults: FaultConfig,
}

impl Default for TrainualConfig {
    fn default() -> Self {
        Self {
            credentials: vec![(DEFAULT_TRAINUAL_USERNAME.into(), DEFAULT_TRAINUAL_PASSWORD.into())],
            roles: vec![TrainualRole::new(1, "Customer"), TrainualRole::new(2, "Partner")],
            subjects: vec![
                TrainualSubject::new(11, "Welcome"),
                TrainualSubject::new(12, "Product Basics"),
            ],
            rate_limit: RateLimit::new(20, Duration::from_secs(1)),
            faults: FaultConfig::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TrainualRole {
    pub id: u64,
    pub name: String,
}

impl TrainualRole {
    pub fn new(id: u64, name: &str) -> Self {
        Self {
            id,
            name: name.into(),
        }
    }
}

/// Trainual's unit of assigned training (a "curriculum" in its own URLs).
#[derive(Debug, Clone)]
pub struct TrainualSubject {
    pub id: u64,
    pub title: String,
}

impl TrainualSubject {
    pub fn new(id: u64, title: &str) -> Self {
        Self {
            id,
            title: title.into(),
        }
    }
}
