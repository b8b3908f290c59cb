//! `mfcuda recipes`: every recipe, its length and the notebook's figure.

use mfcuda::recipe;

use super::{emit, CliResult};

/// Prints one line per recipe.
pub fn run() -> CliResult {
    let mut text = String::new();
    let all = recipe::all();
    let width = all.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for r in all {
        let notebook = r
            .notebook_mse
            .map(|m| format!("notebook MSE {m:.4}"))
            .unwrap_or("not in the notebook".into());
        text.push_str(&format!(
            "{:<width$} {} epochs, {notebook}: {}\n",
            r.name,
            r.epochs(),
            r.about
        ));
    }
    for (name, _) in recipe::FILES {
        if let Some(f) = recipe::find_file(name) {
            text.push_str(&format!("{name:<width$} (recipes/{name}.toml) {}\n", f.about));
        }
    }
    Ok(emit(&text)?)
}
