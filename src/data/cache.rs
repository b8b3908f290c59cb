//! A binary cache of a parsed ratings file, so that a large CSV is parsed
//! once: `--cache` writes `FILE.mfcache` beside `FILE` and reads it back on
//! later runs, while the CSV's size and modification time still match.
//!
//! Layout, little-endian: the magic `MFCUDA-RATINGS\n`, a u32 version, the
//! CSV's size and mtime (u64, u64), the three column names (u32 length and
//! UTF-8 bytes each), the row, user, item and timestamp counts and the
//! byte lengths of the user and item text ids (u64 each; `u64::MAX` for a
//! column of integer ids), then the users (u32 per row), items (u32 per
//! row), ratings (f32 per row), the raw user ids and raw item ids (i64 each,
//! or for text ids `n + 1` u64 offsets and the UTF-8 bytes), and the
//! timestamps (i64 each).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, UNIX_EPOCH};

use crate::data::ids::{pack_text, unpack_text};
use crate::data::{Columns, IdList, IdMap, Ratings, Source};
use crate::error::{Error, Result};
use crate::files::write_atomic;

#[cfg(target_endian = "big")]
compile_error!("the ratings cache is written in the machine's byte order, assumed little-endian");

const MAGIC: &[u8] = b"MFCUDA-RATINGS\n";
const VERSION: u32 = 4;

/// How a load went, for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// Wall seconds.
    pub seconds: f64,
    /// Bytes of the CSV (or of the cache, when it was used).
    pub bytes: u64,
    /// Whether the binary cache was read.
    pub from_cache: bool,
    /// Whether a fresh cache was written.
    pub wrote_cache: bool,
    /// Why the cache could not be written, if it could not.
    pub cache_error: Option<String>,
    /// The process's peak resident memory after the load, where known (Linux).
    pub peak_bytes: Option<u64>,
}

impl LoadReport {
    /// One line: time, throughput, cache, peak memory.
    pub fn line(&self) -> String {
        let mb = self.bytes as f64 / 1e6;
        let mut s = format!(
            "loaded {:.0} MB in {:.2} s ({:.0} MB/s",
            mb,
            self.seconds,
            mb / self.seconds.max(1e-9)
        );
        s.push_str(if self.from_cache {
            ", from the binary cache)"
        } else {
            ")"
        });
        if self.wrote_cache {
            s.push_str(", cache written");
        }
        if let Some(e) = &self.cache_error {
            s.push_str(&format!(", cache NOT written ({e})"));
        }
        if let Some(p) = self.peak_bytes {
            s.push_str(&format!(", peak memory {} MiB", p >> 20));
        }
        s
    }
}

/// The process's peak resident memory, from /proc (Linux); `None` elsewhere.
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Where the cache of `csv` lives.
pub fn cache_path(csv: &Path) -> PathBuf {
    let mut name = csv.as_os_str().to_owned();
    name.push(".mfcache");
    PathBuf::from(name)
}

/// The CSV's (size, mtime in ns): the cache is valid while both match.
fn stamp(csv: &Path) -> Result<(u64, u64)> {
    let name = csv.display().to_string();
    let meta = std::fs::metadata(csv).map_err(|e| Error::Io {
        file: name,
        source: e,
    })?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    Ok((meta.len(), mtime))
}

