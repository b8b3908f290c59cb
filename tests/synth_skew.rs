//! `mfcuda synth --user-skew`: heavy-tailed users from the command line.

mod common;

use common::{mfcuda, stderr, stdout};
use mfcuda::data::synth::{expected_user_counts, write_csv, SkewedSpec, SynthSpec, ML25M_SKEW};

const SMALL: [&str; 8] = [
    "synth",
    "--users",
    "300",
    "--items",
    "80",
    "--ratings",
    "30000",
    "--seed",
];

#[test]
fn the_default_is_user_skew_zero_and_the_library_uniform_spec() {
    let plain = mfcuda(&[&SMALL[..], &["3"]].concat());
    let zero = mfcuda(&[&SMALL[..], &["3", "--user-skew", "0"]].concat());
    assert!(
        plain.status.success() && zero.status.success(),
        "{}",
        stderr(&plain)
    );
    assert_eq!(plain.stdout, zero.stdout);
    let spec = SynthSpec {
        users: 300,
        items: 80,
        ratings: 30_000,
        rank: 10,
        noise: 0.5,
        seed: 3,
    };
    let mut lib = Vec::new();
    write_csv(&spec, &mut lib, |_| {}).unwrap();
    assert_eq!(plain.stdout, lib);
}

#[test]
fn a_skewed_file_has_every_row_and_user_and_a_heavy_head() {
    let o = mfcuda(&[&SMALL[..], &["3", "--user-skew", "0.75"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("userId,movieId,rating"));
    let mut counts = vec![0usize; 300];
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let (u, i): (usize, usize) = (f[0].parse().unwrap(), f[1].parse().unwrap());
        assert!((1..=300).contains(&u) && (1..=80).contains(&i), "{line}");
        counts[u - 1] += 1;
    }
    assert_eq!(counts.iter().sum::<usize>(), 30_000);
    assert!(counts.iter().all(|&c| c >= 1));
    // User index 0 is the heaviest rank: 1 + Binomial(29,700, w), within 5 sd.
    let expected = expected_user_counts(300, 30_000, ML25M_SKEW);
    let w = (expected[0] - 1.0) / 29_700.0;
    let sd = (29_700.0 * w * (1.0 - w)).sqrt();
    assert!(
        (counts[0] as f64 - expected[0]).abs() < 5.0 * sd,
        "{} vs {}",
        counts[0],
        expected[0]
    );
    let heaviest = *counts.iter().max().unwrap() as f64;
    assert!(heaviest > 2.0 * 30_000.0 / 300.0, "{heaviest}: not heavy-tailed");
    // The library's SkewedSpec writes the same file.
    let spec = SkewedSpec {
        spec: SynthSpec {
            users: 300,
            items: 80,
            ratings: 30_000,
            rank: 10,
            noise: 0.5,
            seed: 3,
        },
        user_skew: 0.75,
    };
    let mut lib = Vec::new();
    write_csv(&spec, &mut lib, |_| {}).unwrap();
    assert_eq!(o.stdout, lib);
}

#[test]
fn a_bad_user_skew_is_refused_naming_the_flag() {
    for bad in ["-1", "-0.001", "NaN", "inf", "-inf"] {
        // `--user-skew=-inf`: clap takes "-inf" alone for a flag.
        let flag = format!("--user-skew={bad}");
        let o = mfcuda(&["synth", "--users", "5", "--items", "5", "--ratings", "10", &flag]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{bad}: {err}");
        assert!(
            err.contains("--user-skew") && !err.contains("panicked"),
            "{bad}: {err}"
        );
        assert!(o.stdout.is_empty(), "{bad}: wrote before refusing");
    }
    let o = mfcuda(&["synth", "--user-skew", "lots"]);
    assert!(!o.status.success() && stderr(&o).contains("--user-skew"));
}
