//! What a ratings file looks like, found from its first bytes: compression
//! (gzip, bzip2, xz and zstd are read through; other binary data is refused
//! by name; zip archives are opened in [`crate::data::archive`]), the field
//! separator (`,` tab `::` `;` `|`), and whether the first line is a header.
//! A first line whose user, item and rating fields are numbers is data, and
//! then the columns are MovieLens's order: user, item, rating[, timestamp].
//!
//! MovieLens publishes ratings in four shapes, all read without flags:
//! 100k's `u.data` (tab-separated, no header), 1M's and 10M's `ratings.dat`
//! (`::`, no header), and 20M's, 25M's and latest's `ratings.csv` (comma,
//! header `userId,movieId,rating,timestamp`).

use std::io::{BufRead, BufReader, Read};

use crate::error::{Error, Result};

/// How fields are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Separator {
    /// One byte: `,` tab `;` `|` or any other.
    Byte(u8),
    /// Two colons, as in MovieLens 1M and 10M's `ratings.dat`.
    DoubleColon,
}

impl Separator {
    /// The byte the CSV reader splits on: the separator itself, or for `::`
    /// the unit separator (0x1F) that [`DoubleColonReader`] puts in its place.
    pub fn byte(self) -> u8 {
        match self {
            Separator::Byte(b) => b,
            Separator::DoubleColon => 0x1F,
        }
    }

    /// A name for messages: "comma", "tab", "'::'".
    pub fn describe(self) -> String {
        match self {
            Separator::Byte(b',') => "comma".into(),
            Separator::Byte(b'\t') => "tab".into(),
            Separator::Byte(b';') => "semicolon".into(),
            Separator::Byte(b'|') => "'|'".into(),
            Separator::Byte(b) => format!("'{}'", b as char),
            Separator::DoubleColon => "'::'".into(),
        }
    }

    /// How to ask for it on the command line.
    pub fn flag(self) -> String {
        match self {
            Separator::Byte(b'\t') => "--sep tab".into(),
            Separator::Byte(b) => format!("--sep '{}'", b as char),
            Separator::DoubleColon => "--sep '::'".into(),
        }
    }
}

impl std::str::FromStr for Separator {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Separator, String> {
        match s {
            "tab" | "\\t" | "\t" => Ok(Separator::Byte(b'\t')),
            "::" => Ok(Separator::DoubleColon),
            "comma" => Ok(Separator::Byte(b',')),
            _ if s.len() == 1 && s.is_ascii() && s != "\n" && s != "\"" => {
                Ok(Separator::Byte(s.as_bytes()[0]))
            }
            _ => Err(format!(
                "'{s}': a separator is one character (',', ';', '|'), 'tab' or '::'"
            )),
        }
    }
}

/// The separators tried, in the order that breaks ties.
const CANDIDATES: [u8; 4] = [b'\t', b',', b';', b'|'];

/// What [`sniff`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// The field separator.
    pub sep: Separator,
    /// Whether the first line is a header.
    pub header: bool,
}

/// The separator and header of a file that starts with `head`: `::` if the
/// first line has it, else the most frequent of tab, `,`, `;` and `|` on it
/// (comma when none). The first line is a header unless its first fields
/// (at least two, up to three) are numbers. `sep` and `header` override what is found.
pub fn sniff(head: &[u8], sep: Option<Separator>, header: Option<bool>) -> Format {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    // The first line with anything on it: blank lines are skipped wherever they are.
    let line = head
        .split(|&b| b == b'\n')
        .find(|l| !l.trim_ascii().is_empty())
        .unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let sep = sep.unwrap_or_else(|| {
        if line.windows(2).any(|w| w == b"::") {
            return Separator::DoubleColon;
        }
        let count = |c: u8| line.iter().filter(|&&b| b == c).count();
        let best = CANDIDATES
            .iter()
            .copied()
            .max_by_key(|&c| (count(c), std::cmp::Reverse(c)));
        match best {
            Some(c) if count(c) > 0 => Separator::Byte(c),
            _ => Separator::Byte(b','),
        }
    });
    let header = header.unwrap_or_else(|| {
        let fields: Vec<&[u8]> = match sep {
            Separator::DoubleColon => split_double_colon(line),
            Separator::Byte(b) => line.split(|&x| x == b).collect(),
        };
        let number = |f: &[u8]| {
            std::str::from_utf8(f.trim_ascii())
                .ok()
                .and_then(|s| s.trim_matches('"').parse::<f64>().ok())
                .is_some()
        };
        let k = fields.len().min(3);
        !(k >= 2 && fields[..k].iter().all(|f| number(f)))
    });
    Format { sep, header }
}

