//! A 10-million-row ratings file is streamed: memory grows with the parsed
//! columns (12 bytes a row), not with the file's text. Alone in its own test
//! binary, so that the process's peak memory is this test's.

use std::io::Read;

use mfcuda::data::{Columns, Ratings};

const ROWS: u64 = 10_000_000;

/// A ratings CSV generated on the fly: 10M rows of about 80 bytes (a long
/// comment column makes the text 800 MB), never held in memory.
struct Generated {
    row: u64,
    line: Vec<u8>,
    pos: usize,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            if self.pos == self.line.len() {
                if self.row > ROWS {
                    break;
                }
                self.line.clear();
                if self.row == 0 {
                    self.line.extend_from_slice(b"userId,movieId,rating,comment\n");
                } else {
                    let r = self.row;
                    let text = format!(
                        "{},{},{}.5,\"a comment long enough to make every row about eighty bytes\"\n",
                        r % 100_003,
                        (r * 7) % 50_021,
                        r % 5
                    );
                    self.line.extend_from_slice(text.as_bytes());
                }
                self.row += 1;
                self.pos = 0;
            }
            let k = (self.line.len() - self.pos).min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&self.line[self.pos..self.pos + k]);
            self.pos += k;
            n += k;
        }
        Ok(n)
    }
}

/// The process's peak resident memory so far, in bytes (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kb| kb * 1024)
}

#[test]
fn ten_million_rows_stream_in_bounded_memory() {
    let before = peak_rss();
    let src = Generated {
        row: 0,
        line: Vec::new(),
        pos: 0,
    };
    let r = Ratings::from_reader(src, "generated.csv", &Columns::default()).unwrap();
    assert_eq!(r.len(), ROWS as usize);
    assert_eq!((r.n_users(), r.n_items()), (100_003, 50_021));
    let (Some(before), Some(after)) = (before, peak_rss()) else {
        eprintln!("no /proc/self/status here: memory not measured");
        return;
    };
    let grew = after.saturating_sub(before);
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "10M rows (800 MB of text): peak memory grew by {} MB\n",
            grew >> 20
        )
        .as_bytes(),
    );
    // Three columns of 4 bytes, with Vec's doubling: at most about 400 MB.
    // Holding the 800 MB of text, even once, would blow through this.
    assert!(
        grew < 450 << 20,
        "peak memory grew by {} MB for 10M rows",
        grew >> 20
    );
}
