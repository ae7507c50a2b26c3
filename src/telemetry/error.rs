//! Errors of telemetry installation and shutdown.

/// Why [`crate::Telemetry`] could not be installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A setting (environment variable or builder value) is invalid.
    #[error("invalid {variable}={value}: {reason}")]
    InvalidSetting {
        /// The variable (or builder setting) that is wrong.
        variable: String,
        /// Its value, quoted (redacted for header variables).
        value: String,
        /// What was expected.
        reason: String,
    },
    /// An exporter could not be built.
    #[error("could not build the {signal} exporter: {message}")]
    Exporter {
        /// `traces` or `metrics`.
        signal: &'static str,
        /// What failed.
        message: String,
    },
    /// A background thread or runtime could not be started.
    #[error("could not start the telemetry runtime: {0}")]
    Runtime(String),
}

impl InitError {
    /// A bad value for `variable`. Header values are never echoed (they carry credentials).
    pub fn invalid(variable: &str, value: &str, reason: &str) -> Self {
        let value = if variable.contains("HEADERS") { "<redacted>".to_string() } else { format!("{value:?}") };
        InitError::InvalidSetting { variable: variable.to_string(), value, reason: reason.to_string() }
    }

    /// The setting this error names, if any.
    pub fn variable(&self) -> Option<&str> {
        match self {
            InitError::InvalidSetting { variable, .. } => Some(variable),
            _ => None,
        }
    }
}

/// Why shutdown did not complete cleanly (telemetry may have been lost; the process goes on).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownError {
    /// Flushing and shutting down took longer than the bound.
    #[error("telemetry shutdown did not finish within {0:?}; pending data was abandoned")]
    Timeout(std::time::Duration),
    /// A provider reported an error (e.g. the final export failed).
    #[error("telemetry shutdown reported errors: {0}")]
    Provider(String),
}
