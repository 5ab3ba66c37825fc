//! When an image is stale: `[stale]` → `image-stale`. The check comes with `stale`, which
//! reads image configs and resolves their bases; the section is read and validated here
//! today.

use std::time::Duration;

use schemars::JsonSchema;

use crate::config::reader::{Reader, Section};
use crate::config::settings::{Spanned, Trigger};

/// `[stale]`: when an image counts as stale and what to do.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct StaleSettings {
    /// Like `30d`.
    #[schemars(with = "Option<String>")]
    pub max_age: Option<Spanned<Duration>>,
    #[schemars(with = "Trigger")]
    pub trigger: Spanned<Trigger>,
}

impl Default for StaleSettings {
    fn default() -> Self {
        Self {
            max_age: None,
            trigger: Spanned::unsited(Trigger::None),
        }
    }
}

pub(crate) fn read(reader: &mut Reader<'_>, section: &Section<'_>) -> StaleSettings {
    reader.check_keys(section, &["max-age", "trigger"]);
    let mut stale = StaleSettings {
        max_age: reader.duration(section, "max-age"),
        ..StaleSettings::default()
    };
    if let Some(trigger) = reader.choice(section, "trigger") {
        stale.trigger = trigger;
    }
    stale
}
