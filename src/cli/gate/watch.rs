//! `deid gate watch`: a researcher's export folder, submitted as files appear.
//!
//! The watcher runs as the researcher (so requests are theirs), waits until a dropped file
//! stops changing, submits it as one request, and moves it out of the way: into
//! `.submitted/` once the gate holds its own copy, into `.refused/` when the gate refuses
//! it. Polling keeps it working on network and FUSE mounts where change notifications do
//! not arrive.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use clap::Args;

use super::{GateDir, submit_files};

#[derive(Debug, Args)]
pub(in crate::cli) struct WatchArgs {
    #[command(flatten)]
    gate: GateDir,
    /// The folder to watch.
    folder: PathBuf,
    /// The reason recorded with every request.
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Seconds between looks at the folder.
    #[arg(long, value_name = "SECS", default_value_t = 2)]
    interval: u64,
    /// Look twice, one interval apart, submit the files that did not change, and exit.
    #[arg(long)]
    once: bool,
}

/// What a file looked like at the last look.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Seen {
    size: u64,
    modified: Option<SystemTime>,
}

pub(super) fn run(args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let submitted = args.folder.join(".submitted");
    let refused = args.folder.join(".refused");
    for dir in [&submitted, &refused] {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    eprintln!(
        "watching {} (every {} s); files are submitted once they stop changing",
        args.folder.display(),
        args.interval
    );
    let mut last = look(&args.folder)?;
    let mut failed = false;
    loop {
        std::thread::sleep(Duration::from_secs(args.interval.max(1)));
        let now = look(&args.folder)?;
        for (path, seen) in &now {
            // New or still changing files wait for the next look.
            if last.get(path) == Some(seen) {
                failed |= !submit_one(args, path, &submitted, &refused);
            }
        }
        if args.once {
            break;
        }
        last = now;
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The regular files directly in `folder`, hidden ones aside.
fn look(folder: &Path) -> anyhow::Result<HashMap<PathBuf, Seen>> {
    let mut files = HashMap::new();
    let entries =
        std::fs::read_dir(folder).with_context(|| format!("{}: cannot list", folder.display()))?;
    for entry in entries.flatten() {
        if entry.file_name().as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        if metadata.is_file() {
            files.insert(
                entry.path(),
                Seen {
                    size: metadata.len(),
                    modified: metadata.modified().ok(),
                },
            );
        }
    }
    Ok(files)
}

/// Submits one file and moves it aside; false when the gate refused it.
fn submit_one(args: &WatchArgs, path: &Path, submitted: &Path, refused: &Path) -> bool {
    let name = path.file_name().unwrap_or_default();
    match submit_files(
        &args.gate,
        std::slice::from_ref(&path.to_path_buf()),
        &args.reason,
    ) {
        Ok(summary) => {
            let id = summary["id"].as_i64().unwrap_or_default();
            let mut target = submitted.to_path_buf();
            target.push(format!("{id}-{}", name.to_string_lossy()));
            if let Err(e) = std::fs::rename(path, &target) {
                eprintln!(
                    "{}: submitted as request {id}, but not moved: {e}",
                    path.display()
                );
            } else {
                eprintln!(
                    "{}: request {id}, {} ({})",
                    path.display(),
                    summary["state"].as_str().unwrap_or_default(),
                    summary["outcome"].as_str().unwrap_or("-")
                );
            }
            true
        }
        Err(e) => {
            // Only a refusal moves the file aside; an unreachable gate leaves it for later.
            let refusal = e
                .downcast_ref::<deid_gate::client::ClientError>()
                .is_some_and(|e| matches!(e, deid_gate::client::ClientError::Gate(_)));
            eprintln!("{}: not submitted: {e:#}", path.display());
            if refusal {
                let stamp = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                let _ = std::fs::rename(
                    path,
                    refused.join(format!("{stamp}-{}", name.to_string_lossy())),
                );
            }
            false
        }
    }
}
