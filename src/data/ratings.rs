//! Loading MovieLens-style ratings CSVs into [`Ratings`].
//!
//! Columns are chosen by header name (fastai's `from_csv(path, file, user,
//! item, rating)`); extra columns are ignored. Raw ids map to contiguous
//! indices in order of first appearance, the way the notebook's
//! `{o: i for i, o in enumerate(ratings.userId.unique())}` does.
//!
//! The file is streamed: a bad row is reported as soon as it is read.

use std::io::Read;
use std::ops::Range;

use crate::data::archive::RATINGS_FILES;
use crate::data::ids::{Id, IdList, IdMap};
use crate::data::table::{open_named, Columns, Source, Table, BUNDLED_RATINGS};
use crate::error::{Error, Result};

/// A ratings table in columnar form: row `r` says user `users[r]` gave item
/// `items[r]` the rating `ratings[r]`.
#[derive(Debug, Clone)]
pub struct Ratings {
    /// Where the data came from, for messages.
    pub source: String,
    /// User index of each row, in `0..users.len()`.
    pub users: Vec<u32>,
    /// Item index of each row.
    pub items: Vec<u32>,
    /// Rating of each row.
    pub ratings: Vec<f32>,
    /// User ids, both ways.
    pub user_ids: IdMap,
    /// Item ids, both ways.
    pub item_ids: IdMap,
    /// Each row's timestamp (integer seconds, as MovieLens writes them),
    /// where the file has a `timestamp` column (or, without a header, a
    /// fourth one); empty otherwise. Evaluation by time needs it.
    pub timestamps: Vec<i64>,
    /// The bad rows `--skip-bad-rows` skipped (none without it: the first
    /// bad row is an error).
    pub skipped: BadRows,
}

/// At most this share of a file's rows may be bad for `--skip-bad-rows` to
/// skip them; past it the file is refused.
pub const MAX_BAD_SHARE: f64 = 0.01;

/// Rows skipped as bad: how many, and the first few, each as "line N: what".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BadRows {
    /// How many rows were skipped.
    pub count: usize,
    /// The first [`BadRows::SHOWN`] of them.
    pub first: Vec<String>,
}

impl BadRows {
    /// How many are kept to show.
    pub const SHOWN: usize = 3;

    fn push(&mut self, line: u64, msg: String) {
        self.count += 1;
        if self.first.len() < Self::SHOWN {
            self.first.push(format!("line {line}: {msg}"));
        }
    }

    /// A line for the user, when rows were skipped.
    pub fn note(&self) -> Option<String> {
        (self.count > 0).then(|| {
            format!(
                "skipped {} (--skip-bad-rows){}: {}",
                crate::text::count(self.count as u64, "bad row"),
                if self.count > self.first.len() {
                    ", the first"
                } else {
                    ""
                },
                self.first.join("; ")
            )
        })
    }
}

/// A bad row's error, with a word on `--skip-bad-rows` when it was not given.
fn with_skip_hint(e: Error, skipping: bool) -> Error {
    match e {
        Error::Line { file, line, msg } if !skipping => Error::Line {
            file,
            line,
            msg: format!(
                "{msg} (--skip-bad-rows skips such rows, up to {}% of a file)",
                MAX_BAD_SHARE * 100.0
            ),
        },
        e => e,
    }
}

impl Ratings {
    /// Number of rating rows.
    pub fn len(&self) -> usize {
        self.ratings.len()
    }

    /// True when there are no rows (never true for loaded data).
    pub fn is_empty(&self) -> bool {
        self.ratings.is_empty()
    }

    /// Number of distinct users.
    pub fn n_users(&self) -> usize {
        self.user_ids.len()
    }

    /// Number of distinct items.
    pub fn n_items(&self) -> usize {
        self.item_ids.len()
    }

    /// Smallest and largest rating.
    pub fn rating_range(&self) -> (f32, f32) {
        let lo = self.ratings.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = self.ratings.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        (lo, hi)
    }

