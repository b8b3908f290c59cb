//! 11: Hogwild on the CPU: what racing warps cost, simulated.
//!
//! The GPU's sparse kernel runs one warp per rating with no locks. Two warps
//! that update the same row at once both read the old row, and the second
//! write wins: the first update is lost. SGD shrugs off a few lost updates
//! (Niu et al., "Hogwild!", 2011), but how many is a few? This example trains
//! the `sparse` recipe (100 factors, lr 0.02 for 15 epochs then 0.006 for 5,
//! L2 0.06) on ml-latest-small while simulating W warps in lockstep:
//!
//! - the ratings are taken W at a time, in a fresh random order each epoch;
//! - every rating of a round reads its two rows and biases before any of
//!   them writes (the worst case: real warps drift apart);
//! - then the writes land in order, so on a shared row the last one wins.
//!
//! A rating whose user or item row is written again later in its own round
//! has lost its update. With W = 1 nothing races, and the result must be
//! `ops::mf_sgd_sparse`'s to the bit, which the example checks first: the
//! simulation's arithmetic is the kernel's twin, only the timing differs.
//!
//! ml-latest-small has only 610 users, so a round of thousands of warps
//! names the same user many times. That is why the GPU backend caps the
//! warps at a quarter of the smaller table (`hogwild_warps`: 152 here), and
//! why an H200's 6,336 resident warps would hurt.
//!
//!     cargo run --release --example 11_hogwild_collisions

use mfcuda::data::split::Split;
use mfcuda::data::{Columns, Ratings, Source};
use mfcuda::ops::{mf_predict, mf_sgd_sparse, sparse_dot};
use mfcuda::rng::Mt19937;

const F: usize = 100;
const REG: f32 = 0.06;
/// (learning rate, epochs): the `sparse` recipe's two stages.
const STAGES: [(f32, usize); 2] = [(0.02, 15), (0.006, 5)];

/// The model: user and item factors and biases, and the global mean.
#[derive(Clone)]
struct Svd {
    u: Vec<f32>,
    m: Vec<f32>,
    ub: Vec<f32>,
    mb: Vec<f32>,
    mu: f32,
}

/// The training rows of one epoch, in order: (user, item, rating).
struct Rows {
    users: Vec<u32>,
    items: Vec<u32>,
    ratings: Vec<f32>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = Ratings::load(&Source::Bundled, &Columns::default())?;
    let split = Split::new(data.len(), 0.2, 42)?;
    let pick = |rows: &[u32]| Rows {
        users: rows.iter().map(|&r| data.users[r as usize]).collect(),
        items: rows.iter().map(|&r| data.items[r as usize]).collect(),
        ratings: rows.iter().map(|&r| data.ratings[r as usize]).collect(),
    };
    let (train, valid) = (pick(&split.train), pick(&split.valid));
    let mut rng = Mt19937::new(3);
    let mut draw = |n: usize| {
        (0..n)
            .map(|_| (rng.random_sample() as f32 - 0.5) * 0.2)
            .collect::<Vec<f32>>()
    };
    let mu = train.ratings.iter().map(|&r| r as f64).sum::<f64>() / train.ratings.len() as f64;
    let init = Svd {
        u: draw(data.n_users() * F),
        m: draw(data.n_items() * F),
        ub: vec![0.0; data.n_users()],
        mb: vec![0.0; data.n_items()],
        mu: mu as f32,
    };
    // Every run takes the same epoch orders.
    let mut order_rng = Mt19937::new(7);
    let epochs: usize = STAGES.iter().map(|s| s.1).sum();
    let orders: Vec<Rows> = (0..epochs)
        .map(|_| {
            let perm = order_rng.permutation(train.ratings.len());
            Rows {
                users: perm.iter().map(|&i| train.users[i as usize]).collect(),
                items: perm.iter().map(|&i| train.items[i as usize]).collect(),
                ratings: perm.iter().map(|&i| train.ratings[i as usize]).collect(),
            }
        })
        .collect();

    // The check: one warp is the sequential twin, bit for bit.
    let mut twin = init.clone();
    let mut sq = vec![0.0f32; train.ratings.len()];
    for (e, rows) in orders.iter().enumerate() {
        let s = &mut twin;
        let lr = lr_at(e);
        mf_sgd_sparse(
            &mut s.u,
            &mut s.m,
            &mut s.ub,
            &mut s.mb,
            s.mu,
            &rows.users,
            &rows.items,
            &rows.ratings,
            &mut sq,
            F,
            lr,
            REG,
        );
    }
    let (one, lost_one) = train_hogwild(&init, &orders, 1);
    assert!(one.u == twin.u && one.m == twin.m && one.ub == twin.ub && one.mb == twin.mb);
    assert_eq!(lost_one, 0);
    println!("W = 1 reproduces ops::mf_sgd_sparse to the bit over {epochs} epochs\n");

