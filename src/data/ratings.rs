//! Loading MovieLens-style ratings CSVs into [`Ratings`].
//!
//! Columns are chosen by header name (fastai's `from_csv(path, file, user,
//! item, rating)`); extra columns are ignored. Raw ids map to contiguous
//! indices in order of first appearance, the way the notebook's
//! `{o: i for i, o in enumerate(ratings.userId.unique())}` does.
//!
//! The file is streamed: a bad row is reported as soon as it is read.

use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::data::archive::{self, RATINGS_FILES};
use crate::data::format::{open_text, sniff, DoubleColonReader, Format, Separator};
use crate::data::ids::{int_id, Id, IdList, IdMap};
use crate::error::{Error, Result};

/// ml-latest-small's `ratings.csv`, compiled into the binary so that the
/// default data works from any directory.
pub const BUNDLED_RATINGS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/ml-latest-small/ratings.csv"
));

/// The name shown for the bundled file in messages and output.
pub const BUNDLED_NAME: &str = "data/ml-latest-small/ratings.csv (bundled)";

/// Where ratings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The copy of ml-latest-small compiled into the binary.
    Bundled,
    /// A CSV file on disk.
    File(PathBuf),
}

impl Source {
    /// `Some(path)` means that file, `None` the bundled data.
    pub fn from_option(path: Option<&Path>) -> Self {
        match path {
            Some(p) => Source::File(p.to_path_buf()),
            None => Source::Bundled,
        }
    }

    /// The name used in messages.
    pub fn display_name(&self) -> String {
        match self {
            Source::Bundled => BUNDLED_NAME.to_string(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

/// Which columns hold the user, the item and the rating, and how the file
/// is laid out when it should not be detected ([`crate::data::format`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// User id column, default `userId`: a header name, or in a file without
    /// a header a position from 1.
    pub user: String,
    /// Item (movie) id column, default `movieId`.
    pub item: String,
    /// Rating column, default `rating`.
    pub rating: String,
    /// The field separator; `None` detects it.
    pub sep: Option<Separator>,
    /// Whether the first line is a header; `None` detects it.
    pub header: Option<bool>,
    /// Skip bad rows (up to [`MAX_BAD_SHARE`] of them), counting them,
    /// instead of stopping at the first.
    pub skip_bad_rows: bool,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            user: "userId".into(),
            item: "movieId".into(),
            rating: "rating".into(),
            sep: None,
            header: None,
            skip_bad_rows: false,
        }
    }
}

impl Columns {
    /// The columns to look up in a file laid out as `format`: the names as
    /// given, except that a file without a header names its columns by
    /// position ("1", "2", ...), and a default name there means its place
    /// in MovieLens's order: user 1, item 2, rating 3.
    fn resolve(&self, format: Format) -> (String, String, String) {
        let d = Columns::default();
        let pick = |given: &String, default: &String, position: &str| {
            if !format.header && given == default {
                position.to_string()
            } else {
                given.clone()
            }
        };
        (
            pick(&self.user, &d.user, "1"),
            pick(&self.item, &d.item, "2"),
            pick(&self.rating, &d.rating, "3"),
        )
    }

    /// What messages call each column of a file laid out as `format`: its
    /// header name, or in a file without a header its role and position
    /// ("rating (column 3)").
    fn labels(&self, format: Format) -> (String, String, String) {
        let (user, item, rating) = self.resolve(format);
        let label = |role: &str, name: String| {
            if format.header {
                name
            } else {
                format!("{role} (column {name})")
            }
        };
        (label("user", user), label("item", item), label("rating", rating))
    }
}

/// A table file opened for reading, as `--data` and `--pairs` read one:
/// decompressed ([`open_text`]), its separator and header found or taken
/// from `columns` ([`sniff`]), `::` turned into one byte, and the user,
/// item and rating columns looked up in it.
pub struct Table<'a> {
    /// The rows.
    pub rows: CsvRows<Box<dyn Read + Send + 'a>>,
    /// The layout found.
    pub format: Format,
    /// The user and item columns.
    pub user: usize,
    /// The item column.
    pub item: usize,
    /// The rating column, where the file has it.
    pub rating: Option<usize>,
    /// The timestamp column, where the file has it.
    pub timestamp: Option<usize>,
    /// What messages call the user, item and rating columns.
    pub labels: Columns,
}

