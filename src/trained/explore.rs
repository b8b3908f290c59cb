//! Using a trained model: predictions, recommendations with titles, similar
//! movies, and the learned movie biases (the interpretation from the fastai
//! lessons).

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use crate::data::split::Split;
use crate::data::{archive, cache, open, Columns, CsvRows, Id, Ratings, Source, Table};
use crate::error::{Error, Result};
use crate::text::count;
use crate::trained::ensemble::Predictor;
use crate::trained::saved::SavedModel;

/// ml-latest-small's `movies.csv`, compiled in for titles.
pub const BUNDLED_MOVIES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/ml-latest-small/movies.csv"
));

/// Movie titles by raw movie id.
#[derive(Debug, Clone, Default)]
pub struct Movies {
    titles: HashMap<Id, String>,
}

impl Movies {
    /// Reads a MovieLens `movies.csv` (columns `movieId`, `title`); `None`
    /// reads the bundled one.
    pub fn load(path: Option<&Path>) -> Result<Movies> {
        let source = Source::from_option(path);
        let name = match path {
            Some(p) => p.display().to_string(),
            None => "data/ml-latest-small/movies.csv (bundled)".to_string(),
        };
        Self::from_reader(open(&source, BUNDLED_MOVIES)?, &name)
    }

    /// The titles for `data`: `movies` when given; else the `movies.csv` in
    /// `data`'s zip archive when it holds one (MovieLens's downloads do);
    /// else the bundled ones.
    pub fn for_data(movies: Option<&Path>, data: &Source) -> Result<Movies> {
        if let (None, Source::File(path)) = (movies, data) {
            if archive::is_zip(path) {
                let name = path.display().to_string();
                if let Some((reader, member)) =
                    archive::open_member(path, &name, &[archive::MOVIES_FILE], false)?
                {
                    return Self::from_reader(reader, &format!("{name}: {member}"));
                }
            }
        }
        Self::load(movies)
    }

    /// Parses a movies CSV; `name` is used in messages.
    pub fn from_reader<R: Read>(reader: R, name: &str) -> Result<Movies> {
        let mut rows = CsvRows::new(reader, name, "movie rows")?;
        let (id, title) = (rows.column("movieId")?, rows.column("title")?);
        let mut titles = HashMap::new();
        while rows.advance()? {
            titles.insert(rows.id(id, "movieId")?, rows.text(title, "title")?.to_string());
        }
        Ok(Movies { titles })
    }

    /// The title of `movie`, or a placeholder.
    pub fn title(&self, movie: &Id) -> &str {
        self.titles.get(movie).map(String::as_str).unwrap_or("(no title)")
    }
}

/// What to do with an id the model has never seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// Stop with an error naming the row.
    Error,
    /// Predict the mean training rating.
    Mean,
}

/// One predicted rating.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Raw user id.
    pub user: Id,
    /// Raw movie id.
    pub movie: Id,
    /// The actual rating, where the input had one.
    pub rating: Option<f32>,
    /// The model's prediction.
    pub predicted: f32,
    /// False where an unknown id got the global mean.
    pub known: bool,
}

/// Clips every prediction to the model's rating range ([`SavedModel::clip`]).
pub fn clip_predictions(model: &impl Predictor, preds: &mut [Prediction]) {
    for p in preds {
        p.predicted = model.common().clip(p.predicted);
    }
}