    /// Rows whose (user, movie) pair already appeared earlier in the file.
    /// Such rows are kept as separate ratings everywhere (training, the
    /// split, stats), as pandas and fastai keep them.
    pub fn duplicate_pairs(&self) -> usize {
        let mut pairs: Vec<u64> = self
            .users
            .iter()
            .zip(&self.items)
            .map(|(&u, &i)| (u as u64) << 32 | i as u64)
            .collect();
        pairs.sort_unstable();
        pairs.windows(2).filter(|w| w[0] == w[1]).count()
    }

    /// A fingerprint of the data: the CRC-32 of its ids (both columns, in
    /// index order) and of every row (user index, item index, rating bits,
    /// little-endian). Two loads of the same file under the same flags give
    /// the same value; other ids, other rows or another row order give
    /// another, but for a chance of 1 in 2^32.
    pub fn fingerprint(&self) -> u32 {
        let mut h = crc32fast::Hasher::new();
        for ids in [self.user_ids.list(), self.item_ids.list()] {
            match ids {
                IdList::Int(v) => {
                    h.update(b"int");
                    v.iter().for_each(|x| h.update(&x.to_le_bytes()));
                }
                IdList::Text(v) => {
                    h.update(b"text");
                    for s in v {
                        h.update(&(s.len() as u64).to_le_bytes());
                        h.update(s.as_bytes());
                    }
                }
            }
        }
        // Rows in blocks, so that the hasher sees long runs of bytes.
        let mut buf = Vec::with_capacity(12 * 4096);
        for start in (0..self.len()).step_by(4096) {
            buf.clear();
            for r in start..(start + 4096).min(self.len()) {
                buf.extend_from_slice(&self.users[r].to_le_bytes());
                buf.extend_from_slice(&self.items[r].to_le_bytes());
                buf.extend_from_slice(&self.ratings[r].to_bits().to_le_bytes());
            }
            h.update(&buf);
        }
        h.finalize()
    }

    /// Mean rating, accumulated in f64.
    pub fn mean(&self) -> f64 {
        self.ratings.iter().map(|&r| r as f64).sum::<f64>() / self.len() as f64
    }

    /// Loads ratings from `source`, picking `columns` by header name.
    pub fn load(source: &Source, columns: &Columns) -> Result<Ratings> {
        let (reader, name) = open_named(source, BUNDLED_RATINGS, RATINGS_FILES)?;
        Self::from_reader(reader, &name, columns)
    }