impl<'a> Table<'a> {
    /// Opens `reader` (named `name` in messages; `what` names its rows for
    /// the empty-file message). With `need_rating` a missing rating column
    /// is an error; without it the column is optional, as in a pairs file.
    pub fn open(
        reader: Box<dyn Read + Send + 'a>,
        name: &str,
        what: &str,
        columns: &Columns,
        need_rating: bool,
    ) -> Result<Table<'a>> {
        let mut text = open_text(reader, name)?;
        let head = std::io::BufRead::fill_buf(&mut text).map_err(|e| Error::Io {
            file: name.to_string(),
            source: e,
        })?;
        let format = sniff(head, columns.sep, columns.header);
        let text: Box<dyn Read + Send + 'a> = match format.sep {
            Separator::DoubleColon => Box::new(DoubleColonReader::new(text)),
            Separator::Byte(_) => Box::new(text),
        };
        let rows = CsvRows::with_format(text, name, what, format)?;
        let (user, item, rating) = columns.resolve(format);
        let (ucol, icol) = (rows.column(&user)?, rows.column(&item)?);
        let rcol = if need_rating {
            Some(rows.column(&rating)?)
        } else {
            rows.optional_column(&rating)
        };
        // The timestamp, by name, or as the fourth column of a file without a header.
        let tcol = rows.optional_column(if format.header { "timestamp" } else { "4" });
        let (user, item, rating) = columns.labels(format);
        Ok(Table {
            rows,
            format,
            user: ucol,
            item: icol,
            rating: rcol,
            timestamp: tcol,
            labels: Columns {
                user,
                item,
                rating,
                ..columns.clone()
            },
        })
    }
}

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

/// Opens `source` for reading; a zip archive opens its ratings member.
pub fn open(source: &Source, bundled: &'static [u8]) -> Result<Box<dyn Read + Send>> {
    Ok(open_named(source, bundled, RATINGS_FILES)?.0)
}

/// Opens `source` for reading, and gives the name to use in messages: the
/// file's, or for a zip archive ([`crate::data::archive`]) the file's and
/// its member's (`ml-25m.zip: ml-25m/ratings.csv`), the member being the
/// one named one of `wanted`.
pub fn open_named(
    source: &Source,
    bundled: &'static [u8],
    wanted: &[&str],
) -> Result<(Box<dyn Read + Send>, String)> {
    match source {
        Source::Bundled => Ok((Box::new(bundled), source.display_name())),
        Source::File(path) => {
            let name = path.display().to_string();
            let file = File::open(path).map_err(|e| Error::Io {
                file: name.clone(),
                source: e,
            })?;
            if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                return Err(Error::File {
                    file: name,
                    msg: "is a directory, not a CSV file".into(),
                });
            }
            if archive::is_zip(path) {
                let (reader, member) =
                    archive::open_member(path, &name, wanted, true)?.ok_or_else(|| Error::File {
                        file: name.clone(),
                        msg: "holds no member to read".into(),
                    })?;
                return Ok((reader, format!("{name}: {member}")));
            }
            Ok((Box::new(std::io::BufReader::new(file)), name))
        }
    }
}

/// A CSV file read row by row, with columns picked by header name and every
/// error naming the file and the 1-based line. Rows must have as many fields
/// as the header; quoted fields, CRLF and a UTF-8 BOM are fine.
pub struct CsvRows<R: Read> {
    csv: csv::Reader<R>,
    name: String,
    header: Vec<String>,
    record: csv::ByteRecord,
    line: u64,
    /// The file's layout (for messages).
    format: Format,
    /// The header's line (0 without one).
    header_line: u64,
    /// A file without a header: its first row, read to count the columns,
    /// not yet handed out.
    pending: bool,
}

impl<R: Read> CsvRows<R> {
    /// Reads the header of a comma-separated file with one; `what` names
    /// the rows expected, for the empty-file message.
    pub fn new(reader: R, name: &str, what: &str) -> Result<Self> {
        let format = Format {
            sep: Separator::Byte(b','),
            header: true,
        };
        Self::with_format(reader, name, what, format)
    }

