//! Learning records: what the sync knows of one learner's enrollment in one course, merged from
//! events that arrive late, twice or out of order. Nothing here knows GHL's record format or
//! where the state is kept; `ghl::enrollments` writes it as a custom-object record and
//! `worker::learning_records` decides when.
//!
//! The merge is a join: applying the same facts in any order, any number of times, gives the same
//! record. That is what lets redeliveries, pollers and the daily reconcile all feed it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{CourseProgressed, MilestoneKind, MilestoneReached, Progress, SourcePlatform};

/// Where a learner stands in a course. Ordered: a record only moves forward, except that an
/// expiry ends it and a later enrollment or activity opens it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentStatus {
    Enrolled,
    InProgress,
    Completed,
    Expired,
}

impl EnrollmentStatus {
    pub const ALL: [EnrollmentStatus; 4] = [
        EnrollmentStatus::Enrolled,
        EnrollmentStatus::InProgress,
        EnrollmentStatus::Completed,
        EnrollmentStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentStatus::Enrolled => "enrolled",
            EnrollmentStatus::InProgress => "in_progress",
            EnrollmentStatus::Completed => "completed",
            EnrollmentStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Which enrollment: one learner of one platform in one course.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnrollmentId {
    pub source: SourcePlatform,
    pub lms_user_id: String,
    pub course_id: String,
}

impl EnrollmentId {
    /// The record's unique key in GHL: readable, and the same for every event of the enrollment.
    /// `:` and `%` inside ids are escaped so that two enrollments can never share a key.
    pub fn unique_key(&self) -> String {
        let esc = |s: &str| s.replace('%', "%25").replace(':', "%3A");
        format!(
            "{}:{}:{}",
            self.source,
            esc(&self.lms_user_id),
            esc(&self.course_id)
        )
    }
}

impl EnrollmentId {
    /// The enrollment a record's unique key names (the inverse of [`unique_key`](Self::unique_key)).
    pub fn from_unique_key(key: &str) -> Option<Self> {
        let unesc = |s: &str| s.replace("%3A", ":").replace("%25", "%");
        let mut parts = key.splitn(3, ':');
        let source = SourcePlatform::try_from(parts.next()?.to_owned()).ok()?;
        let lms_user_id = unesc(parts.next().filter(|p| !p.is_empty())?);
        let course_id = unesc(parts.next().filter(|p| !p.is_empty() && !p.contains(':'))?);
        Some(Self {
            source,
            lms_user_id,
            course_id,
        })
    }
}

/// Something observed about an enrollment.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    Enrolled,
    /// A lesson, quiz or other progress inside the course.
    Activity {
        percent: Option<u8>,
    },
    Completed {
        score: Option<f64>,
        certificate_url: Option<String>,
    },
    /// Access ended (the LMS said so, or a person in GHL set it).
    Expired,
}

/// A fact with when it happened and what it said of the course's title.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub fact: Fact,
    pub at: OffsetDateTime,
    pub course_title: Option<String>,
}

impl Observed {
    /// What a milestone event says about a course enrollment: a course's start or completion, or
    /// progress (a lesson or quiz) inside a named course. Paths and senders' own milestones are
    /// not course enrollments.
    pub fn from_milestone(m: &MilestoneReached) -> Option<(EnrollmentId, Observed)> {
        let (course_id, title, fact) = match (m.kind, m.progress) {
            (MilestoneKind::Course, Progress::Started) => {
                (m.milestone_id.clone(), m.title.clone(), Fact::Enrolled)
            }
            (MilestoneKind::Course, Progress::Completed) => (
                m.milestone_id.clone(),
                m.title.clone(),
                Fact::Completed {
                    score: m.score.as_deref().and_then(score),
                    certificate_url: None,
                },
            ),
            (MilestoneKind::Lesson | MilestoneKind::Quiz, _) => {
                let course = m.course.as_ref()?;
                (
                    course.id.clone(),
                    course.title.clone(),
                    Fact::Activity { percent: None },
                )
            }
            (MilestoneKind::Path | MilestoneKind::Custom, _) => return None,
        };
        let id = EnrollmentId {
            source: m.source.clone(),
            lms_user_id: m.learner.source_user_id.clone(),
            course_id,
        };
        Some((
            id,
            Observed {
                fact,
                at: m.occurred_at,
                course_title: title.or_else(|| m.course.as_ref().and_then(|c| c.title.clone())),
            },
        ))
    }
}