    /// Ratings from memory (a DataFrame's columns, say): row `r` is user
    /// `users[r]`, item `items[r]`, rating `ratings[r]`, with ids as the
    /// user knows them, each mapped to its index by the rules a file's are
    /// ([`IdMap`]: first-seen order). `timestamps` is empty or one a row.
    /// `name` names the data in messages, and an error names the row, from 0.
    pub fn from_rows(
        name: &str,
        users: &[Id],
        items: &[Id],
        ratings: &[f32],
        timestamps: Vec<i64>,
    ) -> Result<Ratings> {
        let n = ratings.len();
        let bad = |msg: String| Error::File {
            file: name.to_string(),
            msg,
        };
        if users.len() != n || items.len() != n || !(timestamps.is_empty() || timestamps.len() == n) {
            return Err(bad(format!(
                "{} users, {} items, {n} ratings and {} timestamps: one of each a row",
                users.len(),
                items.len(),
                timestamps.len()
            )));
        }
        if n == 0 {
            return Err(bad("no rating rows".into()));
        }
        if let Some(r) = ratings.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "row {r}: rating {} is not a finite number",
                ratings[r]
            )));
        }
        let mut out = Ratings {
            source: name.to_string(),
            users: Vec::with_capacity(n),
            items: Vec::with_capacity(n),
            ratings: ratings.to_vec(),
            user_ids: IdMap::default(),
            item_ids: IdMap::default(),
            timestamps,
            skipped: BadRows::default(),
        };
        let intern = |map: &mut IdMap, id: &Id| match id {
            Id::Int(v) => map.intern(*v),
            Id::Text(t) => map.intern_text(t),
        };
        for (u, i) in users.iter().zip(items) {
            out.users.push(intern(&mut out.user_ids, u));
            out.items.push(intern(&mut out.item_ids, i));
        }
        Ok(out)
    }

    /// Parses a ratings CSV from any reader; `name` is used in messages.
    ///
    /// Two threads share the work: one reads and parses fields, the other
    /// maps ids to indices and stores the columns. Chunks of rows pass
    /// between them through a channel of bounded depth, so memory stays
    /// bounded, and the first bad row ends the load at once.
    pub fn from_reader<R: Read + Send>(reader: R, name: &str, columns: &Columns) -> Result<Ratings> {
        const CHUNK: usize = 1 << 15;
        let table = Table::open(Box::new(reader), name, "rating rows", columns, true)?;
        let Table {
            mut rows,
            user: ucol,
            item: icol,
            timestamp: tcol,
            ..
        } = table;
        let rcol = table.rating.expect("a rating column, as asked");
        let columns = &table.labels;
        let skip_bad = columns.skip_bad_rows;
        let mut out = Ratings {
            source: name.to_string(),
            users: Vec::new(),
            items: Vec::new(),
            ratings: Vec::new(),
            user_ids: IdMap::default(),
            item_ids: IdMap::default(),
            timestamps: Vec::new(),
            skipped: BadRows::default(),
        };
        std::thread::scope(|s| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Chunk>>(4);
            s.spawn(move || loop {
                let mut chunk = Chunk::with_capacity(CHUNK, tcol.is_some());
                // Every field of a row is read before any is stored, so that
                // a bad row (skipped with --skip-bad-rows) leaves no trace.
                let mut next = |chunk: &mut Chunk| -> Result<bool> {
                    if !rows.advance()? {
                        return Ok(false);
                    }
                    let r = rows.number(rcol, &columns.rating)?;
                    let t = tcol.map(|t| rows.timestamp(t)).transpose()?;
                    match (rows.int_id(ucol), rows.int_id(icol)) {
                        (Some(u), Some(i)) => chunk.push_ints(u, i, r),
                        (u, i) => {
                            let field = |v: Option<i64>, col: usize, name: &str| match v {
                                Some(v) => Ok(RawId::Int(v)),
                                None => rows.text_id(col, name).map(RawId::Text),
                            };
                            let (u, i) = (field(u, ucol, &columns.user)?, field(i, icol, &columns.item)?);
                            chunk.push(u, i, r)
                        }
                    }
                    if let Some(t) = t {
                        chunk.timestamps.push(t);
                    }
                    Ok(true)
                };
                let mut more = true;
                let mut failed = None;
                while chunk.ratings.len() < CHUNK {
                    match next(&mut chunk) {
                        Ok(true) => {}
                        Ok(false) => {
                            more = false;
                            break;
                        }
                        Err(Error::Line { line, msg, .. }) if skip_bad => chunk.bad.push(line, msg),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                // The rows before a bad one are sent first; a closed channel
                // means the other side has stopped and wants nothing more.
                if !chunk.ratings.is_empty() && tx.send(Ok(chunk)).is_err() {
                    return;
                }
                if let Some(e) = failed {
                    let _ = tx.send(Err(e));
                    return;
                }
                if !more {
                    return;
                }
            });
            for msg in rx {
                msg.map_err(|e| with_skip_hint(e, skip_bad))?.append_to(&mut out);
            }
            Ok(())
        })?;
        let (bad, all) = (out.skipped.count, out.skipped.count + out.len());
        if bad as f64 > MAX_BAD_SHARE * all as f64 {
            return Err(Error::File {
                file: name.to_string(),
                msg: format!(
                    "{bad} of {all} rows are bad, more than --skip-bad-rows skips ({}%): {}; is this the right file, \
                     and are the columns the right ones?",
                    MAX_BAD_SHARE * 100.0,
                    out.skipped.first.join("; ")
                ),
            });
        }
        if out.is_empty() {
            return Err(Error::Line {
                file: name.to_string(),
                line: 1,
                msg: "header has no data rows".into(),
            });
        }
        Ok(out)
    }
}

