//! 03: EmbeddingDot, the notebook's first model: gather a user row and a
//! movie row, take their dot product. That is the whole forward pass.
//!
//! This builds the model on the real ml-latest-small data with the
//! notebook's initialisation, U(0, 0.05), and predicts the first rating.
//!
//!     cargo run --example 03_embedding_dot

use mfcuda::data::{Columns, Ratings, Source};
use mfcuda::model::{ModelConfig, ModelKind, ModelSpec, Workspace};
use mfcuda::rng::Mt19937;

fn main() -> mfcuda::Result<()> {
    let data = Ratings::load(&Source::Bundled, &Columns::default())?;
    let spec = ModelSpec {
        config: ModelConfig {
            kind: ModelKind::Dot,
            factors: 50,
            hidden: 1,
            emb_init: (0.0, 0.05),
            dropout: (0.0, 0.0),
        },
        n_users: data.n_users(),
        n_items: data.n_items(),
        y_range: data.rating_range(),
    };
    println!("{}", spec.describe());
    let params = spec.init_params(&mut Mt19937::new(42));
    let (u, m) = (data.users[0], data.items[0]);
    let mut ws = Workspace::default();
    spec.forward(&params, &[u], &[m], &mut ws, None);
    // The same number by hand: the dot product of the two rows.
    let (urow, mrow) = (
        &params[u as usize * 50..][..50],
        &params[(spec.n_users + m as usize) * 50..][..50],
    );
    let by_hand: f32 = urow.iter().zip(mrow).fold(0.0, |acc, (a, b)| acc + a * b);
    println!(
        "user {} x movie {}: predicted {:.5}, rated {}",
        data.user_ids.get(u as usize),
        data.item_ids.get(m as usize),
        ws.pred[0],
        data.ratings[0]
    );
    assert_eq!(ws.pred[0], by_hand);
    // Untrained, with factors in [0, 0.05): 50 products of at most 0.0025.
    assert!((0.0..0.125).contains(&ws.pred[0]));
    Ok(())
}
