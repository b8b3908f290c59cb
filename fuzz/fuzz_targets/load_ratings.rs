//! Fuzzes every reader of user input mfcuda has. Any input may be rejected
//! with an error; none may panic, hang or abort.
//!
//! - Ratings, through the one table opener (`data::Table`): detected
//!   layout, and every separator forced, with and without a header, custom
//!   and positional column names, `--skip-bad-rows`; text ids and
//!   timestamps come with the bytes.
//! - The same bytes gzip-, bzip2-, xz- and zstd-framed as raw input (the
//!   decoders see garbage), and gzipped for real (the text behind gzip).
//! - A pairs file (`predict --pairs`) against a small model.
//! - Movie titles.
//! - The model loader: the bytes as a model file, and a real model file
//!   with the bytes written over it (header, metadata, tensors, checksum).
#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mfcuda::data::format::Separator;
use mfcuda::data::{Columns, IdList, IdMap, Ratings};
use mfcuda::model::{ModelConfig, ModelKind, ModelSpec};
use mfcuda::trained::explore::{predict_pairs, Movies, Unknown};
use mfcuda::trained::saved::SavedModel;

/// What loads must be consistent: one index per row, maps both ways.
fn check(r: &Ratings) {
    assert_eq!(r.users.len(), r.ratings.len());
    assert_eq!(r.items.len(), r.ratings.len());
    assert!(r.timestamps.is_empty() || r.timestamps.len() == r.ratings.len());
    assert!(r.users.iter().all(|&u| (u as usize) < r.n_users()));
    assert!(r.items.iter().all(|&i| (i as usize) < r.n_items()));
    assert!(r.ratings.iter().all(|x| x.is_finite()));
    let _ = (r.rating_range(), r.fingerprint(), r.user_ids.list().mixed());
}

/// A small dot model with integer users 1..=3 and movies 1..=4, and its file's bytes.
fn model() -> &'static (SavedModel, Vec<u8>) {
    static MODEL: OnceLock<(SavedModel, Vec<u8>)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let spec = ModelSpec {
            config: ModelConfig {
                kind: ModelKind::Dot,
                factors: 2,
                hidden: 0,
                emb_init: (0.0, 0.05),
                dropout: (0.0, 0.0),
            },
            n_users: 3,
            n_items: 4,
            y_range: (0.5, 5.0),
        };
        let params = (0..spec.n_params()).map(|k| k as f32 * 0.1).collect();
        let ids = |n: i64| IdMap::from_list(IdList::Int((1..=n).collect())).unwrap();
        let m = SavedModel {
            spec,
            params,
            user_ids: ids(3),
            item_ids: ids(4),
            recipe: "dot".into(),
            seed: 42,
            split_seed: 42,
            split: Default::default(),
            val_pct: 0.2,
            global_mean: 3.5,
            rows: 10,
            val_mse: 1.0,
            history: Vec::new(),
            interrupted: false,
            data: None,
            checked: true,
        };
        let bytes = m.to_bytes().unwrap();
        (m, bytes)
    })
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks a layout; the rest is the file.
    let (pick, body) = match data.split_first() {
        Some((&p, rest)) => (p, rest),
        None => (0, data),
    };
    let seps = [None, Some(Separator::Byte(b',')), Some(Separator::Byte(b'\t')), Some(Separator::Byte(b';')),
                Some(Separator::Byte(b'|')), Some(Separator::DoubleColon)];
    let cols = Columns {
        sep: seps[(pick % 6) as usize],
        header: [None, Some(false), Some(true)][((pick / 6) % 3) as usize],
        skip_bad_rows: pick & 0x80 != 0,
        ..Columns::default()
    };
    if let Ok(r) = Ratings::from_reader(body, "fuzz.csv", &cols) {
        check(&r);
    }
    let renamed = Columns { user: "a".into(), item: "b".into(), rating: "c".into(), ..cols.clone() };
    let _ = Ratings::from_reader(body, "fuzz.csv", &renamed);
    let positions = Columns { user: "2".into(), item: "1".into(), rating: "3".into(), ..cols.clone() };
    let _ = Ratings::from_reader(body, "fuzz.csv", &positions);
    // Garbage behind each compression's magic bytes: the decoders must fail cleanly.
    for magic in [&[0x1F, 0x8B][..], b"BZh9", &[0xFD, b'7', b'z', b'X', b'Z', 0], &[0x28, 0xB5, 0x2F, 0xFD]] {
        let framed: Vec<u8> = magic.iter().chain(body).copied().collect();
        if let Ok(r) = Ratings::from_reader(&framed[..], "fuzz.gz", &cols) {
            check(&r);
        }
    }
    // The text behind real gzip.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(body).unwrap();
    if let Ok(r) = Ratings::from_reader(&gz.finish().unwrap()[..], "fuzz.csv.gz", &cols) {
        check(&r);
    }
    // A pairs file.
    let (m, bytes) = model();
    for unknown in [Unknown::Error, Unknown::Mean] {
        if let Ok(preds) = predict_pairs(m, body, "pairs.csv", &cols, unknown) {
            assert!(preds.iter().all(|p| p.predicted.is_finite()));
        }
    }
    let _ = Movies::from_reader(body, "movies.csv");
    // The model loader: the bytes themselves, then a real file with the bytes over part of it.
    let _ = SavedModel::from_bytes(body, "fuzz.safetensors");
    if !body.is_empty() {
        let mut damaged = bytes.clone();
        let at = (pick as usize * 7919 + body.len()) % damaged.len();
        let n = body.len().min(damaged.len() - at);
        damaged[at..at + n].copy_from_slice(&body[..n]);
        if let Ok(loaded) = SavedModel::from_bytes(&damaged, "fuzz.safetensors") {
            // A file that still loads with a checksum holds the tensors that were saved.
            if loaded.checked {
                assert_eq!(loaded.params, m.params);
            }
        }
    }
});
