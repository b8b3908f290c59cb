//! The bad-input matrix beyond the basics in tests/cli.rs: each case runs the
//! CLI and checks the exit code, that the message names the file and line,
//! and that nothing panicked.

mod common;

use common::{mfcuda, stderr, stdout};

struct Case {
    name: &'static str,
    csv: &'static [u8],
    args: &'static [&'static str],
    /// `None`: must succeed. `Some(text)`: must fail with exit code 1 and this text after the path.
    error: Option<&'static str>,
    /// Must appear in stdout when it succeeds.
    stdout: &'static str,
}

#[test]
fn bad_input_matrix() {
    let cases = [
        Case {
            name: "duplicate pairs are kept, and said so",
            csv: b"userId,movieId,rating\n1,10,4\n1,10,5\n2,10,3\n1,10,1\n",
            args: &["stats"],
            error: None,
            stdout: "repeated  2 rows repeat an earlier (user, movie) pair; kept as separate ratings",
        },
        Case {
            name: "ids past 32 bits are ids like any other",
            csv: b"userId,movieId,rating\n5000000000,4294967296,4\n5000000000,1,2\n7,1,3\n",
            args: &["stats"],
            error: None,
            stdout: "5000000000      2",
        },
        Case {
            name: "ids past 64 bits are kept as text",
            csv: b"userId,movieId,rating\n1,1,4\n99999999999999999999,1,2\n",
            args: &["stats"],
            error: None,
            stdout: "99999999999999999999      1",
        },
        Case {
            name: "a negative id is still an integer id",
            csv: b"userId,movieId,rating\n-3,1,4\n",
            args: &["stats"],
            error: None,
            stdout: "users     1",
        },
        Case {
            name: "a header with a UTF-8 BOM",
            csv: b"\xef\xbb\xbfuserId,movieId,rating\n1,1,4\n",
            args: &["stats"],
            error: None,
            stdout: "ratings   1",
        },
        Case {
            name: "a BOM in the middle is not a header",
            csv: b"userId,movieId,rating\n\xef\xbb\xbf1,1,4\n",
            args: &["stats"],
            error: Some(": line 2: userId '\u{feff}1' holds a byte-order mark (U+FEFF)"),
            stdout: "",
        },
        Case {
            name: "a control character in a text id",
            csv: b"userId,movieId,rating\nab\x07c,1,4\n",
            args: &["stats"],
            error: Some(": line 2: userId \"ab\\u{7}c\" holds a control character"),
            stdout: "",
        },
        Case {
            name: "invalid UTF-8 in a field",
            csv: b"userId,movieId,rating\n1,1,4\n\xff\xfe,1,4\n",
            args: &["split"],
            error: Some(": line 3: userId field is not valid UTF-8"),
            stdout: "",
        },
        Case {
            name: "too many fields",
            csv: b"userId,movieId,rating\n1,1,4,9\n",
            args: &["split"],
            error: Some(": line 2: expected 3 fields as in the header, found 4"),
            stdout: "",
        },
        Case {
            name: "an unterminated quote swallows the rest into one field",
            csv: b"userId,movieId,rating\n1,\"1,4\n2,2,2\n",
            args: &["split"],
            error: Some(": line 2: expected 3 fields as in the header, found 2"),
            stdout: "",
        },
        Case {
            name: "infinite rating spelled out",
            csv: b"userId,movieId,rating\n1,1,infinity\n",
            args: &["train", "--device", "cpu"],
            error: Some(": line 2: rating 'infinity' is not a finite number"),
            stdout: "",
        },
        Case {
            name: "a split that leaves no validation rows",
            csv: b"userId,movieId,rating\n1,1,4\n1,2,3\n",
            args: &["train", "--device", "cpu", "--val-pct", "0.1"],
            error: Some("invalid --val-pct: 0.1 of 2 rows leaves 2 training and 0 validation rows"),
            stdout: "",
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    for (k, case) in cases.iter().enumerate() {
        let path = dir.path().join(format!("case{k}.csv"));
        std::fs::write(&path, case.csv).unwrap();
        let p = path.to_str().unwrap();
        let mut args: Vec<&str> = case.args.to_vec();
        args.extend(["--data", p]);
        let o = mfcuda(&args);
        let (out, err) = (stdout(&o), stderr(&o));
        assert!(!err.contains("panicked"), "{}: {err}", case.name);
        match case.error {
            None => {
                assert!(o.status.success(), "{}: {err}", case.name);
                assert!(
                    out.contains(case.stdout),
                    "{}: want {:?} in\n{out}",
                    case.name,
                    case.stdout
                );
            }
            Some(want) => {
                assert_eq!(o.status.code(), Some(1), "{}: {err}", case.name);
                assert_eq!(err.lines().count(), 1, "{}: {err}", case.name);
                let names_file =
                    err.contains(&format!("{p}{want}")) || (err.contains(want) && !want.starts_with(':'));
                assert!(names_file, "{}: want {p}{want}, got {err}", case.name);
            }
        }
    }
}

/// A ratings CSV with a row for every user in `0..users` and movie in
/// `0..movies`, rated `rating(user, movie)`.
fn grid_csv(users: u32, movies: u32, rating: impl Fn(u32, u32) -> u32) -> String {
    let mut text = String::from("userId,movieId,rating\n");
    for u in 0..users {
        for m in 0..movies {
            text.push_str(&format!("{u},{m},{}\n", rating(u, m)));
        }
    }
    text
}

#[test]
fn duplicates_are_trained_on_as_separate_ratings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dups.csv");
    let mut text = grid_csv(40, 25, |u, m| 1 + (u * m) % 5);
    text.push_str("3,4,5\n3,4,1\n");
    std::fs::write(&path, text).unwrap();
    let p = path.to_str().unwrap();
    let o = mfcuda(&[
        "train", "--data", p, "--recipe", "dotbias", "--epochs", "1", "--device", "cpu",
    ]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("note     2 rows repeat an earlier (user, movie) pair"),
        "{out}"
    );
    // The split counts them as rows: 1002 rows, 200 held out.
    let split = mfcuda(&["split", "--data", p]);
    assert_eq!(stdout(&split).lines().count(), 200);
}

/// Exit code 1, one line, no panic; returns stderr.
fn refused(args: &[&str]) -> String {
    let o = mfcuda(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    assert!(
        !err.contains("panicked") && err.lines().count() == 1,
        "{args:?}: {err}"
    );
    err
}

#[test]
fn huge_sizes_are_refused_not_allocated() {
    let err = refused(&["train", "--device", "cpu", "--cycles", "64"]);
    assert!(
        err.contains("invalid --cycles: 64 cycles make") && err.contains("at most 10000"),
        "{err}"
    );
    let err = refused(&["train", "--device", "cpu", "--epochs", "10001"]);
    assert!(
        err.contains("invalid --epochs: 10001: must be from 1 to 10000"),
        "{err}"
    );
    let err = refused(&[
        "train",
        "--device",
        "cpu",
        "--recipe",
        "dot",
        "--epochs",
        "100000000000",
    ]);
    assert!(err.contains("invalid --epochs"), "{err}");
    let err = refused(&[
        "synth",
        "--users",
        "4",
        "--items",
        "4",
        "--ratings",
        "2",
        "--rank",
        "4611686018427387904",
    ]);
    assert!(err.contains("floats for the planted model"), "{err}");
    let err = refused(&["synth", "--users", "4294967295", "--items", "1", "--ratings", "1"]);
    assert!(err.contains("floats for the planted model"), "{err}");
    let err = refused(&["synth", "--noise", "-1"]);
    assert!(err.contains("invalid --noise"), "{err}");
}

#[test]
fn a_forged_cache_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("r.csv");
    std::fs::write(&csv, "userId,movieId,rating\n1,1,4\n1,2,3\n2,1,5\n").unwrap();
    let p = csv.to_str().unwrap();
    let out = String::from_utf8(mfcuda(&["stats", "--data", p, "--cache"]).stdout).unwrap();
    assert!(out.contains("cache written"), "{out}");
    // Claim 2^62 rows in the cache's header; the CSV is unchanged.
    let cache = dir.path().join("r.csv.mfcache");
    let mut bytes = std::fs::read(&cache).unwrap();
    let counts = bytes.len() - 3 * 12 - 2 * 8 - 2 * 8 - 24; // rows, users, items precede the columns
    bytes[counts..counts + 8].copy_from_slice(&(1u64 << 62).to_le_bytes());
    std::fs::write(&cache, &bytes).unwrap();
    let o = mfcuda(&["stats", "--data", p, "--cache"]);
    let out = stdout(&o);
    assert!(
        o.status.success() && out.contains("ratings   3") && out.contains("cache written"),
        "{out}"
    );
}

#[test]
fn an_outlier_rating_does_not_blow_up_the_plot() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("outlier.csv");
    let mut text = grid_csv(20, 10, |u, m| 1 + (u + m) % 5);
    text.push_str("3,4,100000000\n");
    std::fs::write(&csv, text).unwrap();
    let plots = dir.path().join("plots");
    let o = mfcuda(&[
        "train",
        "--device",
        "cpu",
        "--recipe",
        "dot",
        "--epochs",
        "1",
        "--data",
        csv.to_str().unwrap(),
        "--plot",
        plots.to_str().unwrap(),
        "--quiet",
    ]);
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    // The dot model diverges on a rating of 1e8, or it trains and plots; either way, a clean end.
    assert!(
        o.status.success() || err.starts_with("error: training diverged"),
        "{err}"
    );
}
