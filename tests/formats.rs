//! Every MovieLens shape, and the common others, load without flags and give
//! the bundled CSV's data: MovieLens 100k's `u.data` (tab, no header), 1M
//! and 10M's `ratings.dat` (`::`, no header), a TSV and a semicolon CSV
//! with the header, gzip, and `1.0`-style ids. Each file is written from the
//! bundled ratings; each load must give the CSV's rows, and training on it
//! the CSV's val_mse, to the bit. Then the bad cases and their messages.

mod common;

use std::io::Write;
use std::path::Path;

use common::{bundled, mfcuda, stderr, stdout};
use mfcuda::data::{Columns, IdList, Ratings, Source};
use mfcuda::recipe;

/// The bundled CSV's rows as (user id, movie id, rating text, timestamp).
fn rows() -> Vec<(String, String, String, String)> {
    let text = std::str::from_utf8(mfcuda::data::BUNDLED_RATINGS).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].into(), f[1].into(), f[2].into(), f[3].into())
        })
        .collect()
}

fn write(path: &Path, text: &str, gzip: bool) {
    let mut file = std::fs::File::create(path).unwrap();
    if gzip {
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap();
    } else {
        file.write_all(text.as_bytes()).unwrap();
    }
}

fn val_mse(data: &Ratings) -> f64 {
    common::train_on_cpu(data, recipe::find("sparse").unwrap()).val_mse
}

#[test]
fn every_format_loads_as_the_csv_and_trains_to_its_val_mse() {
    let dir = tempfile::tempdir().unwrap();
    let want = bundled();
    assert_eq!(want.timestamps.len(), want.len());
    assert_eq!(want.timestamps[0], 964_982_703, "the bundled file's first row");
    let want_mse = val_mse(&want);
    let rows = rows();
    let join = |sep: &str, header: Option<&str>, id: &dyn Fn(&str) -> String| {
        let mut out = String::new();
        if let Some(h) = header {
            out.push_str(h);
            out.push('\n');
        }
        for (u, m, r, t) in &rows {
            out.push_str(&[id(u), id(m), r.clone(), t.clone()].join(sep));
            out.push('\n');
        }
        out
    };
    let plain = |s: &str| s.to_string();
    let float = |s: &str| format!("{s}.0");
    let cases: Vec<(&str, String, bool)> = vec![
        ("u.data", join("\t", None, &plain), false),
        ("ratings.dat", join("::", None, &plain), false),
        (
            "ratings.tsv",
            join("\t", Some("userId\tmovieId\trating\ttimestamp"), &plain),
            false,
        ),
        (
            "semicolon.csv",
            join(";", Some("userId;movieId;rating;timestamp"), &plain),
            false,
        ),
        (
            "ratings.csv.gz",
            join(",", Some("userId,movieId,rating,timestamp"), &plain),
            true,
        ),
        (
            "pandas.csv",
            join(",", Some("userId,movieId,rating,timestamp"), &float),
            false,
        ),
        ("u.data.gz", join("\t", None, &plain), true),
    ];
    for (name, text, gzip) in cases {
        let path = dir.path().join(name);
        write(&path, &text, gzip);
        let got = Ratings::load(&Source::File(path.clone()), &Columns::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.users, want.users, "{name}");
        assert_eq!(got.items, want.items, "{name}");
        assert_eq!(got.ratings, want.ratings, "{name}");
        assert_eq!(got.user_ids, want.user_ids, "{name}");
        assert_eq!(got.item_ids, want.item_ids, "{name}");
        assert_eq!(
            got.timestamps, want.timestamps,
            "{name}: the timestamps come along"
        );
        assert_eq!(val_mse(&got).to_bits(), want_mse.to_bits(), "{name}");
    }
}

#[test]
fn flags_override_detection_and_name_columns_by_position() {
    let dir = tempfile::tempdir().unwrap();
    // Columns in another order, no header: rating first.
    let path = dir.path().join("odd.txt");
    write(&path, "4.5|10|20\n3.0|11|20\n5.0|10|21\n", false);
    let cols = Columns {
        user: "2".into(),
        item: "3".into(),
        rating: "1".into(),
        ..Columns::default()
    };
    let r = Ratings::load(&Source::File(path.clone()), &cols).unwrap();
    assert!(r.timestamps.is_empty(), "three columns: no timestamps");
    assert_eq!(r.user_ids.list(), &IdList::Int(vec![10, 11]));
    assert_eq!(r.item_ids.list(), &IdList::Int(vec![20, 21]));
    assert_eq!(r.ratings, vec![4.5, 3.0, 5.0]);
    // --no-header on a file whose first line is not numbers: it is data, and its bad rating is named.
    let path = dir.path().join("h.csv");
    write(&path, "u,m,r\n1,2,3\n", false);
    let cols = Columns {
        header: Some(false),
        ..Columns::default()
    };
    let e = Ratings::load(&Source::File(path), &cols).unwrap_err().to_string();
    assert!(e.contains("line 1: rating (column 3) 'r' is not a number"), "{e}");
}