/// What a learning record can hold besides its unique key; the mapping picks which to fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordField {
    CourseId,
    CourseTitle,
    Lms,
    LmsUserId,
    Status,
    ProgressPercent,
    Score,
    EnrolledAt,
    CompletedAt,
    LastActivityAt,
    CertificateUrl,
}

impl RecordField {
    pub const ALL: [RecordField; 11] = [
        RecordField::CourseId,
        RecordField::CourseTitle,
        RecordField::Lms,
        RecordField::LmsUserId,
        RecordField::Status,
        RecordField::ProgressPercent,
        RecordField::Score,
        RecordField::EnrolledAt,
        RecordField::CompletedAt,
        RecordField::LastActivityAt,
        RecordField::CertificateUrl,
    ];

    /// The name the mapping and the record use.
    pub fn name(self) -> &'static str {
        match self {
            RecordField::CourseId => "course_id",
            RecordField::CourseTitle => "course_title",
            RecordField::Lms => "lms",
            RecordField::LmsUserId => "lms_user_id",
            RecordField::Status => "status",
            RecordField::ProgressPercent => "progress_percent",
            RecordField::Score => "score",
            RecordField::EnrolledAt => "enrolled_at",
            RecordField::CompletedAt => "completed_at",
            RecordField::LastActivityAt => "last_activity_at",
            RecordField::CertificateUrl => "certificate_url",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The field that identifies a record: [`EnrollmentId::unique_key`].
pub const UNIQUE_KEY_FIELD: &str = "enrollment_key";

impl Observed {
    /// What an LMS's report of a course says, as facts at the times the LMS gives: enrolled, how
    /// far along (at the latest time known, never the reading's, which is not activity), and
    /// completed with its score.
    pub fn from_progress(p: &CourseProgressed) -> (EnrollmentId, Vec<Observed>) {
        let id = EnrollmentId {
            source: p.source.clone(),
            lms_user_id: p.learner.source_user_id.clone(),
            course_id: p.course.id.clone(),
        };
        let title = p.course.title.clone();
        let seen = |fact, at| Observed {
            fact,
            at,
            course_title: title.clone(),
        };
        let first = p.enrolled_at.or(p.completed_at).unwrap_or(p.observed_at);
        let mut facts = vec![seen(Fact::Enrolled, first)];
        if let Some(percent) = p.percent.filter(|pc| *pc > 0) {
            let at = p.completed_at.or(p.enrolled_at).unwrap_or(p.observed_at);
            let percent = u8::try_from(percent.min(100)).ok();
            facts.push(seen(Fact::Activity { percent }, at));
        }
        if let Some(at) = p.completed_at {
            facts.push(seen(
                Fact::Completed {
                    score: p.score.as_deref().and_then(score),
                    certificate_url: p.certificate_url.clone(),
                },
                at,
            ));
        }
        (id, facts)
    }
}

/// A score as a number (`"92"`, `"92.5"`, `"92%"`); anything else is left out of the record.
pub fn score(text: &str) -> Option<f64> {
    text.trim()
        .trim_end_matches('%')
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite())
}

/// One enrollment as the record shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrollment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course_title: Option<String>,
    pub status: EnrollmentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_percent: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub enrolled_at: Option<OffsetDateTime>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub completed_at: Option<OffsetDateTime>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expired_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_activity_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_url: Option<String>,
}

impl Enrollment {
    /// The record of `facts` (at least one), taken in order.
    pub fn of(facts: &[Observed]) -> Option<Self> {
        let (first, rest) = facts.split_first()?;
        Some(rest.iter().fold(Self::new(first), |r, o| r.merge(o)))
    }

