//! Dataset statistics, as the notebook explores them with pandas.

use std::collections::HashMap;

use crate::data::Ratings;

/// Rating counts per raw id, most-rated first; ties go to the smaller id.
/// This is `ratings.groupby(col)['rating'].count().sort_values(ascending=False)`.
pub fn top_by_count(idx: &[u32], raw_ids: &[i64], top: usize) -> Vec<(i64, usize)> {
    let mut counts = vec![0usize; raw_ids.len()];
    for &i in idx {
        counts[i as usize] += 1;
    }
    let mut order: Vec<(i64, usize)> = raw_ids.iter().copied().zip(counts).collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    order.truncate(top);
    order
}

/// `pd.crosstab(userId, movieId, rating, aggfunc=np.sum)` restricted to the
/// given users and items.
#[derive(Debug, Clone, PartialEq)]
pub struct Crosstab {
    /// Row labels (raw user ids), ascending.
    pub users: Vec<i64>,
    /// Column labels (raw item ids), ascending; only items rated by one of
    /// the users appear, as pandas drops all-NaN columns.
    pub items: Vec<i64>,
    /// `cells[r][c]`: the summed rating, or `None` (NaN in pandas).
    pub cells: Vec<Vec<Option<f32>>>,
}

impl Crosstab {
    /// Builds the table of `users` × `items` from `data`.
    pub fn new(data: &Ratings, users: &[i64], items: &[i64]) -> Crosstab {
        let mut sums: HashMap<(i64, i64), f32> = HashMap::new();
        let (uset, iset): (std::collections::HashSet<i64>, std::collections::HashSet<i64>) =
            (users.iter().copied().collect(), items.iter().copied().collect());
        for r in 0..data.len() {
            let u = data.user_ids.raw[data.users[r] as usize];
            let i = data.item_ids.raw[data.items[r] as usize];
            if uset.contains(&u) && iset.contains(&i) {
                *sums.entry((u, i)).or_insert(0.0) += data.ratings[r];
            }
        }
        let mut rows: Vec<i64> = users
            .iter()
            .copied()
            .filter(|u| sums.keys().any(|k| k.0 == *u))
            .collect();
        let mut cols: Vec<i64> = items
            .iter()
            .copied()
            .filter(|i| sums.keys().any(|k| k.1 == *i))
            .collect();
        rows.sort_unstable();
        cols.sort_unstable();
        let cells = rows
            .iter()
            .map(|u| cols.iter().map(|i| sums.get(&(*u, *i)).copied()).collect())
            .collect();
        Crosstab {
            users: rows,
            items: cols,
            cells,
        }
    }

    /// The cell for raw ids `user` × `item`, if both are labels.
    pub fn get(&self, user: i64, item: i64) -> Option<Option<f32>> {
        let r = self.users.iter().position(|&u| u == user)?;
        let c = self.items.iter().position(|&i| i == item)?;
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
    /// Most active users: (raw id, count).
    pub top_users: Vec<(i64, usize)>,
    /// Most rated items: (raw id, count).
    pub top_items: Vec<(i64, usize)>,
    /// Ratings of the top users for the top items.
    pub crosstab: Crosstab,
}

impl Stats {
    /// Computes the statistics with `top` users and items.
    pub fn new(data: &Ratings, top: usize) -> Stats {
        let top_users = top_by_count(&data.users, &data.user_ids.raw, top);
        let top_items = top_by_count(&data.items, &data.item_ids.raw, top);
        let u: Vec<i64> = top_users.iter().map(|x| x.0).collect();
        let i: Vec<i64> = top_items.iter().map(|x| x.0).collect();
        Stats {
            n_ratings: data.len(),
            n_users: data.n_users(),
            n_items: data.n_items(),
            range: data.rating_range(),
            mean: data.mean(),
            duplicates: data.duplicate_pairs(),
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
        let _ = writeln!(
            s,
            "repeated  {} rows repeat an earlier (user, movie) pair; kept as separate ratings",
            self.duplicates
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