#[test]
fn bad_files_get_messages_that_point_at_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, bytes: &[u8], extra: &[&str]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let path = path.to_str().unwrap().to_string();
        let mut args = vec!["stats", "--data", path.as_str()];
        args.extend_from_slice(extra);
        let out = mfcuda(&args);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{err}");
        err
    };
    // Other column names: the flags are named.
    let e = run("names.csv", b"uid,iid,stars\n1,2,3\n", &[]);
    assert!(e.contains("--user-col") && e.contains("uid, iid, stars"), "{e}");
    // A tab-separated file read as commas: the separator it looks like.
    let e = run("tabs.tsv", b"userId\tmovieId\trating\n1\t2\t3\n", &["--sep", ","]);
    assert!(e.contains("looks tab-separated: try --sep tab"), "{e}");
    // Compressed or binary input: named, and no raw bytes on the terminal.
    let e = run("r.csv.zst", &[0x28, 0xB5, 0x2F, 0xFD, 0, 1, 2, 0xff], &[]);
    assert!(e.contains("zstd"), "{e}");
    let e = run("r.zip", &[0x50, 0x4B, 3, 4, 0, 0, 0xff, 0xfe], &[]);
    assert!(
        e.contains("is a zip archive that cannot be read") && !e.contains('\u{fffd}'),
        "{e}"
    );
    let e = run("r.bin", &[0x7F, b'E', b'L', b'F', 0, 1, 0xff, 0xfe], &[]);
    assert!(e.contains("not text") && !e.contains('\u{fffd}'), "{e}");
    // A gzip file cut short: an error, not a panic.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b"userId,movieId,rating\n1,2,3\n".repeat(1000))
        .unwrap();
    let bytes = gz.finish().unwrap();
    let e = run("cut.csv.gz", &bytes[..bytes.len() / 2], &[]);
    assert!(e.contains("cut.csv.gz"), "{e}");
    // A file without a header and too few columns: positions, said so.
    let e = run("two.txt", b"1\t2\n3\t4\n", &[]);
    assert!(e.contains("no header") && e.contains("positions"), "{e}");
}

/// Detection and parsing never panic, whatever the bytes: random bytes,
/// random separators and line shapes, truncated gzip, mixed fields. Each
/// input either loads or gets an error naming the file.
#[test]
fn detection_and_parsing_survive_random_input() {
    let mut rng = mfcuda::rng::Mt19937::new(5);
    let mut pick = |n: u32| rng.next_u32() % n;
    let pieces: [&[u8]; 16] = [
        b",", b"\t", b"::", b";", b"|", b"\n", b"\r\n", b"1", b"42", b"3.5", b"-7", b"userId", b"\"", b" ",
        b"\xff", b"\0",
    ];
    for case in 0..3000 {
        let mut bytes: Vec<u8> = Vec::new();
        let len = pick(60);
        for _ in 0..len {
            if pick(10) == 0 {
                bytes.push(pick(256) as u8);
            } else {
                bytes.extend_from_slice(pieces[pick(pieces.len() as u32) as usize]);
            }
        }
        if case % 7 == 0 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&bytes).unwrap();
            bytes = gz.finish().unwrap();
            let keep = pick(bytes.len() as u32 + 1) as usize;
            bytes.truncate(keep.max(bytes.len() / 2));
        }
        let sep = match pick(4) {
            0 => None,
            1 => Some(mfcuda::data::format::Separator::Byte(b',')),
            2 => Some(mfcuda::data::format::Separator::DoubleColon),
            _ => Some(mfcuda::data::format::Separator::Byte(b'\t')),
        };
        let cols = Columns {
            sep,
            header: [None, Some(true), Some(false)][pick(3) as usize],
            ..Columns::default()
        };
        let got = std::panic::catch_unwind(|| Ratings::from_reader(&bytes[..], "fuzz.csv", &cols));
        match got {
            Err(_) => panic!("case {case} panicked on {bytes:?}"),
            Ok(Err(e)) => assert!(e.to_string().contains("fuzz.csv"), "case {case}: {e}"),
            Ok(Ok(r)) => assert!(!r.is_empty()),
        }
    }
}

#[test]
fn the_cache_keeps_timestamps_and_the_layout_it_was_parsed_with() {
    use mfcuda::data::cache;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.data");
    let text: String = rows()
        .iter()
        .map(|(u, m, r, t)| format!("{u}\t{m}\t{r}\t{t}\n"))
        .collect();
    write(&path, &text, false);
    let src = Source::File(path);
    let (parsed, first) = cache::load(&src, &Columns::default(), true).unwrap();
    let (cached, second) = cache::load(&src, &Columns::default(), true).unwrap();
    assert!(!first.from_cache && second.from_cache, "{first:?} {second:?}");
    assert_eq!(cached.timestamps, parsed.timestamps);
    assert_eq!(cached.timestamps, bundled().timestamps);
    // Another layout asked for: the cache does not apply, and the file is read as asked.
    let cols = Columns {
        header: Some(true),
        ..Columns::default()
    };
    assert!(
        cache::load(&src, &cols, true).is_err(),
        "a header of numbers has no column 'userId'"
    );
}