/// Predicts a file of (user, movie) pairs, with an optional rating column.
/// It is read as `--data` is ([`Table::open`]): gzip, any separator, with
/// or without a header, columns by name or position. Without a header the
/// default columns are user, movie[, rating].
pub fn predict_pairs<R: Read + Send>(
    predictor: &impl Predictor,
    reader: R,
    name: &str,
    cols: &Columns,
    unknown: Unknown,
) -> Result<Vec<Prediction>> {
    let model = predictor.common();
    let table = Table::open(Box::new(reader), name, "user,movie rows", cols, false)?;
    let (ucol, icol, rcol) = (table.user, table.item, table.rating);
    let cols = &table.labels;
    let mut rows = table.rows;
    let mut out = Vec::new();
    let (mut users, mut items, mut at) = (Vec::new(), Vec::new(), Vec::new());
    while rows.advance()? {
        let (user, movie) = (rows.id(ucol, &cols.user)?, rows.id(icol, &cols.item)?);
        // The rating column is optional, and so is each rating in it: a blank cell is no rating.
        let rating = match rcol {
            Some(c) if !rows.text(c, &cols.rating)?.is_empty() => Some(rows.number(c, &cols.rating)?),
            _ => None,
        };
        match (model.user_ids.find(&user), model.item_ids.find(&movie)) {
            (Some(u), Some(i)) => {
                users.push(u);
                items.push(i);
                at.push(out.len());
                out.push(Prediction {
                    user,
                    movie,
                    rating,
                    predicted: f32::NAN,
                    known: true,
                });
            }
            (u, _) if unknown == Unknown::Error => {
                let what = if u.is_none() {
                    format!("user {user}")
                } else {
                    format!("movie {movie}")
                };
                return Err(rows.error(format!(
                    "{what} is not in the model; pass --unknown mean to predict the mean rating ({:.3})",
                    model.global_mean
                )));
            }
            _ => out.push(Prediction {
                user,
                movie,
                rating,
                predicted: model.global_mean as f32,
                known: false,
            }),
        }
    }
    if out.is_empty() {
        return Err(rows.no_rows());
    }
    for (k, p) in at.into_iter().zip(predictor.scores(&users, &items)) {
        out[k].predicted = p;
    }
    Ok(out)
}

/// Predicts the model's own validation split of `data`, which must be the
/// data it was trained on.
pub fn predict_validation(predictor: &impl Predictor, data: &Ratings) -> Result<Vec<Prediction>> {
    let split = model_split(predictor.common(), data)?;
    let rows: Vec<usize> = split.valid.iter().map(|&r| r as usize).collect();
    let users: Vec<u32> = rows.iter().map(|&r| data.users[r]).collect();
    let items: Vec<u32> = rows.iter().map(|&r| data.items[r]).collect();
    let preds = predictor.scores(&users, &items);
    Ok(rows
        .iter()
        .zip(preds)
        .map(|(&r, p)| Prediction {
            user: data.user_ids.get(data.users[r] as usize),
            movie: data.item_ids.get(data.items[r] as usize),
            rating: Some(data.ratings[r]),
            predicted: p,
            known: true,
        })
        .collect())
}

/// The training and validation rows `model` was trained and validated on;
/// `data` must be the model's.
pub fn model_split(model: &SavedModel, data: &Ratings) -> Result<Split> {
    ensure_model_data(model, data)?;
    model
        .split
        .split(&data.users, &data.timestamps, model.val_pct, model.split_seed)
}

/// Ok when `data` is the data `model` was trained on (the same rows and
/// the same ids in the same order, and where the model recorded one, the
/// same fingerprint); otherwise an error naming the file the model was
/// trained on and what differs. The validation split, the movies a user
/// has seen and the rating counts all come from the data, so on other data
/// they would be wrong.
pub fn ensure_model_data(model: &SavedModel, data: &Ratings) -> Result<()> {
    let same_shape =
        data.len() == model.rows && data.user_ids == model.user_ids && data.item_ids == model.item_ids;
    let fingerprint = model.data.as_ref().map(|o| o.fingerprint);
    if same_shape && fingerprint.is_none_or(|f| f == data.fingerprint()) {
        return Ok(());
    }
    let mut what = Vec::new();
    if data.len() != model.rows {
        what.push(format!(
            "{} against the model's {}",
            count(data.len() as u64, "row"),
            model.rows
        ));
    }
    for (noun, ours, theirs) in [
        ("user", &data.user_ids, &model.user_ids),
        ("movie", &data.item_ids, &model.item_ids),
    ] {
        if ours.len() != theirs.len() {
            what.push(format!(
                "{} against the model's {}",
                count(ours.len() as u64, noun),
                theirs.len()
            ));
        } else if ours != theirs {
            what.push(format!("other {noun} ids (the same {} of them)", ours.len()));
        }
    }
    if what.is_empty() {
        what.push("the same ids and row count, but other ratings or rows in another order".into());
    }
    let what = what.join(", ");
    let msg = match &model.data {
        Some(origin) if same_file(&origin.source, &data.source) => {
            format!("has changed since the model was trained on it: {what}; train the model again on it")
        }
        Some(origin) => format!(
            "is not the data the model was trained on, {}: {what}; leave out --data to reopen that file, \
             or pass it with --data",
            origin.name()
        ),
        None => format!(
            "is not the data the model was trained on: {what}; pass the data it was trained on with --data \
             (this model was saved by an older mfcuda, which did not record the file)"
        ),
    };
    Err(Error::File {
        file: data.source.clone(),
        msg,
    })
}