    pub fn new(observed: &Observed) -> Self {
        let blank = Enrollment {
            course_title: None,
            status: EnrollmentStatus::Enrolled,
            progress_percent: None,
            score: None,
            enrolled_at: None,
            completed_at: None,
            expired_at: None,
            last_activity_at: observed.at,
            certificate_url: None,
        };
        blank.merge(observed)
    }

    /// The record with `observed` taken in. Never goes back: a completed record stays completed
    /// whatever older or newer "started" arrives, dates keep their first (enrolled, completed) or
    /// last (activity) value, progress only grows, and the score is the newest completion's.
    pub fn merge(&self, observed: &Observed) -> Self {
        let mut next = self.clone();
        let at = observed.at;
        let newest = at >= self.last_activity_at;
        if let Some(title) = observed.course_title.as_ref().filter(|t| !t.is_empty())
            && (newest || next.course_title.is_none())
        {
            next.course_title = Some(title.clone());
        }
        // An expiry ends the record until something happens after it.
        let reopens = |expired_at: Option<OffsetDateTime>| expired_at.is_none_or(|e| at > e);
        match &observed.fact {
            Fact::Enrolled => {
                next.enrolled_at = Some(next.enrolled_at.map_or(at, |e| e.min(at)));
                if self.status == EnrollmentStatus::Expired && reopens(self.expired_at) {
                    next.status = EnrollmentStatus::Enrolled;
                    next.expired_at = None;
                }
            }
            Fact::Activity { percent } => {
                if let Some(p) = percent {
                    let p = (*p).min(100);
                    next.progress_percent = Some(next.progress_percent.map_or(p, |q| q.max(p)));
                }
                match self.status {
                    EnrollmentStatus::Enrolled => next.status = EnrollmentStatus::InProgress,
                    EnrollmentStatus::Expired if reopens(self.expired_at) => {
                        next.status = EnrollmentStatus::InProgress;
                        next.expired_at = None;
                    }
                    _ => {}
                }
            }
            Fact::Completed {
                score,
                certificate_url,
            } => {
                let before_expiry = self.expired_at.is_some_and(|e| at <= e);
                if !before_expiry {
                    next.status = EnrollmentStatus::Completed;
                    next.expired_at = None;
                }
                next.completed_at = Some(next.completed_at.map_or(at, |c| c.min(at)));
                next.progress_percent = Some(100);
                if let Some(s) = score
                    && (newest || next.score.is_none())
                {
                    next.score = Some(*s);
                }
                if let Some(url) = certificate_url
                    && (newest || next.certificate_url.is_none())
                {
                    next.certificate_url = Some(url.clone());
                }
            }
            Fact::Expired => {
                if newest {
                    next.status = EnrollmentStatus::Expired;
                    next.expired_at = Some(at);
                }
            }
        }
        if !matches!(observed.fact, Fact::Expired) {
            next.last_activity_at = next.last_activity_at.max(at);
        }
        next
    }

