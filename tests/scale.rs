//! Larger data: the generator's output through the loader, at a few million
//! rows, and the binary cache's round trip, staleness and damage handling.

mod common;

use std::io::Write;

use common::notebook_config;
use mfcuda::data::cache::{self, cache_path};
use mfcuda::data::synth::{write_csv, SynthSpec};
use mfcuda::data::{Columns, Ratings, Source};

fn synth(path: &std::path::Path, spec: &SynthSpec) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    write_csv(spec, &mut f, |_| {}).unwrap();
    f.flush().unwrap();
}

#[test]
fn generated_data_round_trips_and_caches() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("synth.csv");
    let spec = SynthSpec {
        users: 20_000,
        items: 5_000,
        ratings: 3_000_000,
        rank: 8,
        noise: 0.4,
        seed: 7,
    };
    synth(&csv, &spec);
    let src = Source::File(csv.clone());
    let cols = Columns::default();

    let (parsed, first) = cache::load(&src, &cols, true).unwrap();
    assert_eq!(parsed.len(), 3_000_000);
    assert!(
        parsed.n_users() <= 20_000 && parsed.n_users() > 19_000,
        "{}",
        parsed.n_users()
    );
    assert!(parsed.n_items() == 5_000);
    let (lo, hi) = parsed.rating_range();
    assert!(lo >= 0.5 && hi <= 5.0 && parsed.mean() > 3.0 && parsed.mean() < 4.0);
    assert!(!first.from_cache && first.wrote_cache && cache_path(&csv).exists());

    // The second load reads the cache and gives the same table.
    let (cached, second) = cache::load(&src, &cols, true).unwrap();
    assert!(second.from_cache, "{second:?}");
    assert_eq!(cached.users, parsed.users);
    assert_eq!(cached.items, parsed.items);
    assert_eq!(cached.ratings, parsed.ratings);
    assert_eq!(cached.user_ids, parsed.user_ids);
    assert_eq!(cached.item_ids, parsed.item_ids);
    assert_eq!(
        cached.timestamps, parsed.timestamps,
        "the cache keeps the timestamps"
    );
    assert_eq!(cached.item_ids.find(&parsed.item_ids.get(17)), Some(17));

    // Other columns asked for: the cache does not apply.
    let renamed = Columns {
        rating: "stars".into(),
        ..Columns::default()
    };
    assert!(
        cache::load(&src, &renamed, true).is_err(),
        "the CSV has no 'stars' column"
    );

    // A damaged cache is ignored and rebuilt, never trusted.
    let bytes = std::fs::read(cache_path(&csv)).unwrap();
    std::fs::write(cache_path(&csv), &bytes[..bytes.len() / 2]).unwrap();
    let (again, third) = cache::load(&src, &cols, true).unwrap();
    assert!(!third.from_cache && third.wrote_cache);
    assert_eq!(again.ratings, parsed.ratings);

    // A changed CSV makes the cache stale.
    let small = SynthSpec {
        ratings: 1000,
        ..spec
    };
    synth(&csv, &small);
    let (fresh, fourth) = cache::load(&src, &cols, true).unwrap();
    assert!(!fourth.from_cache);
    assert_eq!(fresh.len(), 1000);
}

#[test]
fn generated_data_is_learnable_to_its_noise_level() {
    // A small planted model: the svd recipe should get near the noise floor.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("small.csv");
    let spec = SynthSpec {
        users: 600,
        items: 400,
        ratings: 120_000,
        rank: 4,
        noise: 0.3,
        seed: 1,
    };
    synth(&csv, &spec);
    let data = Ratings::load(&Source::File(csv), &Columns::default()).unwrap();
    let recipe = mfcuda::recipe::find("sparse")
        .unwrap()
        .with_overrides(&mfcuda::recipe::Overrides {
            factors: Some(8),
            epochs: Some(40),
            lr: Some(0.01),
            wd: Some(0.01),
            ..Default::default()
        })
        .unwrap();
    let cfg = mfcuda::train::TrainConfig {
        seed: 3,
        ..notebook_config(recipe)
    };
    let r = mfcuda::train::train(&data, &cfg, &mut mfcuda::train::Silent).unwrap();
    // Within 5% of the planted noise.
    assert!(
        r.val_rmse < 0.3 * 1.05,
        "validation RMSE {} against planted noise 0.3",
        r.val_rmse
    );
    let _ = writeln!(
        std::io::stderr(),
        "synthetic rank 4, noise 0.30: validation RMSE {:.4}",
        r.val_rmse
    );
}

#[test]
fn in_memory_examples_are_the_csvs_ratings() {
    let spec = SynthSpec {
        users: 50,
        items: 30,
        ratings: 2_000,
        rank: 3,
        noise: 0.2,
        seed: 11,
    };
    let mut csv = Vec::new();
    mfcuda::data::synth::write_csv(&spec, &mut csv, |_| {}).unwrap();
    let ex = mfcuda::data::synth::examples(&spec, |_| {}).unwrap();
    let text = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!((lines.len(), ex.len()), (2_000, 2_000));
    for (k, line) in lines.iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0].parse::<u32>().unwrap(), ex.users[k] + 1, "row {k}");
        assert_eq!(f[1].parse::<u32>().unwrap(), ex.items[k] + 1, "row {k}");
        let r: f32 = f[2].parse().unwrap();
        assert!(
            (r - ex.ratings[k]).abs() <= 5e-4,
            "row {k}: csv {r}, memory {}",
            ex.ratings[k]
        );
    }
}