/// An id field as the reading thread finds it, borrowed from the row.
enum RawId<'a> {
    Int(i64),
    Text(&'a str),
}

/// Rows parsed by the reading thread, on their way to [`Ratings`]. Integer
/// ids travel as `i64`. A text id leaves a placeholder there and travels as
/// (row in the chunk, where its bytes lie in `text`): no allocation a row,
/// and none at all on the integer path.
struct Chunk {
    users: Vec<i64>,
    items: Vec<i64>,
    ratings: Vec<f32>,
    timestamps: Vec<i64>,
    text: String,
    user_text: Vec<(usize, Range<usize>)>,
    item_text: Vec<(usize, Range<usize>)>,
    bad: BadRows,
}

impl Chunk {
    fn with_capacity(n: usize, timestamps: bool) -> Chunk {
        Chunk {
            users: Vec::with_capacity(n),
            items: Vec::with_capacity(n),
            ratings: Vec::with_capacity(n),
            timestamps: Vec::with_capacity(if timestamps { n } else { 0 }),
            text: String::new(),
            user_text: Vec::new(),
            item_text: Vec::new(),
            bad: BadRows::default(),
        }
    }

    /// A row whose ids are both integers: the MovieLens path.
    fn push_ints(&mut self, user: i64, item: i64, rating: f32) {
        self.users.push(user);
        self.items.push(item);
        self.ratings.push(rating);
    }

    /// A row with at least one text id.
    fn push(&mut self, user: RawId, item: RawId, rating: f32) {
        let row = self.ratings.len();
        for (id, ints, texts) in [
            (user, &mut self.users, &mut self.user_text),
            (item, &mut self.items, &mut self.item_text),
        ] {
            match id {
                RawId::Int(v) => ints.push(v),
                RawId::Text(s) => {
                    ints.push(0);
                    let start = self.text.len();
                    self.text.push_str(s);
                    texts.push((row, start..self.text.len()));
                }
            }
        }
        self.ratings.push(rating);
    }