fn split_double_colon(line: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < line.len() {
        if line[i] == b':' && line[i + 1] == b':' {
            out.push(&line[start..i]);
            i += 2;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&line[start..]);
    out
}

/// The bytes each compressed format starts with.
const GZIP: &[u8] = &[0x1F, 0x8B];
const ZSTD: &[u8] = &[0x28, 0xB5, 0x2F, 0xFD];
const BZIP2: &[u8] = b"BZh";
const XZ: &[u8] = &[0xFD, b'7', b'z', b'X', b'Z', 0x00];
/// A zip archive's first local header; an empty one starts with its end record.
pub const ZIP: &[u8] = b"PK\x03\x04";
const ZIP_EMPTY: &[u8] = b"PK\x05\x06";

/// A compression [`open_text`] reads through, named by its first bytes.
fn compression(first: &[u8]) -> Option<&'static str> {
    [(GZIP, "gzip"), (ZSTD, "zstd"), (BZIP2, "bzip2"), (XZ, "xz")]
        .into_iter()
        .find(|(magic, _)| first.starts_with(magic))
        .map(|(_, name)| name)
}

/// Opens the text inside `raw`: gzip, bzip2, xz and zstd are decompressed
/// as they stream. A zip archive here (a stream, not a file that can be
/// searched for its members) and anything else that is not text (a NUL
/// byte in the first 64 KiB, or a first line that is not UTF-8) are refused
/// with a message that says what they look like. The returned reader holds
/// the text's first bytes in its buffer, for [`sniff`].
pub fn open_text<'a>(
    raw: Box<dyn Read + Send + 'a>,
    name: &str,
) -> Result<BufReader<Box<dyn Read + Send + 'a>>> {
    let mut raw = BufReader::with_capacity(1 << 16, raw);
    let io = |e| Error::Io {
        file: name.to_string(),
        source: e,
    };
    let first = raw.fill_buf().map_err(io)?;
    let kind = compression(first);
    if first.starts_with(ZIP) || first.starts_with(ZIP_EMPTY) {
        return Err(Error::File {
            file: name.to_string(),
            msg: "is a zip archive, which is read only from a file on disk: give its path with --data".into(),
        });
    }
    let inner: Box<dyn Read + Send + 'a> = match kind {
        Some("gzip") => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Some("bzip2") => Box::new(bzip2::read::MultiBzDecoder::new(raw)),
        Some("xz") => Box::new(lzma_rust2::XzReader::new(raw, true)),
        Some("zstd") => Box::new(ZstdFrames::new(raw)),
        _ => Box::new(raw),
    };
    let mut text = BufReader::with_capacity(1 << 16, inner);
    let head = text.fill_buf().map_err(|e| Error::File {
        file: name.to_string(),
        msg: format!("cannot be read as {}: {e}", kind.unwrap_or("text")),
    })?;
    // A NUL byte, or a first line that is not UTF-8, is binary; a stray bad
    // byte further on is reported with its line by the parser.
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    if head.contains(&0) || !utf8_prefix(first_line) {
        return Err(Error::File {
            file: name.to_string(),
            msg: match kind {
                Some(k) => format!("is {k}-compressed, and what it holds is not text (binary data)"),
                None => "is not text (binary data): expected a ratings file (CSV, TSV, MovieLens .dat), \
                         optionally compressed (gzip, bzip2, xz, zstd) or in a zip"
                    .into(),
            },
        });
    }
    Ok(text)
}

/// A zstd stream of one frame or several (as `pzstd` and `zstd -T` write),
/// decoded one frame after another.
struct ZstdFrames<R: BufRead> {
    source: Option<R>,
    frame: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(source: R) -> Self {
        ZstdFrames {
            source: Some(source),
            frame: None,
        }
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(frame) = &mut self.frame {
                let n = frame.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                self.source = self.frame.take().map(|f| f.into_inner());
            }
            let Some(mut source) = self.source.take() else {
                return Ok(0);
            };
            if source.fill_buf()?.is_empty() {
                return Ok(0);
            }
            self.frame =
                Some(ruzstd::decoding::StreamingDecoder::new(source).map_err(std::io::Error::other)?);
        }
    }
}

/// Whether `b` is UTF-8, allowing a character cut off at the end.
fn utf8_prefix(b: &[u8]) -> bool {
    match std::str::from_utf8(b) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && b.len() - e.valid_up_to() < 4,
    }
}

