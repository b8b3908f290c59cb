//! Table files as `--data` and `--pairs` read them: where they come from
//! ([`Source`]: the bundled set or a file, a zip's member included), which
//! columns to read ([`Columns`]), and the one opener ([`Table::open`]) that
//! decompresses, finds the separator and the header, and hands out rows
//! ([`CsvRows`]) whose every error names the file and the line.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::data::archive::{self, RATINGS_FILES};
use crate::data::format::{open_text, sniff, DoubleColonReader, Format, Separator};
use crate::data::ids::{int_id, Id};
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
    /// Skip bad rows (up to [`crate::data::MAX_BAD_SHARE`] of them), counting them,
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
}