/// Loads `source`; with `use_cache` and a file source, through its binary cache.
pub fn load(source: &Source, cols: &Columns, use_cache: bool) -> Result<(Ratings, LoadReport)> {
    let t0 = Instant::now();
    let csv = match source {
        // A cached copy would forget which rows were skipped, so skipping reads the file itself.
        Source::File(p) if use_cache && !cols.skip_bad_rows => p,
        Source::Bundled => {
            let r = Ratings::load(source, cols)?;
            let bytes = crate::data::BUNDLED_RATINGS.len() as u64;
            let report = LoadReport {
                seconds: t0.elapsed().as_secs_f64(),
                bytes,
                from_cache: false,
                wrote_cache: false,
                cache_error: None,
                peak_bytes: peak_memory(),
            };
            return Ok((r, report));
        }
        Source::File(p) => {
            let r = Ratings::load(source, cols)?;
            let report = LoadReport {
                seconds: t0.elapsed().as_secs_f64(),
                bytes: stamp(p)?.0,
                from_cache: false,
                wrote_cache: false,
                cache_error: None,
                peak_bytes: peak_memory(),
            };
            return Ok((r, report));
        }
    };
    let stamp = stamp(csv)?;
    let cache = cache_path(csv);
    if let Ok(file) = std::fs::File::open(&cache) {
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        if let Some(r) = decode(&mut reader, size, stamp, cols, &source.display_name()) {
            let report = LoadReport {
                seconds: t0.elapsed().as_secs_f64(),
                bytes: size,
                from_cache: true,
                wrote_cache: false,
                cache_error: None,
                peak_bytes: peak_memory(),
            };
            return Ok((r, report));
        }
    }
    let r = Ratings::load(source, cols)?;
    let parsed = t0.elapsed().as_secs_f64();
    // A cache that cannot be written (a read-only folder, a full disk) costs
    // only the next load's time: say so, and carry on with the data.
    let written = write_atomic(&cache, |f| {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        encode(&r, stamp, cols, &mut w)?;
        w.flush()
    });
    // The time to parse the CSV; writing the cache is not part of the load.
    let report = LoadReport {
        seconds: parsed,
        bytes: stamp.0,
        from_cache: false,
        wrote_cache: written.is_ok(),
        cache_error: written.err().map(|e| e.to_string()),
        peak_bytes: peak_memory(),
    };
    Ok((r, report))
}

/// The layout flags a cache was parsed with (separator and header, given
/// or detected), as part of its key.
fn layout(cols: &Columns) -> String {
    format!("sep={:?};header={:?}", cols.sep, cols.header)
}

fn encode(r: &Ratings, stamp: (u64, u64), cols: &Columns, w: &mut dyn Write) -> std::io::Result<()> {
    w.write_all(MAGIC)?;
    w.write_all(&VERSION.to_le_bytes())?;
    w.write_all(&stamp.0.to_le_bytes())?;
    w.write_all(&stamp.1.to_le_bytes())?;
    for name in [&cols.user, &cols.item, &cols.rating, &layout(cols)] {
        w.write_all(&(name.len() as u32).to_le_bytes())?;
        w.write_all(name.as_bytes())?;
    }
    let packed = |ids: &IdList| match ids {
        IdList::Int(_) => None,
        IdList::Text(v) => Some(pack_text(v)),
    };
    let (utext, itext) = (packed(r.user_ids.list()), packed(r.item_ids.list()));
    let text_len = |t: &Option<(Vec<u64>, Vec<u8>)>| t.as_ref().map_or(u64::MAX, |t| t.1.len() as u64);
    for n in [r.len(), r.n_users(), r.n_items(), r.timestamps.len()] {
        w.write_all(&(n as u64).to_le_bytes())?;
    }
    w.write_all(&text_len(&utext).to_le_bytes())?;
    w.write_all(&text_len(&itext).to_le_bytes())?;
    w.write_all(bytemuck::cast_slice(&r.users))?;
    w.write_all(bytemuck::cast_slice(&r.items))?;
    w.write_all(bytemuck::cast_slice(&r.ratings))?;
    for (ids, text) in [(r.user_ids.list(), utext), (r.item_ids.list(), itext)] {
        match (ids, text) {
            (IdList::Int(v), _) => w.write_all(bytemuck::cast_slice(v))?,
            (IdList::Text(_), Some((offsets, bytes))) => {
                w.write_all(bytemuck::cast_slice(&offsets))?;
                w.write_all(&bytes)?;
            }
            (IdList::Text(_), None) => unreachable!("text ids are packed above"),
        }
    }
    w.write_all(bytemuck::cast_slice(&r.timestamps))?;
    Ok(())
}