/// Whether `source` and the file named `name` are one file.
fn same_file(source: &Source, name: &str) -> bool {
    match source {
        Source::Bundled => name == crate::data::BUNDLED_NAME,
        Source::File(p) => {
            // A zip's data is named "PATH: MEMBER".
            let file = match name.rsplit_once(": ") {
                Some((f, _)) if !Path::new(name).exists() => f,
                _ => name,
            };
            p.display().to_string() == file || std::fs::canonicalize(file).is_ok_and(|c| c == *p)
        }
    }
}

/// The data to use `model` with: `given` (a file and the flags that read
/// it) when the user named one; otherwise the data the model was trained
/// on, reopened with the flags it was read with. A model saved before the
/// data was recorded gets the bundled set. Whichever it is, it must be the
/// model's own ([`ensure_model_data`]) before anything uses it.
pub fn model_data(model: &SavedModel, given: Option<(&Path, &Columns)>, use_cache: bool) -> Result<Ratings> {
    let (source, columns) = model_source(model, given);
    if let Source::File(path) = &source {
        if given.is_none() && !path.exists() {
            return Err(Error::File {
                file: path.display().to_string(),
                msg:
                    "the model was trained on this file, and it is no longer there; pass its data with --data"
                        .into(),
            });
        }
    }
    Ok(cache::load(&source, &columns, use_cache)?.0)
}

/// Where [`model_data`] reads from, and with which flags: `given`, else
/// the model's own data, else (a model saved before it was recorded) the
/// bundled set.
pub fn model_source(model: &SavedModel, given: Option<(&Path, &Columns)>) -> (Source, Columns) {
    match (given, &model.data) {
        (Some((path, columns)), _) => (Source::File(path.to_path_buf()), columns.clone()),
        (None, Some(origin)) => (origin.source.clone(), origin.columns.clone()),
        (None, None) => (Source::Bundled, Columns::default()),
    }
}

/// The validation RMSE of `model` on its own `data`, of raw scores (the
/// figure training reports) and of scores clipped to the rating range (what
/// `predict` prints).
pub fn validation_rmse(model: &impl Predictor, data: &Ratings) -> Result<(f64, f64)> {
    let mut preds = predict_validation(model, data)?;
    let raw = rmse(&preds).unwrap_or(f64::NAN);
    clip_predictions(model, &mut preds);
    Ok((raw, rmse(&preds).unwrap_or(f64::NAN)))
}

/// Root mean squared error over the predictions that have a rating.
pub fn rmse(preds: &[Prediction]) -> Option<f64> {
    let sq: Vec<f64> = preds
        .iter()
        .filter_map(|p| p.rating.map(|r| (p.predicted as f64 - r as f64).powi(2)))
        .collect();
    (!sq.is_empty()).then(|| (sq.iter().sum::<f64>() / sq.len() as f64).sqrt())
}

/// One recommended movie.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    /// Raw movie id.
    pub movie: Id,
    /// Its title.
    pub title: String,
    /// The predicted rating.
    pub predicted: f32,
    /// The movie's learned bias, for models that have one.
    pub bias: Option<f32>,
}

/// The `n` movies with the highest predicted rating, among those `user` has
/// not rated in `data` (all of them, unless `exclude_seen`), ranked by the
/// raw score; with `clip`, the printed prediction is clipped to the rating
/// range ([`SavedModel::clip`]).
pub fn recommend(
    predictor: &impl Predictor,
    data: &Ratings,
    movies: &Movies,
    user: &Id,
    n: usize,
    clip: bool,
    exclude_seen: bool,
) -> Result<Vec<Recommendation>> {
    let model = predictor.common();
    ensure_model_data(model, data)?;
    let u = model.user_ids.find(user).ok_or_else(|| {
        Error::invalid(
            "--user",
            format!("user {user} is not in the model ({} users)", model.user_ids.len()),
        )
    })?;
    // The data is the model's, so its indices are the model's rows.
    let seen: HashSet<u32> = (0..data.len())
        .filter(|&r| exclude_seen && data.users[r] == u)
        .map(|r| data.items[r])
        .collect();
    let candidates: Vec<u32> = (0..model.item_ids.len() as u32)
        .filter(|i| !seen.contains(i))
        .collect();
    let preds = predictor.scores(&vec![u; candidates.len()], &candidates);
    // An ensemble has no one bias per movie.
    let bias = predictor.single().and_then(|m| m.tensor("mb"));
    let mut ranked: Vec<(u32, f32)> = candidates.into_iter().zip(preds).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(ranked
        .into_iter()
        .take(n)
        .map(|(i, p)| {
            let movie = model.item_ids.get(i as usize);
            Recommendation {
                title: movies.title(&movie).to_string(),
                movie,
                predicted: if clip { model.clip(p) } else { p },
                bias: bias.map(|b| b[i as usize]),
            }
        })
        .collect())
}

