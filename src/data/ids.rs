//! Raw ids, as the user's file writes them, and their map to contiguous
//! indices.
//!
//! An id is an integer when it is written as one: decimal digits with an
//! optional `-`, no leading zeros, and optionally a `.0` tail (pandas writes
//! integer columns with missing values as `1.0`). Anything else is text,
//! kept exactly as written: `A2SUAM1J3GNN3B`, `B000JMLBHU`, and also
//! `0001234567`, whose leading zeros an integer would lose.
//!
//! A column's [`IdMap`] holds integers (MovieLens, the fast path: one hash
//! of an `i64` a row) until the first text id. Then it turns every id it
//! holds into its decimal text and goes on in text. Indices keep their
//! first-seen order either way, the notebook's
//! `{o: i for i, o in enumerate(ratings.userId.unique())}`.

use std::collections::HashMap;
use std::fmt;

/// One raw id, as the user knows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Id {
    /// An integer id (MovieLens).
    Int(i64),
    /// Any other id, exactly as written.
    Text(String),
}

impl Id {
    /// Reads an id from (trimmed) text: [`Id::Int`] when it is written as an
    /// integer (see the module's rule), [`Id::Text`] otherwise.
    pub fn parse(s: &str) -> Id {
        match int_id(s.as_bytes()) {
            Some(v) => Id::Int(v),
            None => Id::Text(s.to_string()),
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Int(v) => fmt::Display::fmt(v, f),
            Id::Text(s) => fmt::Display::fmt(s.as_str(), f),
        }
    }
}

/// An id typed by the user (`--user`, `--movie`): [`Id::parse`] of the
/// trimmed text, which must not be empty.
impl std::str::FromStr for Id {
    type Err = String;

    fn from_str(s: &str) -> Result<Id, String> {
        match s.trim() {
            "" => Err("an id cannot be empty".into()),
            t => Ok(Id::parse(t)),
        }
    }
}

impl From<i64> for Id {
    fn from(v: i64) -> Id {
        Id::Int(v)
    }
}

/// The integer an id's bytes write, or `None` when they write text: digits
/// with an optional `-`, no `+`, no leading zero (except `0` itself), no
/// `-0`, and optionally a `.0…` tail. Parsed straight from the bytes: this
/// runs twice a row when a file loads.
#[inline]
pub fn int_id(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    // One pass: accumulate negatively, so that i64::MIN has room.
    let mut v: i64 = 0;
    let mut n = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v.checked_mul(10)?.checked_sub(d as i64)?;
        n += 1;
    }
    let leading_zero = digits.first() == Some(&b'0') && (n > 1 || neg);
    let tail_ok = match &digits[n..] {
        [] => true,
        [b'.', zeros @ ..] => !zeros.is_empty() && zeros.iter().all(|&c| c == b'0'),
        _ => false,
    };
    if n == 0 || leading_zero || !tail_ok {
        return None;
    }
    if neg {
        Some(v)
    } else {
        v.checked_neg()
    }
}

/// A fast hash for integer ids (Fibonacci hashing). Ids come from the
/// user's file, not from an adversary, and the default SipHash spent about
/// a quarter of the load time of a 25M-row file.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i64(&mut self, x: i64) {
        let h = (x as u64 ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

type Fast<K> = HashMap<K, u32, std::hash::BuildHasherDefault<IdHasher>>;

/// The ids of one column, index → id, in order of first appearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdList {
    /// Every id is an integer.
    Int(Vec<i64>),
    /// At least one id is text; integers are held as their decimal text.
    Text(Vec<String>),
}

impl Default for IdList {
    fn default() -> Self {
        IdList::Int(Vec::new())
    }
}

