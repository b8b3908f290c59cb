//! Text ids, end to end. The bundled ratings are rewritten with ids as
//! Amazon's data writes them (`A2SUAM1J3GNN3B` users, `B000JMLBHU` items,
//! ISBN-style items whose leading zeros must survive, and one user whose id
//! holds a comma). The file must load to the bundled indices, train to the
//! same val_mse to the bit, save a model that keeps the ids, and every
//! command that takes or prints an id must use them as written.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{bundled, mfcuda, stderr, stdout};
use mfcuda::data::{Columns, Id, IdList, Ratings, Source};
use mfcuda::recipe;
use mfcuda::trained::saved::SavedModel;

/// The text id of bundled user `u`: user 1's holds a comma, so that the CSV
/// must quote it.
fn user_id(u: &str) -> String {
    if u == "1" {
        "A,1".into()
    } else {
        format!("A{u}X9")
    }
}

/// The text id of bundled movie `m`: even ids become ASINs, odd ones ISBNs
/// with leading zeros.
fn item_id(m: &str) -> String {
    let n: u64 = m.parse().unwrap();
    if n.is_multiple_of(2) {
        format!("B{n:09}")
    } else {
        format!("{n:010}")
    }
}

fn csv_field(s: &str) -> String {
    if s.contains(',') {
        format!("\"{s}\"")
    } else {
        s.to_string()
    }
}

struct Files {
    ratings: PathBuf,
    model: PathBuf,
}

/// The rewritten ratings and a `sparse` model trained on them, made once.
fn files() -> &'static Files {
    static FILES: OnceLock<Files> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("text_ids");
        std::fs::create_dir_all(&dir).unwrap();
        let text = std::str::from_utf8(mfcuda::data::BUNDLED_RATINGS).unwrap();
        let mut out = String::from("user,item,stars,timestamp\n");
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            out.push_str(&format!(
                "{},{},{},{}\n",
                csv_field(&user_id(f[0])),
                item_id(f[1]),
                f[2],
                f[3]
            ));
        }
        let ratings = dir.join("amazon-style.csv");
        std::fs::write(&ratings, out).unwrap();
        let model = dir.join("sparse.safetensors");
        let o = mfcuda(&[
            "train",
            "--recipe",
            "sparse",
            "--device",
            "cpu",
            "--quiet",
            "--data",
            ratings.to_str().unwrap(),
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--rating-col",
            "stars",
            "--save",
            model.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        Files { ratings, model }
    })
}

fn columns() -> Columns {
    Columns {
        user: "user".into(),
        item: "item".into(),
        rating: "stars".into(),
        ..Columns::default()
    }
}

/// Runs a command on the text-id files: the model and the ratings with
/// their column names.
fn run(args: &[&str]) -> std::process::Output {
    let f = files();
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "--model",
        f.model.to_str().unwrap(),
        "--data",
        f.ratings.to_str().unwrap(),
        "--user-col",
        "user",
        "--item-col",
        "item",
        "--rating-col",
        "stars",
    ]);
    mfcuda(&all)
}

/// [`run`], which must succeed; its stdout.
fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn text_ids_load_to_the_same_indices_and_train_to_the_same_val_mse() {
    let want = bundled();
    let got = Ratings::load(&Source::File(files().ratings.clone()), &columns()).unwrap();
    assert_eq!(
        (got.users.as_slice(), got.items.as_slice()),
        (want.users.as_slice(), want.items.as_slice())
    );
    assert_eq!(got.ratings, want.ratings);
    assert_eq!(got.timestamps, want.timestamps);
    let IdList::Text(items) = got.item_ids.list() else {
        panic!("item ids should be text")
    };
    assert_eq!(items[0], "0000000001", "leading zeros are kept");
    assert_eq!(got.user_ids.get(0), Id::Text("A,1".into()));
    for k in (0..want.n_items()).step_by(97) {
        assert_eq!(items[k], item_id(&want.item_ids.get(k).to_string()));
    }
    let train = |data: &Ratings| common::train_on_cpu(data, recipe::find("sparse").unwrap()).val_mse;
    assert_eq!(train(&got).to_bits(), train(&want).to_bits());
}