/// One movie and a score (similarity or bias).
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Raw movie id.
    pub movie: Id,
    /// Its title.
    pub title: String,
    /// Cosine similarity, or bias.
    pub score: f32,
    /// Its number of ratings in the data, where known.
    pub count: Option<usize>,
}

/// The `n` movies whose embeddings are closest to `movie`'s by cosine
/// similarity, among those with at least `min_ratings` ratings in `data`
/// (which must be the model's); `movie` itself must have that many.
pub fn similar(
    model: &SavedModel,
    data: &Ratings,
    movies: &Movies,
    movie: &Id,
    n: usize,
    min_ratings: usize,
) -> Result<Vec<Scored>> {
    ensure_model_data(model, data)?;
    let i = model.item_ids.find(movie).ok_or_else(|| {
        Error::invalid(
            "--movie",
            format!(
                "movie {movie} is not in the model ({} movies)",
                model.item_ids.len()
            ),
        )
    })? as usize;
    let mut counts = vec![0usize; model.item_ids.len()];
    for &it in &data.items {
        counts[it as usize] += 1;
    }
    if counts[i] < min_ratings {
        return Err(Error::invalid(
            "--min-ratings",
            format!(
                "movie {movie} has {} in the data, fewer than {min_ratings}: its embedding is mostly its \
                 initial noise, so its neighbours would mean little (lower --min-ratings to see them anyway)",
                crate::text::count(counts[i] as u64, "rating")
            ),
        ));
    }
    let f = model.spec.factors;
    let m = model.tensor("m").expect("every model has movie embeddings");
    let norm = |r: &[f32]| r.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    let target = &m[i * f..(i + 1) * f];
    let tn = norm(target);
    let mut scored: Vec<(usize, f32)> = m
        .chunks_exact(f)
        .enumerate()
        .filter(|&(j, _)| j != i && counts[j] >= min_ratings)
        .map(|(j, row)| {
            let dot: f64 = row.iter().zip(target).map(|(&a, &b)| a as f64 * b as f64).sum();
            let denom = norm(row) * tn;
            (j, if denom > 0.0 { (dot / denom) as f32 } else { 0.0 })
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(scored
        .into_iter()
        .take(n)
        .map(|(j, s)| {
            let id = model.item_ids.get(j);
            Scored {
                title: movies.title(&id).to_string(),
                movie: id,
                score: s,
                count: Some(counts[j]),
            }
        })
        .collect())
}

/// The movies with the highest and the lowest learned bias, among the
/// `popular` most-rated movies of `data` (all movies when `popular` is 0).
pub fn biases(
    model: &SavedModel,
    data: &Ratings,
    movies: &Movies,
    n: usize,
    popular: usize,
) -> Result<(Vec<Scored>, Vec<Scored>)> {
    let mb = model.tensor("mb").ok_or_else(|| {
        Error::invalid(
            "--model",
            format!(
                "a {} model has no movie biases; train learner, dotbias or sparse",
                model.recipe
            ),
        )
    })?;
    ensure_model_data(model, data)?;
    // The data is the model's, so its item indices are the model's rows.
    let mut counts = vec![0usize; model.item_ids.len()];
    for &i in &data.items {
        counts[i as usize] += 1;
    }
    let mut pool: Vec<usize> = (0..model.item_ids.len()).collect();
    if popular > 0 {
        pool.sort_by_key(|&j| (std::cmp::Reverse(counts[j]), j));
        pool.truncate(popular);
    }
    pool.sort_by(|&a, &b| mb[b].total_cmp(&mb[a]).then(a.cmp(&b)));
    let row = |j: usize| {
        let id = model.item_ids.get(j);
        Scored {
            title: movies.title(&id).to_string(),
            movie: id,
            score: mb[j],
            count: Some(counts[j]),
        }
    };
    let top = pool.iter().take(n).map(|&j| row(j)).collect();
    let bottom = pool.iter().rev().take(n).map(|&j| row(j)).collect();
    Ok((top, bottom))
}
