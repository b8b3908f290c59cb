//! The library's error type. Every message names what the user can act on:
//! the file, the 1-based line where there is one, and the problem.

/// Everything that can go wrong in mfcuda's library code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file as the user named it.
        file: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file or folder could not be created or written.
    #[error("{file}: cannot write: {source}")]
    Write {
        /// The path as the user named it.
        file: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file is readable but its contents are wrong at a known line.
    #[error("{file}: line {line}: {msg}")]
    Line {
        /// The file as the user named it.
        file: String,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// What is wrong on that line.
        msg: String,
    },
    /// The file is wrong as a whole (for example, empty).
    #[error("{file}: {msg}")]
    File {
        /// The file as the user named it.
        file: String,
        /// What is wrong with it.
        msg: String,
    },
    /// An argument or hyperparameter is outside its valid range.
    #[error("invalid {name}: {msg}")]
    Invalid {
        /// The flag or field, for example `--batch-size`.
        name: String,
        /// Why the value is rejected.
        msg: String,
    },
    /// The loss became NaN or infinite.
    #[error(
        "training diverged in epoch {epoch}, {where_}: the loss is {loss}. Try a smaller --lr \
         (this step's was {lr}; {lr_hint} is a start); no model was saved from this run"
    )]
    Diverged {
        /// The epoch (0-based).
        epoch: usize,
        /// Where in the epoch: "step S of N", or "in validation".
        where_: String,
        /// The first non-finite loss.
        loss: f64,
        /// The learning rate at that step, in short decimals.
        lr: String,
        /// A tenth of it, in short decimals.
        lr_hint: String,
    },
    /// A CUDA driver call or kernel launch failed.
    #[error("CUDA error in {what}: {msg}")]
    Cuda {
        /// The kernel or operation that failed.
        what: String,
        /// The driver's message.
        msg: String,
    },
    /// The requested compute device is not available.
    #[error("device {device}: {msg}")]
    Device {
        /// The device the user asked for.
        device: String,
        /// Why it cannot be used.
        msg: String,
    },
}

/// Shorthand for results with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Invalid`] for the flag or field `name`.
    pub fn invalid(name: &str, msg: impl Into<String>) -> Self {
        Error::Invalid {
            name: name.to_string(),
            msg: msg.into(),
        }
    }
}