    /// Reads a file laid out as `format` (`::` already turned into its
    /// byte by [`DoubleColonReader`]). Without a header its columns are
    /// named by position from 1.
    pub fn with_format(reader: R, name: &str, what: &str, format: Format) -> Result<Self> {
        // The header is read as a row, so that blank lines before it are skipped too.
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(format.sep.byte())
            .flexible(true)
            .from_reader(reader);
        let empty = || Error::File {
            file: name.to_string(),
            msg: format!(
                "file is empty: expected {}{what}",
                if format.header { "a header line and " } else { "" }
            ),
        };
        let mut record = csv::ByteRecord::new();
        loop {
            if !csv
                .read_byte_record(&mut record)
                .map_err(|e| csv_error(e, name))?
            {
                return Err(empty());
            }
            if !blank(&record, format.sep) {
                break;
            }
        }
        let first_line = record.position().map_or(1, |p| p.line());
        let header: Vec<String> = if format.header {
            let mut fields: Vec<&[u8]> = record.iter().collect();
            // A byte-order mark starts the file, so it can only be on the header.
            if let Some(f) = fields.first_mut() {
                *f = f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f);
            }
            fields
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_string())
                .collect()
        } else {
            (1..=record.len()).map(|k| k.to_string()).collect()
        };
        Ok(CsvRows {
            csv,
            name: name.to_string(),
            header,
            record,
            line: if format.header { first_line } else { 0 },
            header_line: if format.header { first_line } else { 0 },
            format,
            pending: !format.header,
        })
    }

    /// The index of column `col`, or an error listing the header and
    /// saying how to name the columns (and, where the header line holds
    /// another separator, which one to try).
    pub fn column(&self, col: &str) -> Result<usize> {
        self.optional_column(col).ok_or_else(|| {
            let mut msg = if self.format.header {
                format!(
                    "column '{col}' not found in the header (columns are: {}); name the columns with --user-col, --item-col and --rating-col",
                    self.header.join(", ")
                )
            } else {
                format!(
                    "this file has no header and {} columns, so there is no column '{col}'; give positions from 1 with --user-col, --item-col and --rating-col",
                    self.header.len()
                )
            };
            if self.header.len() == 1 {
                let line = self.header[0].as_bytes();
                let other = sniff(line, None, Some(true)).sep;
                if other != self.format.sep {
                    msg.push_str(&format!(
                        "; this file looks {}-separated: try {}",
                        other.describe(),
                        other.flag()
                    ));
                }
            }
            Error::Line {
                file: self.name.clone(),
                line: self.header_line.max(1),
                msg,
            }
        })
    }

    /// The index of column `col`, if the header has it.
    pub fn optional_column(&self, col: &str) -> Option<usize> {
        self.header.iter().position(|h| h == col)
    }

    /// Advances to the next row; false at the end of the file.
    pub fn advance(&mut self) -> Result<bool> {
        if self.pending {
            self.pending = false;
            self.line = self.record.position().map(|p| p.line()).unwrap_or(1);
            return Ok(true);
        }
        // Blank and whitespace-only lines are skipped wherever they are
        // (the csv crate skips only empty ones).
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(false) => return Ok(false),
                Ok(true) if blank(&self.record, self.format.sep) => {}
                Ok(true) => break,
                Err(e) => return Err(csv_error(e, &self.name)),
            }
        }
        self.line = self.record.position().map(|p| p.line()).unwrap_or(self.line + 1);
        if self.record.len() != self.header.len() {
            return Err(self.error(format!(
                "expected {} fields as in the header, found {}",
                self.header.len(),
                self.record.len()
            )));
        }
        Ok(true)
    }

    /// The 1-based line of the current row.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// An error at the current row.
    pub fn error(&self, msg: String) -> Error {
        Error::Line {
            file: self.name.clone(),
            line: self.line,
            msg,
        }
    }

    /// The error for a file with a header and no rows.
    pub fn no_rows(&self) -> Error {
        Error::Line {
            file: self.name.clone(),
            line: self.header_line.max(1),
            msg: "header has no data rows".into(),
        }
    }

    /// Field `i` of the current row as trimmed text.
    pub fn text(&self, i: usize, col: &str) -> Result<&str> {
        std::str::from_utf8(self.record[i].trim_ascii())
            .map_err(|_| self.error(format!("{col} field is not valid UTF-8")))
    }

    /// Field `i` as a raw id: an integer when it is written as one (`1.0`,
    /// as pandas exports ids, is the integer 1), otherwise its text
    /// ([`crate::data::ids`] gives the rule). The integer is parsed straight
    /// from the bytes: this runs twice a row.
    pub fn id(&self, i: usize, col: &str) -> Result<Id> {
        match self.int_id(i) {
            Some(v) => Ok(Id::Int(v)),
            None => Ok(Id::Text(self.text_id(i, col)?.to_string())),
        }
    }

    /// Field `i` as a text id: not empty, and free of control characters
    /// and of byte-order marks (a sign of files joined end to end).
    pub fn text_id(&self, i: usize, col: &str) -> Result<&str> {
        let s = self.text(i, col)?;
        if s.is_empty() {
            return Err(self.error(format!("{col} is empty")));
        }
        if s.contains('\u{feff}') {
            return Err(self.error(format!(
                "{col} '{s}' holds a byte-order mark (U+FEFF), which belongs only at the start of a file; \
                 was it made by joining files?"
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(self.error(format!("{col} {s:?} holds a control character")));
        }
        Ok(s)
    }

    /// Field `i` as an integer id, when it is written as one.
    #[inline]
    pub fn int_id(&self, i: usize) -> Option<i64> {
        int_id(self.record[i].trim_ascii())
    }

    /// Field `i` as a timestamp: an integer number of seconds.
    pub fn timestamp(&self, i: usize) -> Result<i64> {
        match parse_i64(self.record[i].trim_ascii()) {
            Some(v) => Ok(v),
            None => {
                let s = self.text(i, "timestamp")?;
                Err(self.error(format!("timestamp '{s}' is not an integer number of seconds")))
            }
        }
    }

    /// Field `i` as a finite number.
    pub fn number(&self, i: usize, col: &str) -> Result<f32> {
        let s = self.text(i, col)?;
        let v: f32 = s
            .parse()
            .map_err(|_| self.error(format!("{col} '{s}' is not a number")))?;
        if !v.is_finite() {
            return Err(self.error(format!("{col} '{s}' is not a finite number")));
        }
        Ok(v)
    }
}

/// A line holding nothing but whitespace (spaces, tabs, a CR): one blank
/// field, or with a whitespace separator several.
fn blank(record: &csv::ByteRecord, sep: Separator) -> bool {
    let whitespace_sep = matches!(sep, Separator::Byte(b) if b.is_ascii_whitespace());
    (record.len() == 1 || whitespace_sep) && record.iter().all(|f| f.trim_ascii().is_empty())
}

/// A decimal integer with an optional sign, as `str::parse::<i64>` reads it;
/// `None` for anything else, including overflow.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate negatively, so that i64::MIN has room.
    let mut v: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_sub(d as i64)?;
    }
    if neg {
        Some(v)
    } else {
        v.checked_neg()
    }
}

