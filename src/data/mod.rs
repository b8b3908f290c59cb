//! The data layer: ratings in, the notebook's split, and data made to order.
//!
//! - [`table`] opens a table file ([`Source`], [`Columns`], [`Table`]);
//!   [`ratings`] streams a MovieLens-style CSV into [`Ratings`], mapping raw
//!   ids to contiguous indices ([`ids`]: integers, or any text); [`mod@format`] finds the file's compression,
//!   [`archive`] opens the member of a zip,
//!   separator and header; [`cache`] keeps a binary copy beside it.
//! - [`examples`] holds rows in the columnar form a backend trains on.
//! - [`split`] picks the notebook's validation rows with numpy's legacy
//!   Mersenne Twister.
//! - [`runs`] groups ratings into per-user runs, sparse SGD's order of work.
//! - [`tasks`] cuts them into per-user tasks off a queue, the GPU's schedule.
//! - [`synth`] draws ratings of any size from a planted low-rank model;
//!   [`stats`] summarises a data set.
//!
//! It depends on the base modules and on [`crate::ops`] only.

pub mod archive;
pub mod cache;
pub mod examples;
pub mod format;
pub mod ids;
pub mod ratings;
pub mod runs;
pub mod split;
pub mod stats;
pub mod synth;
pub mod table;
pub mod tasks;

pub use examples::Examples;
pub use ids::{Id, IdList, IdMap};
pub use ratings::{BadRows, Ratings, MAX_BAD_SHARE};
pub use table::{
    open, open_named, parse_i64, Columns, CsvRows, Source, Table, BUNDLED_NAME, BUNDLED_RATINGS,
};
