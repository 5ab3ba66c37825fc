//! Stateful fakes of the GitHub and GitLab REST APIs a pull/merge request comment needs,
//! on free loopback ports, following the real endpoints' shapes, status codes and limits
//! (GitHub: 65,536-character comments, `Link` pagination, "Resource not accessible by
//! integration" for a read-only token; GitLab: 1,000,000-character notes, `X-Next-Page`
//! pagination, `JOB-TOKEN` refused on note writes). Every request is recorded with its
//! headers and body, so tests count calls and look for leaked tokens.

mod dispatch;
mod github;
mod gitlab;
mod trigger;

pub use dispatch::Dispatch;
pub use github::FakeGithub;
pub use gitlab::FakeGitlab;
pub use trigger::PipelineTrigger;

use std::sync::{Arc, Mutex, PoisonError};

/// One request a fake forge received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgeRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
    /// Every header as received, in order.
    pub headers: Vec<(String, String)>,
    /// The request body as text.
    pub body: String,
    /// The status answered.
    pub status: u16,
}

/// A comment or note as a fake forge holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgeComment {
    /// The comment or note id.
    pub id: u64,
    /// The author's login (GitHub) or username (GitLab).
    pub author: String,
    /// The body as stored.
    pub body: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last update.
    pub updated_at: String,
}

/// What a token may do.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub login: String,
    pub user_id: u64,
    pub writes: bool,
}

/// A clock that ticks one second per write, from 2026-01-01T00:00:00Z, so timestamps are
/// distinct, ordered and reproducible.
pub(crate) fn timestamp(tick: u64) -> String {
    const START: i64 = 1_767_225_600;
    let at = time::OffsetDateTime::from_unix_timestamp(START + i64::try_from(tick).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) type Shared<T> = Arc<Mutex<T>>;

/// The `page`/`per_page` slice of `len` items: (start, end, last page).
pub(crate) fn page_bounds(len: usize, page: usize, per_page: usize) -> (usize, usize, usize) {
    let last = len.div_ceil(per_page).max(1);
    let start = (page.saturating_sub(1) * per_page).min(len);
    let end = (start + per_page).min(len);
    (start, end, last)
}
