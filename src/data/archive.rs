//! MovieLens's own downloads are zip archives (`ml-latest-small.zip`,
//! `ml-25m.zip`, `ml-100k.zip`): this opens the one member a command wants
//! from one, by its file name. The ratings are `ratings.csv` (latest, 20M,
//! 25M), `ratings.dat` (1M, 10M) or `u.data` (100k); the titles
//! `movies.csv`. An archive with none of the names asked for, or with
//! several, is refused with the list of what it holds.
//!
//! The member is read as it decompresses, on a thread of its own that hands
//! blocks to the reader through a bounded channel: the archive stays open on
//! that thread, and the reader owns nothing borrowed. The zip crate checks
//! each member's CRC-32 as it reaches its end.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};

use crate::error::{Error, Result};

/// The names a ratings file has in MovieLens's archives.
pub const RATINGS_FILES: &[&str] = &["ratings.csv", "ratings.dat", "u.data"];
/// The name of MovieLens's titles file.
pub const MOVIES_FILE: &str = "movies.csv";

/// The member of the zip archive at `path` whose file name (its last path
/// component) is one of `wanted`, and its path inside the archive; `None`
/// when `required` is false and there is none. `name` is used in messages.
pub fn open_member(
    path: &Path,
    name: &str,
    wanted: &[&str],
    required: bool,
) -> Result<Option<(Box<dyn Read + Send>, String)>> {
    let bad = |msg: String| Error::File {
        file: name.to_string(),
        msg,
    };
    let file = File::open(path).map_err(|e| Error::Io {
        file: name.to_string(),
        source: e,
    })?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| bad(format!("is a zip archive that cannot be read: {e}")))?;
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .filter(|n| !n.ends_with('/'))
        .collect();
    let base = |n: &str| n.rsplit('/').next().unwrap_or(n).to_string();
    let hits: Vec<&String> = names
        .iter()
        .filter(|n| wanted.contains(&base(n).as_str()))
        .collect();
    let member = match hits.as_slice() {
        [one] => (*one).clone(),
        [] if !required => return Ok(None),
        [] => {
            let mut listed: Vec<&str> = names.iter().map(String::as_str).take(12).collect();
            if names.len() > 12 {
                listed.push("...");
            }
            return Err(bad(format!(
                "is a zip archive with no {} in it ({} file{}: {}); unzip the ratings file and pass it with --data",
                wanted.join(", "),
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                listed.join(", ")
            )));
        }
        several => {
            return Err(bad(format!(
                "is a zip archive with {} candidates ({}); unzip the one you want and pass it with --data",
                several.len(),
                several.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )))
        }
    };
    let index = archive
        .index_for_name(&member)
        .ok_or_else(|| bad(format!("lists {member} but does not hold it")))?;
    // Open it once here, so that an unsupported compression is reported now, by name.
    archive
        .by_index(index)
        .map_err(|e| bad(format!("{member} in the zip cannot be read: {e}")))?;
    let (tx, rx) = sync_channel::<std::io::Result<Vec<u8>>>(4);
    std::thread::spawn(move || {
        let mut entry = match archive.by_index(index) {
            Ok(e) => e,
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other(e)));
                return;
            }
        };
        loop {
            let mut block = vec![0u8; 1 << 16];
            match entry.read(&mut block) {
                Ok(0) => return,
                Ok(n) => {
                    block.truncate(n);
                    // A closed channel: the reader has stopped and wants no more.
                    if tx.send(Ok(block)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    Ok(Some((
        Box::new(Blocks {
            rx,
            block: Vec::new(),
            at: 0,
        }),
        member,
    )))
}

/// Whether the file at `path` is a zip archive, by its first bytes.
pub fn is_zip(path: &Path) -> bool {
    let mut head = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|_| head == *crate::data::format::ZIP || head == *b"PK\x05\x06")
}

/// The reading end: the blocks the member's thread decompressed, in order.
struct Blocks {
    rx: Receiver<std::io::Result<Vec<u8>>>,
    block: Vec<u8>,
    at: usize,
}

impl Read for Blocks {
    fn read(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.block.len() {
            match self.rx.recv() {
                Ok(block) => {
                    self.block = block?;
                    self.at = 0;
                }
                // The thread has finished: the end of the member.
                Err(_) => return Ok(0),
            }
        }
        let n = dst.len().min(self.block.len() - self.at);
        dst[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(path: &Path, members: &[(&str, &[u8])]) {
        let mut w = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, bytes) in members {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn picks_the_one_ratings_member_and_reads_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ml.zip");
        let big: Vec<u8> = (0..300_000u32)
            .flat_map(|i| format!("{},{},4\n", i % 97, i % 13).into_bytes())
            .collect();
        zip_of(
            &p,
            &[
                ("ml/links.csv", b"x"),
                ("ml/ratings.csv", &big),
                ("ml/movies.csv", b"movieId,title\n"),
            ],
        );
        assert!(is_zip(&p));
        let (mut r, member) = open_member(&p, "ml.zip", RATINGS_FILES, true).unwrap().unwrap();
        assert_eq!(member, "ml/ratings.csv");
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, big);
        assert!(open_member(&p, "ml.zip", &["tags.csv"], false).unwrap().is_none());
    }

    #[test]
    fn refuses_none_or_several_listing_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("two.zip");
        zip_of(&p, &[("a/ratings.csv", b"1"), ("b/ratings.dat", b"2")]);
        let e = open_member(&p, "two.zip", RATINGS_FILES, true)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("2 candidates (a/ratings.csv, b/ratings.dat)"), "{e}");
        let p = dir.path().join("none.zip");
        zip_of(&p, &[("readme.txt", b"1")]);
        let e = open_member(&p, "none.zip", RATINGS_FILES, true)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("no ratings.csv, ratings.dat, u.data in it (1 file: readme.txt)"),
            "{e}"
        );
    }
}