    /// Whether going from `self` to `next` changes only how far along the learner is (the
    /// activity time and progress): the changes a lesson storm makes, which may wait.
    pub fn only_progress_differs(&self, next: &Enrollment) -> bool {
        let mut same = next.clone();
        same.last_activity_at = self.last_activity_at;
        same.progress_percent = self.progress_percent;
        same == *self
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn seen(fact: Fact, at: OffsetDateTime) -> Observed {
        Observed {
            fact,
            at,
            course_title: Some("Onboarding".into()),
        }
    }

    fn completed(score: Option<f64>) -> Fact {
        Fact::Completed {
            score,
            certificate_url: None,
        }
    }

    #[test]
    fn a_course_goes_enrolled_in_progress_completed() {
        let t0 = datetime!(2026-11-01 10:00 UTC);
        let r = Enrollment::new(&seen(Fact::Enrolled, t0));
        assert_eq!((r.status, r.enrolled_at), (EnrollmentStatus::Enrolled, Some(t0)));
        let r = r.merge(&seen(
            Fact::Activity { percent: Some(40) },
            t0 + time::Duration::hours(1),
        ));
        assert_eq!(
            (r.status, r.progress_percent),
            (EnrollmentStatus::InProgress, Some(40))
        );
        let done = t0 + time::Duration::days(2);
        let r = r.merge(&seen(completed(Some(92.5)), done));
        assert_eq!(r.status, EnrollmentStatus::Completed);
        assert_eq!(
            (r.completed_at, r.score, r.progress_percent),
            (Some(done), Some(92.5), Some(100))
        );
        assert_eq!(r.last_activity_at, done);
    }

    #[test]
    fn a_late_start_never_reopens_a_completed_record() {
        let t0 = datetime!(2026-11-01 10:00 UTC);
        let r = Enrollment::new(&seen(completed(Some(80.0)), t0));
        let late = r.merge(&seen(Fact::Enrolled, t0 - time::Duration::days(3)));
        assert_eq!(late.status, EnrollmentStatus::Completed);
        assert_eq!(late.enrolled_at, Some(t0 - time::Duration::days(3)));
        assert_eq!(
            late.last_activity_at, t0,
            "an older fact does not move the activity back"
        );
        let lesson = late.merge(&seen(
            Fact::Activity { percent: Some(10) },
            t0 + time::Duration::hours(1),
        ));
        assert_eq!(
            (lesson.status, lesson.progress_percent),
            (EnrollmentStatus::Completed, Some(100))
        );
    }

    #[test]
    fn any_order_and_any_repetition_gives_the_same_record() {
        let t0 = datetime!(2026-11-01 10:00 UTC);
        let facts = [
            seen(Fact::Enrolled, t0),
            seen(
                Fact::Activity { percent: Some(30) },
                t0 + time::Duration::hours(1),
            ),
            seen(
                Fact::Activity { percent: Some(60) },
                t0 + time::Duration::hours(2),
            ),
            seen(completed(Some(70.0)), t0 + time::Duration::hours(3)),
            seen(completed(Some(95.0)), t0 + time::Duration::hours(5)),
        ];
        let fold = |order: &[usize]| {
            let mut r = Enrollment::new(&facts[order[0]]);
            for &i in &order[1..] {
                r = r.merge(&facts[i]);
            }
            r
        };
        let expected = fold(&[0, 1, 2, 3, 4]);
        assert_eq!(expected.score, Some(95.0), "the newest completion's score");
        assert_eq!(expected.completed_at, Some(t0 + time::Duration::hours(3)));
        for order in [[4, 3, 2, 1, 0], [2, 4, 0, 3, 1], [3, 0, 4, 1, 2]] {
            assert_eq!(fold(&order), expected, "order {order:?}");
        }
        assert_eq!(fold(&[0, 1, 1, 2, 3, 3, 4, 4, 0]), expected);
    }

    #[test]
    fn an_expiry_ends_the_record_until_something_newer_happens() {
        let t0 = datetime!(2026-11-01 10:00 UTC);
        let r = Enrollment::new(&seen(completed(None), t0));
        let expired = r.merge(&seen(Fact::Expired, t0 + time::Duration::days(30)));
        assert_eq!(expired.status, EnrollmentStatus::Expired);
        assert_eq!(expired.last_activity_at, t0, "an expiry is not activity");
        // Something older than the expiry, redelivered, leaves it expired.
        assert_eq!(
            expired.merge(&seen(completed(None), t0)).status,
            EnrollmentStatus::Expired
        );
        assert_eq!(
            expired
                .merge(&seen(Fact::Enrolled, t0 - time::Duration::days(1)))
                .status,
            EnrollmentStatus::Expired
        );
        // A re-enrollment after it opens the record again.
        let again = expired.merge(&seen(Fact::Enrolled, t0 + time::Duration::days(31)));
        assert_eq!(
            (again.status, again.expired_at),
            (EnrollmentStatus::Enrolled, None)
        );
        // An expiry older than the last activity is stale.
        let active = r.merge(&seen(
            Fact::Activity { percent: None },
            t0 + time::Duration::days(40),
        ));
        assert_eq!(
            active
                .merge(&seen(Fact::Expired, t0 + time::Duration::days(30)))
                .status,
            EnrollmentStatus::Completed
        );
    }

    #[test]
    fn only_progress_differs_tells_a_lesson_from_a_status_change() {
        let t0 = datetime!(2026-11-01 10:00 UTC);
        let r = Enrollment::new(&seen(Fact::Enrolled, t0)).merge(&seen(
            Fact::Activity { percent: None },
            t0 + time::Duration::minutes(1),
        ));
        let lesson = r.merge(&seen(
            Fact::Activity { percent: Some(50) },
            t0 + time::Duration::minutes(2),
        ));
        assert!(r.only_progress_differs(&lesson));
        let done = lesson.merge(&seen(completed(None), t0 + time::Duration::minutes(3)));
        assert!(!lesson.only_progress_differs(&done));
        let first_lesson = Enrollment::new(&seen(Fact::Enrolled, t0)).merge(&seen(
            Fact::Activity { percent: None },
            t0 + time::Duration::minutes(1),
        ));
        assert!(
            !Enrollment::new(&seen(Fact::Enrolled, t0)).only_progress_differs(&first_lesson),
            "enrolled → in progress is a status change"
        );
    }

    #[test]
    fn an_lms_reading_gives_the_record_it_describes_and_adds_nothing_the_second_time() {
        use crate::domain::{CourseProgressed, CourseRef, Email, LearnerRef};
        let t0 = datetime!(2026-11-01 10:00 UTC);
        let reading = CourseProgressed {
            source: SourcePlatform::skilljar(),
            learner: LearnerRef {
                source_user_id: "u1".into(),
                email: Email::try_from("ada@example.com".to_owned()).unwrap_or_else(|e| panic!("{e}")),
                first_name: None,
                last_name: None,
            },
            course: CourseRef {
                id: "c1".into(),
                title: Some("Onboarding".into()),
                published_id: None,
            },
            enrolled_at: Some(t0),
            completed_at: None,
            percent: Some(40),
            score: None,
            certificate_url: None,
            observed_at: t0 + time::Duration::days(9),
        };
        let (id, facts) = Observed::from_progress(&reading);
        assert_eq!(id.unique_key(), "skilljar:u1:c1");
        let record = Enrollment::of(&facts).unwrap_or_else(|| panic!("no facts"));
        assert_eq!(
            (record.status, record.progress_percent),
            (EnrollmentStatus::InProgress, Some(40))
        );
        assert_eq!(
            record.last_activity_at, t0,
            "reading the LMS is not the learner's activity"
        );
        assert_eq!(facts.iter().fold(record.clone(), |r, o| r.merge(o)), record);
        let done = CourseProgressed {
            completed_at: Some(t0 + time::Duration::days(3)),
            percent: Some(100),
            score: Some("91".into()),
            certificate_url: Some("https://academy.example/certificates/C-1".into()),
            ..reading
        };
        let (_, facts) = Observed::from_progress(&done);
        let record = facts.iter().fold(record, |r, o| r.merge(o));
        assert_eq!(
            (record.status, record.score),
            (EnrollmentStatus::Completed, Some(91.0))
        );
        assert_eq!(
            record.certificate_url.as_deref(),
            Some("https://academy.example/certificates/C-1")
        );
    }

    #[test]
    fn scores_are_numbers_or_nothing() {
        assert_eq!(score(" 92% "), Some(92.0));
        assert_eq!(score("87.5"), Some(87.5));
        assert_eq!(score("pass"), None);
        assert_eq!(score("NaN"), None);
    }

    #[test]
    fn unique_keys_do_not_collide() {
        let id = |u: &str, c: &str| EnrollmentId {
            source: SourcePlatform::skilljar(),
            lms_user_id: u.into(),
            course_id: c.into(),
        };
        assert_eq!(id("u1", "c1").unique_key(), "skilljar:u1:c1");
        assert_ne!(id("a:b", "c").unique_key(), id("a", "b:c").unique_key());
        for original in [id("u1", "c1"), id("a:b", "c%3A"), id("x%", ":")] {
            assert_eq!(
                EnrollmentId::from_unique_key(&original.unique_key()),
                Some(original)
            );
        }
        assert_eq!(EnrollmentId::from_unique_key("Skilljar:u:c"), None);
        assert_eq!(EnrollmentId::from_unique_key("skilljar:u"), None);
    }
}
