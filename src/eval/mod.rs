//! Evaluation as practitioners do it, the top layer (it judges trained
//! models, so it sits above [`crate::trained`]): k-fold
//! cross-validation in Surprise's protocol ([`cv`]), full-ranking metrics
//! ([`ranking`]) and a tuner that never looks at the validation rows
//! ([`tune`]).

pub mod cv;
pub mod ensemble;
pub mod ranking;
pub mod ranking_bench;
pub mod ranking_model;
pub mod tune;
