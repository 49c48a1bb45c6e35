//! `deid policy`, `deid keygen`, `deid decrypt`, and the policy and key options of `redact`.
//!
//! Keys come from a file (`--key-file` or `DEID_KEY_FILE`), never from the command line,
//! where other users could read them in the process list.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use deid::EntityType;
use deid_transform::fpe::FormatPreserving;
use deid_transform::token::TokenStore;
use deid_transform::{Key, Policy, Redactor};

/// How `redact` replaces what it finds.
#[derive(Debug, Args)]
pub(super) struct TransformArgs {
    /// The policy (TOML) that says which action replaces each identifier type and column.
    /// Default: the built-in `safe-harbor` policy; `deid policy show` prints it.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    #[command(flatten)]
    key: KeyArgs,
    /// Write a JSON report of the run: counts by type, action and column, files, rows, the
    /// policy and its SHA-256, versions. It never holds an original value.
    #[arg(long, value_name = "FILE")]
    pub(super) report: Option<PathBuf>,
}

/// Where the key and the token store are.
#[derive(Debug, Args)]
struct KeyArgs {
    /// The secret key for the keyed actions (create one with `deid keygen`); it must be
    /// readable by its owner only (mode 0600).
    #[arg(long, value_name = "PATH", env = "DEID_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// The encrypted store that keeps `token` codes consistent across files and runs.
    /// Default: beside the key file, named after it with `.tokens` added.
    #[arg(long, value_name = "PATH")]
    token_store: Option<PathBuf>,
}

impl KeyArgs {
    fn load(&self) -> anyhow::Result<Option<Key>> {
        let Some(path) = &self.key_file else {
            return Ok(None);
        };
        Ok(Some(Key::load(path)?))
    }

    fn token_store(&self) -> Option<PathBuf> {
        self.token_store.clone().or_else(|| {
            self.key_file.as_ref().map(|key| {
                let mut name = key.file_name().unwrap_or_default().to_owned();
                name.push(".tokens");
                key.with_file_name(name)
            })
        })
    }
}

/// Builds the run's redactor. Without a key and without `--policy`, the keyless variant of
/// the built-in policy applies, and one line on stderr says what a key would add.
pub(super) fn redactor(args: &TransformArgs, quiet: bool) -> anyhow::Result<Redactor> {
    let key = args.key.load()?;
    let policy = match &args.policy {
        Some(path) => Policy::from_file(path)?,
        None if key.is_none() => {
            if !quiet {
                eprintln!(
                    "note: no key: link identifiers (MRN, health plan and account numbers) are \
                     tagged; with --key-file (see `deid keygen`) they become tokens that stay \
                     joinable across files"
                );
            }
            Policy::safe_harbor().keyless()
        }
        None => Policy::safe_harbor(),
    };
    let store = args.key.token_store();
    Ok(Redactor::new(policy, key.as_ref(), store.as_deref())?)
}

#[derive(Debug, Subcommand)]
pub(super) enum PolicyCommand {
    /// Print the effective policy: every identifier type with its action, and its SHA-256.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub(super) struct ShowArgs {
    /// A policy file to check and show (default: the built-in `safe-harbor` policy).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Show the keyless variant: what applies when no key is given.
    #[arg(long)]
    keyless: bool,
}

pub(super) fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    let PolicyCommand::Show(args) = command;
    let mut policy = match &args.policy {
        Some(path) => Policy::from_file(path)?,
        None => Policy::safe_harbor(),
    };
    if args.keyless {
        policy = policy.keyless();
    }
    let mut out = io::stdout().lock();
    write!(out, "{}", policy.to_toml())?;
    writeln!(out, "\n# sha256 of the policy above: {}", policy.digest())?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub(super) struct KeygenArgs {
    /// Where to write the new key (missing directories are created, private to you); an
    /// existing file is never overwritten.
    #[arg(short, long, value_name = "PATH")]
    output: PathBuf,
}

