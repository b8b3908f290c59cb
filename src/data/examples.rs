//! Rows of a ratings table in columnar form: what a backend trains and
//! validates on.

use crate::data::Ratings;
use crate::ops;

/// Rows of a ratings table in columnar form, ready for a device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Examples {
    /// User index per row.
    pub users: Vec<u32>,
    /// Item index per row.
    pub items: Vec<u32>,
    /// Rating per row.
    pub ratings: Vec<f32>,
}

impl Examples {
    /// The given rows of `data`, in the given order.
    pub fn select(data: &Ratings, rows: &[u32]) -> Examples {
        let mut out = Examples::default();
        gather_rows(&data.users, &data.items, &data.ratings, rows, &mut out);
        out
    }

    /// Replaces `out` with the given rows of `self`, in the given order
    /// (a batch, reusing `out`'s allocation).
    pub fn gather_into(&self, rows: &[u32], out: &mut Examples) {
        gather_rows(&self.users, &self.items, &self.ratings, rows, out);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ratings.len()
    }

    /// True with no rows.
    pub fn is_empty(&self) -> bool {
        self.ratings.is_empty()
    }
}

fn gather_rows(users: &[u32], items: &[u32], ratings: &[f32], rows: &[u32], out: &mut Examples) {
    let n = rows.len();
    out.users.resize(n, 0);
    out.items.resize(n, 0);
    out.ratings.resize(n, 0.0);
    ops::gather_rows(
        &mut out.users,
        &mut out.items,
        &mut out.ratings,
        users,
        items,
        ratings,
        rows,
    );
}