    // "lost": a later write in the same round overwrote the rating's user
    // row, its item row, or both.
    println!(
        "{:>6} {:>14} {:>10} {:>10}",
        "warps", "updates lost", "val RMSE", "vs W = 1"
    );
    let base = rmse(&one, &valid);
    let mut rows = Vec::new();
    for warps in [1, 152, 1024, 6336] {
        let (model, lost) = train_hogwild(&init, &orders, warps);
        let total = (epochs * train.ratings.len()) as f64;
        let r = rmse(&model, &valid);
        println!(
            "{warps:>6} {:>13.2}% {r:>10.4} {:>+10.4}",
            100.0 * lost as f64 / total,
            r - base
        );
        rows.push((warps, lost, r));
    }
    // More warps, more collisions: the lost share grows with W.
    assert!(
        rows.windows(2).all(|w| w[1].1 > w[0].1),
        "lost updates must grow with the warps"
    );
    // At the backend's cap the race costs little; at a whole H200's warps it costs more.
    let (capped, all) = (rows[1].2, rows[3].2);
    assert!(capped - base < 0.005, "152 warps cost {:.4} RMSE", capped - base);
    assert!(
        all > capped,
        "6,336 warps ({all:.4}) should do worse than 152 ({capped:.4})"
    );
    println!(
        "\n152 warps (the backend's cap for 610 users) cost {:+.4} RMSE; 6,336 (an H200 full of warps) cost {:+.4}.",
        capped - base,
        all - base
    );
    Ok(())
}

/// The learning rate of epoch `e` (0-based) under [`STAGES`].
fn lr_at(e: usize) -> f32 {
    if e < STAGES[0].1 {
        STAGES[0].0
    } else {
        STAGES[1].0
    }
}

/// What a rating of a round would write: its user and item (indices), their
/// new rows, and their new biases.
type Write = (usize, usize, Vec<f32>, Vec<f32>, f32, f32);

/// Trains `init` over `orders` with `warps` ratings in flight at once.
/// Returns the model and how many updates a later write in the same round
/// overwrote.
fn train_hogwild(init: &Svd, orders: &[Rows], warps: usize) -> (Svd, usize) {
    let mut s = init.clone();
    let mut lost = 0;
    let (mut last_u, mut last_m) = (vec![0usize; s.ub.len()], vec![0usize; s.mb.len()]);
    let mut pending: Vec<Write> = Vec::with_capacity(warps);
    for (e, rows) in orders.iter().enumerate() {
        let lr = lr_at(e);
        for start in (0..rows.ratings.len()).step_by(warps) {
            let end = (start + warps).min(rows.ratings.len());
            pending.clear();
            // Every warp of the round reads before any writes.
            for r in start..end {
                let (uu, ii) = (rows.users[r] as usize, rows.items[r] as usize);
                let (pu, qi) = (&s.u[uu * F..(uu + 1) * F], &s.m[ii * F..(ii + 1) * F]);
                let e = rows.ratings[r] - (s.mu + s.ub[uu] + s.mb[ii] + sparse_dot(pu, qi));
                let bu = s.ub[uu] + lr * (e - REG * s.ub[uu]);
                let bi = s.mb[ii] + lr * (e - REG * s.mb[ii]);
                let nu = (0..F).map(|k| pu[k] + lr * (e * qi[k] - REG * pu[k])).collect();
                let nm = (0..F).map(|k| qi[k] + lr * (e * pu[k] - REG * qi[k])).collect();
                pending.push((uu, ii, nu, nm, bu, bi));
            }
            // Then the writes land in order; a later write to the same row
            // wins. The last writer of each row in the round keeps its update.
            for (j, p) in pending.iter().enumerate() {
                last_u[p.0] = j;
                last_m[p.1] = j;
            }
            for (j, (uu, ii, nu, nm, bu, bi)) in pending.iter().enumerate() {
                if last_u[*uu] != j || last_m[*ii] != j {
                    lost += 1;
                }
                s.u[uu * F..(uu + 1) * F].copy_from_slice(nu);
                s.m[ii * F..(ii + 1) * F].copy_from_slice(nm);
                s.ub[*uu] = *bu;
                s.mb[*ii] = *bi;
            }
        }
    }
    (s, lost)
}

/// Validation RMSE of `s` on `rows`, as the sparse recipe reports it.
fn rmse(s: &Svd, rows: &Rows) -> f64 {
    let mut pred = vec![0.0f32; rows.ratings.len()];
    mf_predict(
        &mut pred,
        &s.u,
        &s.m,
        &s.ub,
        &s.mb,
        s.mu,
        &rows.users,
        &rows.items,
        F,
    );
    let se: f64 = pred
        .iter()
        .zip(&rows.ratings)
        .map(|(&p, &y)| ((p - y) as f64).powi(2))
        .sum();
    (se / rows.ratings.len() as f64).sqrt()
}
