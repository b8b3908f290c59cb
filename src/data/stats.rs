//! Dataset statistics, as the notebook explores them with pandas.

use std::collections::{HashMap, HashSet};

use crate::data::{Id, IdMap, Ratings};

/// Rating counts per raw id, most-rated first; ties go to the smaller id.
/// This is `ratings.groupby(col)['rating'].count().sort_values(ascending=False)`.
pub fn top_by_count(idx: &[u32], ids: &IdMap, top: usize) -> Vec<(Id, usize)> {
    let mut counts = vec![0usize; ids.len()];
    for &i in idx {
        counts[i as usize] += 1;
    }
    let mut order: Vec<(std::cmp::Reverse<usize>, Id)> = counts
        .into_iter()
        .enumerate()
        .map(|(k, n)| (std::cmp::Reverse(n), ids.get(k)))
        .collect();
    order.sort_unstable();
    order.truncate(top);
    order.into_iter().map(|(n, id)| (id, n.0)).collect()
}

/// `pd.crosstab(userId, movieId, rating, aggfunc=np.sum)` restricted to the
/// given users and items.
#[derive(Debug, Clone, PartialEq)]
pub struct Crosstab {
    /// Row labels (raw user ids), ascending.
    pub users: Vec<Id>,
    /// Column labels (raw item ids), ascending; only items rated by one of
    /// the users appear, as pandas drops all-NaN columns.
    pub items: Vec<Id>,
    /// `cells[r][c]`: the summed rating, or `None` (NaN in pandas).
    pub cells: Vec<Vec<Option<f32>>>,
}

impl Crosstab {
    /// Builds the table of `users` × `items` (raw ids) from `data`.
    pub fn new(data: &Ratings, users: &[Id], items: &[Id]) -> Crosstab {
        let find = |ids: &IdMap, want: &[Id]| -> HashSet<u32> {
            want.iter().filter_map(|id| ids.find(id)).collect()
        };
        let (uset, iset) = (find(&data.user_ids, users), find(&data.item_ids, items));
        let mut sums: HashMap<(u32, u32), f32> = HashMap::new();
        for r in 0..data.len() {
            let (u, i) = (data.users[r], data.items[r]);
            if uset.contains(&u) && iset.contains(&i) {
                *sums.entry((u, i)).or_insert(0.0) += data.ratings[r];
            }
        }
        // Labels with at least one cell, ascending by raw id.
        let labels = |set: &HashSet<u32>, side: fn(&(u32, u32)) -> u32, ids: &IdMap| -> Vec<(Id, u32)> {
            let mut v: Vec<(Id, u32)> = set
                .iter()
                .filter(|&&k| sums.keys().any(|key| side(key) == k))
                .map(|&k| (ids.get(k as usize), k))
                .collect();
            v.sort();
            v
        };
        let rows = labels(&uset, |k| k.0, &data.user_ids);
        let cols = labels(&iset, |k| k.1, &data.item_ids);
        let cells = rows
            .iter()
            .map(|u| cols.iter().map(|i| sums.get(&(u.1, i.1)).copied()).collect())
            .collect();
        Crosstab {
            users: rows.into_iter().map(|x| x.0).collect(),
            items: cols.into_iter().map(|x| x.0).collect(),
            cells,
        }
    }

    /// The cell for raw ids `user` × `item`, if both are labels.
    pub fn get(&self, user: &Id, item: &Id) -> Option<Option<f32>> {
        let r = self.users.iter().position(|u| u == user)?;
        let c = self.items.iter().position(|i| i == item)?;
        Some(self.cells[r][c])
    }
}

/// Summary figures of a ratings table.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Number of ratings.
    pub n_ratings: usize,
    /// Number of distinct users.
    pub n_users: usize,
    /// Number of distinct items.
    pub n_items: usize,
    /// Smallest and largest rating.
    pub range: (f32, f32),
    /// Mean rating.
    pub mean: f64,
    /// Rows repeating an earlier (user, movie) pair.
    pub duplicates: usize,
    /// The earliest and the latest timestamp, where the data has them.
    pub time_range: Option<(i64, i64)>,
    /// Most active users: (raw id, count).
    pub top_users: Vec<(Id, usize)>,
    /// Most rated items: (raw id, count).
    pub top_items: Vec<(Id, usize)>,
    /// Ratings of the top users for the top items.
    pub crosstab: Crosstab,
}

impl Stats {
    /// Computes the statistics with `top` users and items.
    pub fn new(data: &Ratings, top: usize) -> Stats {
        let top_users = top_by_count(&data.users, &data.user_ids, top);
        let top_items = top_by_count(&data.items, &data.item_ids, top);
        let u: Vec<Id> = top_users.iter().map(|x| x.0.clone()).collect();
        let i: Vec<Id> = top_items.iter().map(|x| x.0.clone()).collect();
        Stats {
            n_ratings: data.len(),
            n_users: data.n_users(),
            n_items: data.n_items(),
            range: data.rating_range(),
            mean: data.mean(),
            duplicates: data.duplicate_pairs(),
            time_range: data
                .timestamps
                .iter()
                .min()
                .zip(data.timestamps.iter().max())
                .map(|(&a, &b)| (a, b)),
            crosstab: Crosstab::new(data, &u, &i),
            top_users,
            top_items,
        }
    }

    /// Human-readable report, in the notebook's order.
    pub fn render(&self, source: &str) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "data      {source}");
        let _ = writeln!(s, "ratings   {}", self.n_ratings);
        let _ = writeln!(s, "users     {}", self.n_users);
        let _ = writeln!(s, "movies    {}", self.n_items);
        let _ = writeln!(s, "range     {} .. {}", self.range.0, self.range.1);
        let _ = writeln!(s, "mean      {:.4}", self.mean);
        if let Some((first, last)) = self.time_range {
            let _ = writeln!(s, "time      {} .. {} (UTC)", date(first), date(last));
        }
        let _ = writeln!(
            s,
            "repeated  {} an earlier (user, movie) pair; kept as separate ratings",
            crate::text::repeats(self.duplicates as u64)
        );
        for (title, col, rows) in [
            ("top users", "userId", &self.top_users),
            ("top movies", "movieId", &self.top_items),
        ] {
            let _ = writeln!(s, "\n{title} by number of ratings\n{col:>8}  count");
            for (id, n) in rows.iter() {
                let _ = writeln!(s, "{id:>8}  {n:>5}");
            }
        }
        let ct = &self.crosstab;
        let _ = write!(
            s,
            "\nratings of the top users (rows) for the top movies (columns)\n{:>7}",
            ""
        );
        for i in &ct.items {
            let _ = write!(s, "{i:>6}");
        }
        for (u, row) in ct.users.iter().zip(&ct.cells) {
            let _ = write!(s, "\n{u:>7}");
            for c in row {
                match c {
                    Some(v) => {
                        let _ = write!(s, "{v:>6.1}");
                    }
                    None => {
                        let _ = write!(s, "{:>6}", "NaN");
                    }
                }
            }
        }
        s.push('\n');
        s
    }
}

/// The UTC date of a timestamp in seconds, or the raw number when it is
/// outside the calendar's range.
pub fn date(seconds: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(t) => t.date().to_string(),
        Err(_) => format!("{seconds} s"),
    }
}
