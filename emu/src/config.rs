//! The emulator's settings, read once from the environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `MFCUDA_EMU_SMS` | 4 | streaming multiprocessors the device reports (132 for an H200) |
//! | `MFCUDA_EMU_SEED` | 0 | schedule-fuzz seed: the order warps and blocks interleave in; 0 is the plain order |
//! | `MFCUDA_EMU_SANITIZE` | 1 | memcheck, initcheck, racecheck and the barrier checks (0 turns the costly ones off; bounds are always checked) |
//! | `MFCUDA_EMU_COUNTERS` | 1 | per-launch counters (instructions, sectors, bank conflicts, divergence) |
//! | `MFCUDA_EMU_MEMORY_MB` | 4096 | device memory the device reports and allows |
//! | `MFCUDA_EMU_LOG` | unset | a file that gets one line per launch: kernel, grid, block, counters |

use std::sync::OnceLock;

/// The settings in force for this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Streaming multiprocessors the device reports.
    pub sms: u32,
    /// Schedule-fuzz seed (0: blocks in order, warps in order, lanes in order).
    pub seed: u64,
    /// Sanitizers on (memcheck's bounds are checked either way).
    pub sanitize: bool,
    /// Per-launch counters on.
    pub counters: bool,
    /// Device memory in bytes.
    pub memory_bytes: u64,
    /// Where to append one line per launch, if anywhere.
    pub log: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sms: 4,
            seed: 0,
            sanitize: true,
            counters: true,
            memory_bytes: 4096 << 20,
            log: None,
        }
    }
}

impl Config {
    /// Reads the `MFCUDA_EMU_*` variables; a malformed one is reported on
    /// stderr and its default kept (a driver has no other channel to say so).
    pub fn from_env() -> Config {
        let mut c = Config::default();
        fn num(var: &str) -> Option<u64> {
            let v = std::env::var(var).ok()?;
            match v.trim().parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    eprintln!("mfcuda-emu: {var}={v:?} is not a whole number; using the default");
                    None
                }
            }
        }
        if let Some(n) = num("MFCUDA_EMU_SMS") {
            c.sms = n.clamp(1, 1024) as u32;
        }
        if let Some(n) = num("MFCUDA_EMU_SEED") {
            c.seed = n;
        }
        if let Some(n) = num("MFCUDA_EMU_SANITIZE") {
            c.sanitize = n != 0;
        }
        if let Some(n) = num("MFCUDA_EMU_COUNTERS") {
            c.counters = n != 0;
        }
        if let Some(n) = num("MFCUDA_EMU_MEMORY_MB") {
            c.memory_bytes = n.max(1) << 20;
        }
        c.log = std::env::var_os("MFCUDA_EMU_LOG").map(Into::into);
        c
    }

    /// The process-wide settings, read at first use.
    pub fn get() -> &'static Config {
        static CONFIG: OnceLock<Config> = OnceLock::new();
        CONFIG.get_or_init(Config::from_env)
    }
}