pub(super) fn keygen(args: &KeygenArgs) -> anyhow::Result<ExitCode> {
    if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .with_context(|| format!("{}: cannot create the directory", parent.display()))?;
    }
    let key = Key::generate();
    key.write_new(&args.output)?;
    eprintln!(
        "{}: new key (fingerprint {}), readable by you only. Keep it secret and back it up: \
         without it, tokens and encrypted values cannot be reversed, and a new key changes \
         every token, pseudonym and date shift.",
        args.output.display(),
        key.fingerprint()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub(super) struct DecryptArgs {
    /// The identifier type the values were encrypted as, e.g. `MRN` (it is part of the
    /// encryption); not needed with --tokens.
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_entity)]
    entity: Option<EntityType>,
    /// The values are codes of the `token` action, looked up in the token store. The store
    /// keeps values in canonical form: identifiers without separators, upper-cased (an SSN
    /// comes back as `123456789`), e-mail lower-cased.
    #[arg(long)]
    tokens: bool,
    #[command(flatten)]
    key: KeyArgs,
    /// Values to decrypt; without any, one value per line is read from stdin.
    #[arg(value_name = "VALUE")]
    values: Vec<String>,
}

fn parse_entity(name: &str) -> Result<EntityType, String> {
    name.parse()
        .map_err(|e: deid::UnknownEntityType| e.to_string())
}

/// How `decrypt` turns a value back into its original.
enum Reverse {
    Tokens(Box<TokenStore>),
    Encrypted(Box<FormatPreserving>, EntityType),
}

impl Reverse {
    fn original(&self, value: &str) -> Result<String, String> {
        match self {
            Reverse::Tokens(store) => store
                .original(value)
                .map(|(_, original)| original)
                .ok_or_else(|| "not a token of this store".to_owned()),
            Reverse::Encrypted(fpe, entity) => {
                fpe.decrypt(*entity, value).map_err(|e| e.to_string())
            }
        }
    }
}

/// Writes the original of each value, one per line. This is the one command that prints
/// identifiers: the honest broker asked for them.
pub(super) fn decrypt(args: &DecryptArgs) -> anyhow::Result<ExitCode> {
    let Some(key) = args.key.load()? else {
        bail!("decrypt needs the key: pass --key-file PATH or set DEID_KEY_FILE");
    };
    let reverse = if args.tokens {
        let path = args
            .key
            .token_store()
            .expect("a key file gives a default store");
        if !path.exists() {
            bail!("{}: no token store there", path.display());
        }
        Reverse::Tokens(Box::new(TokenStore::open(&path, &key)?))
    } else {
        let Some(entity) = args.entity else {
            bail!("say which type the values were encrypted as: --type MRN (or --tokens)");
        };
        Reverse::Encrypted(Box::new(FormatPreserving::new(&key)), entity)
    };
    let mut out = io::stdout().lock();
    let mut failed = 0;
    let mut each = |number: usize, value: &str| -> io::Result<()> {
        match reverse.original(value) {
            Ok(original) => writeln!(out, "{original}"),
            Err(why) => {
                failed += 1;
                eprintln!("value {number}: cannot decrypt: {why}");
                Ok(())
            }
        }
    };
    if args.values.is_empty() {
        if io::stdin().is_terminal() {
            eprintln!("reading values from stdin, one per line (Ctrl-D ends)");
        }
        for (number, line) in (1..).zip(io::stdin().lock().lines()) {
            each(number, line.context("stdin")?.trim_end())?;
        }
    } else {
        for (number, value) in (1..).zip(&args.values) {
            each(number, value)?;
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_store_sits_beside_the_key() {
        let args = KeyArgs {
            key_file: Some(PathBuf::from("/keys/deid.key")),
            token_store: None,
        };
        assert_eq!(
            args.token_store(),
            Some(PathBuf::from("/keys/deid.key.tokens"))
        );
    }
}