/// A reading error from the csv crate. With flexible records and byte
/// fields, the only failure left is I/O (a file that vanished, a disk
/// error, invalid data from a pipe).
fn csv_error(e: csv::Error, name: &str) -> Error {
    let line = e.position().map(|p| p.line());
    let msg = e.to_string();
    match (e.into_kind(), line) {
        (csv::ErrorKind::Io(source), _) => Error::Io {
            file: name.to_string(),
            source,
        },
        (_, Some(line)) => Error::Line {
            file: name.to_string(),
            line,
            msg,
        },
        (_, None) => Error::File {
            file: name.to_string(),
            msg,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ids::IdList;

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
    fn parse_i64_agrees_with_str_parse() {
        let cases = [
            "0",
            "7",
            "-3",
            "+12",
            "0042",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "-9223372036854775809",
            "",
            "-",
            "+",
            "1.0",
            "1e3",
            "12a",
            " 1",
            "--1",
            "99999999999999999999",
        ];
        for c in cases {
            assert_eq!(parse_i64(c.as_bytes()), c.parse::<i64>().ok(), "{c:?}");
        }
    }

    #[test]
    fn bundled_data_loads() {
        let r = Ratings::load(&Source::Bundled, &Columns::default()).unwrap();
        assert_eq!((r.len(), r.n_users(), r.n_items()), (100_836, 610, 9_724));
        assert_eq!(r.rating_range(), (0.5, 5.0));
    }
}