impl IdList {
    /// Number of ids.
    pub fn len(&self) -> usize {
        match self {
            IdList::Int(v) => v.len(),
            IdList::Text(v) => v.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When a text column also holds ids written as integers: how many of
    /// each kind, and the first text id. `None` when all are one kind.
    pub fn mixed(&self) -> Option<(usize, usize, &str)> {
        let IdList::Text(v) = self else { return None };
        let first = v.iter().find(|s| int_id(s.as_bytes()).is_none())?;
        let texts = v.iter().filter(|s| int_id(s.as_bytes()).is_none()).count();
        (texts < v.len()).then(|| (v.len() - texts, texts, first.as_str()))
    }

    /// The id at index `i`.
    pub fn get(&self, i: usize) -> Id {
        match self {
            IdList::Int(v) => Id::Int(v[i]),
            IdList::Text(v) => Id::Text(v[i].clone()),
        }
    }
}

/// Text ids packed flat for a file: `n + 1` offsets into one UTF-8 buffer,
/// id `k` being `bytes[offsets[k]..offsets[k + 1]]`.
pub fn pack_text(ids: &[String]) -> (Vec<u64>, Vec<u8>) {
    let mut offsets = Vec::with_capacity(ids.len() + 1);
    let mut bytes = Vec::with_capacity(ids.iter().map(String::len).sum());
    offsets.push(0);
    for id in ids {
        bytes.extend_from_slice(id.as_bytes());
        offsets.push(bytes.len() as u64);
    }
    (offsets, bytes)
}

/// The ids [`pack_text`] packed; `None` when the offsets do not fit the
/// bytes or an id is not UTF-8 (a damaged file).
pub fn unpack_text(offsets: &[u64], bytes: &[u8]) -> Option<Vec<String>> {
    if offsets.first() != Some(&0) || offsets.last() != Some(&(bytes.len() as u64)) {
        return None;
    }
    offsets
        .windows(2)
        .map(|w| {
            let (a, b) = (usize::try_from(w[0]).ok()?, usize::try_from(w[1]).ok()?);
            String::from_utf8(bytes.get(a..b)?.to_vec()).ok()
        })
        .collect()
}

/// A contiguous index for each distinct raw id, in order of first
/// appearance, and the way back.
#[derive(Debug, Clone, Default)]
pub struct IdMap {
    list: IdList,
    ints: Fast<i64>,
    texts: Fast<String>,
}

impl PartialEq for IdMap {
    fn eq(&self, other: &Self) -> bool {
        self.list == other.list
    }
}

impl IdMap {
    /// The map of a list of distinct ids; `None` when one repeats.
    pub fn from_list(list: IdList) -> Option<IdMap> {
        let mut map = IdMap::default();
        match &list {
            IdList::Int(v) => map.ints = v.iter().enumerate().map(|(k, &id)| (id, k as u32)).collect(),
            IdList::Text(v) => {
                map.texts = v
                    .iter()
                    .enumerate()
                    .map(|(k, id)| (id.clone(), k as u32))
                    .collect()
            }
        }
        let distinct = map.ints.len() + map.texts.len();
        map.list = list;
        (distinct == map.list.len()).then_some(map)
    }

    /// The index of the integer id `raw`, adding it if it is new.
    pub fn intern(&mut self, raw: i64) -> u32 {
        match &mut self.list {
            IdList::Int(list) => {
                let next = list.len() as u32;
                *self.ints.entry(raw).or_insert_with(|| {
                    list.push(raw);
                    next
                })
            }
            IdList::Text(_) => self.intern_text(&raw.to_string()),
        }
    }

    /// The index of the text id `raw`, adding it if it is new. The first
    /// text id turns the map's integers into their decimal text.
    pub fn intern_text(&mut self, raw: &str) -> u32 {
        if let IdList::Int(ints) = &self.list {
            let text: Vec<String> = ints.iter().map(i64::to_string).collect();
            self.texts = self.ints.drain().map(|(id, k)| (id.to_string(), k)).collect();
            self.list = IdList::Text(text);
        }
        let IdList::Text(list) = &mut self.list else {
            unreachable!("the map was turned to text above")
        };
        if let Some(&k) = self.texts.get(raw) {
            return k;
        }
        let next = list.len() as u32;
        list.push(raw.to_string());
        self.texts.insert(raw.to_string(), next);
        next
    }

    /// The index of `id`, if the map has it. An integer is also found as
    /// its decimal text, so `--user 42` finds user 42 in a text column.
    pub fn find(&self, id: &Id) -> Option<u32> {
        match (&self.list, id) {
            (IdList::Int(_), Id::Int(v)) => self.ints.get(v).copied(),
            (IdList::Int(_), Id::Text(_)) => None,
            (IdList::Text(_), Id::Int(v)) => self.texts.get(&v.to_string()).copied(),
            (IdList::Text(_), Id::Text(s)) => self.texts.get(s).copied(),
        }
    }

    /// The id at index `i`.
    pub fn get(&self, i: usize) -> Id {
        self.list.get(i)
    }

    /// Every id, in index order.
    pub fn list(&self) -> &IdList {
        &self.list
    }

    /// Number of distinct ids.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when no id has been seen.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_as_integers() {
        for (s, want) in [
            ("0", Some(0)),
            ("7", Some(7)),
            ("-3", Some(-3)),
            ("1.0", Some(1)),
            ("12.00", Some(12)),
        ] {
            assert_eq!(int_id(s.as_bytes()), want, "{s}");
        }
        for s in [
            "",
            "-",
            "+1",
            "007",
            "-0",
            "0.5",
            "1.",
            "1.5",
            "1e3",
            "abc",
            "1a",
            "99999999999999999999",
        ] {
            assert_eq!(int_id(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn the_first_text_id_turns_the_map_to_text_keeping_indices() {
        let mut m = IdMap::default();
        assert_eq!((m.intern(42), m.intern(7), m.intern(42)), (0, 1, 0));
        assert_eq!(m.list(), &IdList::Int(vec![42, 7]));
        assert_eq!(m.intern_text("B000JMLBHU"), 2);
        assert_eq!(m.intern(7), 1);
        assert_eq!(m.intern_text("42"), 0);
        assert_eq!(m.intern_text("0042"), 3);
        assert_eq!(
            m.list(),
            &IdList::Text(vec!["42".into(), "7".into(), "B000JMLBHU".into(), "0042".into()])
        );
        assert_eq!(m.find(&Id::Int(7)), Some(1));
        assert_eq!(m.find(&Id::parse("B000JMLBHU")), Some(2));
        assert_eq!(m.find(&Id::parse("0042")), Some(3));
        assert_eq!(m.find(&Id::parse("nope")), None);
        assert_eq!(m.get(2).to_string(), "B000JMLBHU");
    }

    #[test]
    fn text_packs_and_unpacks() {
        let ids: Vec<String> = vec!["A2SUAM1J3GNN3B".into(), "".into(), "é".into()];
        let (offsets, bytes) = pack_text(&ids);
        assert_eq!(offsets, vec![0, 14, 14, 16]);
        assert_eq!(unpack_text(&offsets, &bytes).unwrap(), ids);
        assert!(unpack_text(&[0, 20], &bytes).is_none());
        assert!(unpack_text(&[0, 15, 16], &bytes).is_none(), "splits the é");
        assert!(unpack_text(&[0, 9, 4, 16], &bytes).is_none());
    }

    #[test]
    fn from_list_rebuilds_the_index_and_refuses_repeats() {
        let m = IdMap::from_list(IdList::Text(vec!["a".into(), "b".into()])).unwrap();
        assert_eq!(m.find(&Id::parse("b")), Some(1));
        let m = IdMap::from_list(IdList::Int(vec![5, 9])).unwrap();
        assert_eq!(m.find(&Id::Int(9)), Some(1));
        assert!(IdMap::from_list(IdList::Int(vec![5, 5])).is_none());
        assert!(IdMap::from_list(IdList::Text(vec!["a".into(), "a".into()])).is_none());
    }
}