/// Reads the cache from `r`, failing softly (`None`) on any mismatch: a
/// stale or damaged cache is simply rebuilt. The columns are read straight
/// into their vectors (the file is little-endian, as every target mfcuda
/// builds for), with no intermediate copy.
fn decode(
    r: &mut dyn std::io::Read,
    size: u64,
    stamp: (u64, u64),
    cols: &Columns,
    name: &str,
) -> Option<Ratings> {
    let mut consumed = 0u64;
    let mut take = |n: usize| -> Option<Vec<u8>> {
        let mut v = vec![0u8; n];
        r.read_exact(&mut v).ok()?;
        consumed += n as u64;
        Some(v)
    };
    let u64_at = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    let head = take(MAGIC.len() + 4 + 16)?;
    let version = u32::from_le_bytes(head[MAGIC.len()..MAGIC.len() + 4].try_into().ok()?);
    let got = (
        u64_at(&head[MAGIC.len() + 4..MAGIC.len() + 12]),
        u64_at(&head[MAGIC.len() + 12..]),
    );
    if &head[..MAGIC.len()] != MAGIC || version != VERSION || got != stamp {
        return None;
    }
    for want in [&cols.user, &cols.item, &cols.rating, &layout(cols)] {
        let n = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        if n > 4096 || take(n)? != want.as_bytes() {
            return None;
        }
    }
    let counts = take(48)?;
    let (rows, nu, ni, nt) = (
        u64_at(&counts[..8]) as usize,
        u64_at(&counts[8..16]) as usize,
        u64_at(&counts[16..24]) as usize,
        u64_at(&counts[24..32]) as usize,
    );
    let (utext, itext) = (u64_at(&counts[32..40]), u64_at(&counts[40..]));
    // Timestamps: one a row, or none.
    if nt != 0 && nt != rows {
        return None;
    }
    // Nothing is allocated from the counts until they agree with the file's size.
    // A column's ids: 8 bytes each, or n + 1 offsets and the text.
    let ids_bytes = |n: usize, text: u64| -> Option<u64> {
        match text {
            u64::MAX => (n as u64).checked_mul(8),
            t => (n as u64).checked_add(1)?.checked_mul(8)?.checked_add(t),
        }
    };
    let body = (rows as u64)
        .checked_mul(12)?
        .checked_add((nt as u64).checked_mul(8)?)?
        .checked_add(ids_bytes(nu, utext)?)?
        .checked_add(ids_bytes(ni, itext)?)?;
    if consumed.checked_add(body)? != size {
        return None;
    }
    fn column<T: bytemuck::Pod + Default>(r: &mut dyn std::io::Read, n: usize) -> Option<Vec<T>> {
        let mut v = vec![T::default(); n];
        r.read_exact(bytemuck::cast_slice_mut(&mut v)).ok()?;
        Some(v)
    }
    let users: Vec<u32> = column(r, rows)?;
    let items: Vec<u32> = column(r, rows)?;
    let ratings: Vec<f32> = column(r, rows)?;
    let mut ids = |n: usize, text: u64| -> Option<IdMap> {
        let list = match text {
            u64::MAX => IdList::Int(column(r, n)?),
            t => {
                let offsets: Vec<u64> = column(r, n + 1)?;
                let bytes: Vec<u8> = column(r, t as usize)?;
                IdList::Text(unpack_text(&offsets, &bytes)?)
            }
        };
        IdMap::from_list(list)
    };
    let (user_ids, item_ids) = (ids(nu, utext)?, ids(ni, itext)?);
    let timestamps: Vec<i64> = column(r, nt)?;
    let mut rest = [0u8; 1];
    if r.read(&mut rest).ok()? != 0
        || users.iter().any(|&u| u as usize >= nu)
        || items.iter().any(|&i| i as usize >= ni)
        || ratings.iter().any(|r| !r.is_finite())
    {
        return None;
    }
    Some(Ratings {
        source: name.to_string(),
        users,
        items,
        ratings,
        user_ids,
        item_ids,
        timestamps,
        skipped: Default::default(),
    })
}