#[test]
fn the_model_keeps_the_ids_and_every_command_takes_and_prints_them() {
    let m = SavedModel::load(&files().model).unwrap();
    assert_eq!(m.user_ids.get(1).to_string(), "A2X9");
    assert!(m.item_ids.find(&Id::parse("B000000050")).is_some());
    assert_eq!(m.item_ids.find(&Id::Int(50)), None, "movie 50 is B000000050 here");
    assert_eq!(m.item_ids.find(&Id::Int(1)), None, "and movie 1 is 0000000001");
    let again = SavedModel::from_bytes(&m.to_bytes().unwrap(), "again").unwrap();
    assert_eq!(again, m, "text ids survive a save and a load");

    // predict: the validation split, with the ids as written (the comma one quoted).
    let out = ok(&["predict"]);
    let mut rows = csv::Reader::from_reader(out.as_bytes());
    let ids: Vec<(String, String)> = rows
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string())
        })
        .collect();
    assert_eq!(ids.len(), 20_167);
    assert!(ids
        .iter()
        .all(|(u, i)| u.starts_with('A') && (i.starts_with('B') || i.starts_with('0'))));
    assert!(
        ids.iter().any(|(u, _)| u == "A,1"),
        "the quoted id reads back whole"
    );

    // predict --pairs with text ids, known and unknown.
    let dir = tempfile::tempdir().unwrap();
    let pairs = dir.path().join("pairs.csv");
    std::fs::write(
        &pairs,
        "user,item\n\"A,1\",0000000001\nA414X9,B000000050\nnobody,B000000050\n",
    )
    .unwrap();
    let out = ok(&["predict", "--pairs", pairs.to_str().unwrap(), "--unknown", "mean"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[1].starts_with("\"A,1\",0000000001,,"), "{out}");
    assert!(lines[2].starts_with("A414X9,B000000050,,"), "{out}");
    assert!(lines[3].starts_with("nobody,B000000050,,"), "{out}");

    // recommend --user takes a text id, and lists text movie ids none of which the user rated.
    let out = ok(&["recommend", "--user", "A414X9", "-n", "5"]);
    assert!(out.starts_with("top 5 unseen movies for user A414X9"), "{out}");
    let data = Ratings::load(&Source::File(files().ratings.clone()), &columns()).unwrap();
    let u = data.user_ids.find(&Id::parse("A414X9")).unwrap();
    for row in out.lines().skip(2) {
        let movie: Id = row.split_whitespace().nth(1).unwrap().parse().unwrap();
        let i = data
            .item_ids
            .find(&movie)
            .unwrap_or_else(|| panic!("{movie} is not an item"));
        assert!(
            !(0..data.len()).any(|r| data.users[r] == u && data.items[r] == i),
            "{row}"
        );
    }

    // similar --movie and biases print text ids too (no titles: the ids are not MovieLens's).
    let out = ok(&["similar", "--movie", "0000000001", "-n", "3"]);
    assert!(out.starts_with("movies nearest to 0000000001"), "{out}");
    assert_eq!(out.lines().count(), 5, "{out}");
    let out = ok(&["biases", "-n", "3"]);
    let ids: Vec<&str> = out.lines().filter_map(|l| l.split_whitespace().next()).collect();
    let text_ids = ids
        .iter()
        .filter(|id| id.starts_with("B0") || id.starts_with("00"));
    assert_eq!(text_ids.count(), 6, "{out}");

    // An id the model does not have is named as typed.
    let o = run(&["recommend", "--user", "A0000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("user A0000 is not in the model"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_cache_keeps_text_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::copy(&files().ratings, &path).unwrap();
    let p = path.to_str().unwrap();
    let args = [
        "stats",
        "--data",
        p,
        "--cache",
        "--user-col",
        "user",
        "--item-col",
        "item",
        "--rating-col",
        "stars",
    ];
    let first = mfcuda(&args);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("cache written"), "{}", stdout(&first));
    let second = mfcuda(&args);
    let (a, b) = (stdout(&first), stdout(&second));
    assert!(b.contains("from the binary cache"), "{b}");
    let body = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("load"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&a), body(&b));
    assert!(
        a.contains("A414X9"),
        "the top users are printed by their ids:\n{a}"
    );
    assert!(a.contains("time      1996-03-29 .. 2018-09-24 (UTC)"), "{a}");
}
