//! Fuzzes every CSV parser mfcuda has: ratings (default and custom column
//! names), prediction pairs and movie titles. Any input may be rejected with
//! an error; none may panic, hang or abort.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfcuda::data::{Columns, Ratings};
use mfcuda::trained::explore::Movies;

fuzz_target!(|data: &[u8]| {
    let cols = Columns::default();
    if let Ok(r) = Ratings::from_reader(data, "fuzz.csv", &cols) {
        // What loads must be consistent: one index per row, maps both ways.
        assert_eq!(r.users.len(), r.ratings.len());
        assert!(r.users.iter().all(|&u| (u as usize) < r.n_users()));
        assert!(r.ratings.iter().all(|x| x.is_finite()));
        let _ = r.rating_range();
    }
    let renamed = Columns { user: "a".into(), item: "b".into(), rating: "c".into() };
    let _ = Ratings::from_reader(data, "fuzz.csv", &renamed);
    let _ = Movies::from_reader(data, "movies.csv");
});