/// A reader that turns each `::` into the unit separator (0x1F), so that a
/// one-byte-delimiter CSV reader can split MovieLens's `ratings.dat`.
pub struct DoubleColonReader<R> {
    inner: R,
    buf: Vec<u8>,
    out: Vec<u8>,
    at: usize,
    /// A ':' read last, not yet known to start a `::`.
    colon: bool,
    done: bool,
}

impl<R: Read> DoubleColonReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        DoubleColonReader {
            inner,
            buf: vec![0; 1 << 16],
            out: Vec::with_capacity(1 << 16),
            at: 0,
            colon: false,
            done: false,
        }
    }
}

impl<R: Read> Read for DoubleColonReader<R> {
    fn read(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.out.len() && !self.done {
            self.out.clear();
            self.at = 0;
            let n = self.inner.read(&mut self.buf)?;
            if n == 0 {
                self.done = true;
                if self.colon {
                    self.out.push(b':');
                    self.colon = false;
                }
                break;
            }
            for &b in &self.buf[..n] {
                if self.colon {
                    self.colon = false;
                    if b == b':' {
                        self.out.push(0x1F);
                        continue;
                    }
                    self.out.push(b':');
                }
                if b == b':' {
                    self.colon = true;
                } else {
                    self.out.push(b);
                }
            }
        }
        let n = dst.len().min(self.out.len() - self.at);
        dst[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_movielens_shapes_and_overrides() {
        let f = |s: &str| sniff(s.as_bytes(), None, None);
        let bs = Separator::Byte;
        assert_eq!(
            f("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n"),
            Format {
                sep: bs(b','),
                header: true
            }
        );
        assert_eq!(
            f("196\t242\t3\t881250949\n"),
            Format {
                sep: bs(b'\t'),
                header: false
            }
        );
        assert_eq!(
            f("1::1193::5::978300760\n"),
            Format {
                sep: Separator::DoubleColon,
                header: false
            }
        );
        assert_eq!(
            f("userId\tmovieId\trating\n1\t2\t3\n"),
            Format {
                sep: bs(b'\t'),
                header: true
            }
        );
        assert_eq!(
            f("\u{feff}user;item;rating\r\n1;2;3\r\n"),
            Format {
                sep: bs(b';'),
                header: true
            }
        );
        assert_eq!(
            f("1|2|4.5\n"),
            Format {
                sep: bs(b'|'),
                header: false
            }
        );
        assert_eq!(
            f("1.0,2.0,3.5\n"),
            Format {
                sep: bs(b','),
                header: false
            }
        );
        assert_eq!(
            f("A2SUAM1J3GNN3B,B000JMLBHU,5.0\n"),
            Format {
                sep: bs(b','),
                header: true
            }
        );
        assert_eq!(
            sniff(b"1,2,3\n", Some(bs(b';')), Some(true)),
            Format {
                sep: bs(b';'),
                header: true
            }
        );
    }

    #[test]
    fn double_colons_become_one_byte_across_buffer_edges() {
        let text = "1::1193::5::978300760\n2::a:b::3::4\n:::\n".repeat(5000);
        let mut out = Vec::new();
        // A reader that hands out 7 bytes at a time, so that '::' falls across reads.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
                let n = dst.len().min(7).min(self.0.len());
                dst[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        DoubleColonReader::new(Trickle(text.as_bytes()))
            .read_to_end(&mut out)
            .unwrap();
        let want = text.replace("::", "\u{1f}");
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn gzip_is_read_through_and_binary_is_refused() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"userId,movieId,rating\n1,2,3\n").unwrap();
        let bytes = gz.finish().unwrap();
        let mut text = String::new();
        open_text(Box::new(std::io::Cursor::new(bytes)), "x.gz")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "userId,movieId,rating\n1,2,3\n");
        let msg = |bytes: Vec<u8>| {
            open_text(Box::new(std::io::Cursor::new(bytes)), "f")
                .err()
                .unwrap()
                .to_string()
        };
        assert!(msg(vec![0x28, 0xB5, 0x2F, 0xFD, 1, 2]).contains("zstd"));
        assert!(msg(vec![0x50, 0x4B, 3, 4, 0, 0, 0xff]).contains("zip archive"));
        assert!(msg(vec![0x7F, b'E', b'L', b'F', 0, 0, 0xff]).contains("not text"));
        assert!(msg(vec![b'a', 0xff, 0xfe, b'b']).contains("not text"));
    }
}