    /// Maps the chunk's ids to indices, in row order, and stores its rows.
    fn append_to(self, out: &mut Ratings) {
        let map = |ints: &[i64], texts: &[(usize, Range<usize>)], ids: &mut IdMap, into: &mut Vec<u32>| {
            if texts.is_empty() {
                // Every id an integer: the MovieLens path, kept tight.
                into.extend(ints.iter().map(|&v| ids.intern(v)));
                return;
            }
            into.reserve(ints.len());
            let mut texts = texts.iter().peekable();
            for (row, &v) in ints.iter().enumerate() {
                into.push(match texts.next_if(|t| t.0 == row) {
                    Some((_, at)) => ids.intern_text(&self.text[at.clone()]),
                    None => ids.intern(v),
                });
            }
        };
        map(&self.users, &self.user_text, &mut out.user_ids, &mut out.users);
        map(&self.items, &self.item_text, &mut out.item_ids, &mut out.items);
        out.ratings.extend_from_slice(&self.ratings);
        out.timestamps.extend_from_slice(&self.timestamps);
        out.skipped.count += self.bad.count;
        for m in self.bad.first {
            if out.skipped.first.len() < BadRows::SHOWN {
                out.skipped.first.push(m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ids::IdList;

    #[test]
    fn rows_from_memory_map_as_the_file_does() {
        let file = Ratings::load(&Source::Bundled, &Columns::default()).unwrap();
        let ids = |map: &IdMap, idx: &[u32]| idx.iter().map(|&k| map.get(k as usize)).collect::<Vec<Id>>();
        let (u, i) = (ids(&file.user_ids, &file.users), ids(&file.item_ids, &file.items));
        let mem = Ratings::from_rows("df", &u, &i, &file.ratings, file.timestamps.clone()).unwrap();
        assert_eq!(
            (&mem.users, &mem.items, &mem.ratings),
            (&file.users, &file.items, &file.ratings)
        );
        assert_eq!(
            (mem.user_ids == file.user_ids, mem.item_ids == file.item_ids),
            (true, true)
        );
        assert_eq!(mem.fingerprint(), file.fingerprint());
        // Text ids, a mismatch of lengths and a NaN rating.
        let t = |s: &str| Id::parse(s);
        let r =
            Ratings::from_rows("df", &[t("a7"), t("42")], &[t("x"), t("x")], &[4.0, 3.5], vec![]).unwrap();
        assert_eq!((r.n_users(), r.n_items(), r.items.clone()), (2, 1, vec![0, 0]));
        let e = Ratings::from_rows("df", &[t("a")], &[], &[1.0], vec![])
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 users, 0 items, 1 ratings"), "{e}");
        let e = Ratings::from_rows(
            "df",
            &[t("a"), t("b")],
            &[t("x"), t("y")],
            &[1.0, f32::NAN],
            vec![],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "df: row 1: rating NaN is not a finite number");
    }

    fn parse(text: &str) -> Result<Ratings> {
        Ratings::from_reader(text.as_bytes(), "t.csv", &Columns::default())
    }

    #[test]
    fn ids_map_in_order_of_first_appearance() {
        let r = parse("userId,movieId,rating\n7,30,4\n5,10,3.5\n7,10,1\n").unwrap();
        assert_eq!(r.users, vec![0, 1, 0]);
        assert_eq!(r.items, vec![0, 1, 1]);
        assert_eq!(r.user_ids.list(), &IdList::Int(vec![7, 5]));
        assert_eq!(r.item_ids.find(&Id::Int(10)), Some(1));
        assert_eq!(r.ratings, vec![4.0, 3.5, 1.0]);
    }

    #[test]
    fn crlf_quotes_extra_columns_and_custom_names() {
        let text = "ts,\"who\",what,stars\r\n1,\"3\",\"9\",\"2.5\"\r\n2,4,9,5\r\n";
        let cols = Columns {
            user: "who".into(),
            item: "what".into(),
            rating: "stars".into(),
            ..Columns::default()
        };
        let r = Ratings::from_reader(text.as_bytes(), "t.csv", &cols).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.user_ids.list(), &IdList::Int(vec![3, 4]));
        assert_eq!(r.ratings, vec![2.5, 5.0]);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("userId,movieId,rating\n1,2,3\n1,2\n")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "t.csv: line 3: expected 3 fields as in the header, found 2 (--skip-bad-rows skips such rows, up to 1% of a file)");
        let e = parse("userId,movieId,rating\n1,2,abc\n").unwrap_err().to_string();
        assert_eq!(e, "t.csv: line 2: rating 'abc' is not a number (--skip-bad-rows skips such rows, up to 1% of a file)");
        let e = parse("userId,movieId,rating\n1,2,NaN\n").unwrap_err().to_string();
        assert_eq!(e, "t.csv: line 2: rating 'NaN' is not a finite number (--skip-bad-rows skips such rows, up to 1% of a file)");
        let e = parse("userId,item,rating\n1,2,3\n").unwrap_err().to_string();
        assert!(e.starts_with("t.csv: line 1: column 'movieId' not found"), "{e}");
        let e = parse("").unwrap_err().to_string();
        assert!(e.starts_with("t.csv: file is empty"), "{e}");
        let e = parse("userId,movieId,rating\n").unwrap_err().to_string();
        assert_eq!(e, "t.csv: line 1: header has no data rows");
    }

    #[test]
    fn bundled_data_loads() {
        let r = Ratings::load(&Source::Bundled, &Columns::default()).unwrap();
        assert_eq!((r.len(), r.n_users(), r.n_items()), (100_836, 610, 9_724));
        assert_eq!(r.rating_range(), (0.5, 5.0));
    }
}
