//! `deid rules`: check, list and benchmark rule packs.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Subcommand;
use deid::{Matcher, RuleSet, RuleStats};

use super::RuleArgs;

#[derive(Debug, Subcommand)]
pub(super) enum RulesCommand {
    /// Prove every pack: ids unique, every example found with its exact span, no negative
    /// example found, every rule compiling alone and all together.
    Check {
        #[command(flatten)]
        rules: RuleArgs,
    },
    /// List the rules by entity type.
    List {
        #[command(flatten)]
        rules: RuleArgs,
        /// Only rules of this entity type (e.g. NAME).
        #[arg(long = "type", value_name = "TYPE")]
        entity: Option<deid::EntityType>,
    },
    /// Show what each rule costs on a corpus: share of scan time, candidates, confirmed hits.
    Bench {
        #[command(flatten)]
        rules: RuleArgs,
        /// Files or directories of text or JSONL (string fields are scanned).
        #[arg(long, value_name = "PATH", required = true)]
        corpus: Vec<std::path::PathBuf>,
        /// Timed repetitions per measurement (the median is reported).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
}

pub(super) fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Check { rules } => check(&rules),
        RulesCommand::List { rules, entity } => list(&rules, entity),
        RulesCommand::Bench {
            rules,
            corpus,
            repeat,
        } => bench(&rules, &corpus, repeat.max(1)),
    }
}

fn check(args: &RuleArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let builder = args.builder();
    let rules = builder.rule_set().context("cannot load the rules")?;
    let report = deid::check_rules(&rules, &builder.match_options());
    for failure in &report.failures {
        eprintln!("error: {failure}");
    }
    let packs: Vec<String> = rules.packs().iter().map(|p| p.name.clone()).collect();
    if report.failures.is_empty() {
        writeln!(
            out,
            "ok: {} rules, {} examples in {} pack(s) ({})",
            report.rules,
            report.examples,
            packs.len(),
            packs.join(", ")
        )?;
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} failure(s) in {} rules",
            report.failures.len(),
            report.rules
        );
        Ok(ExitCode::from(2))
    }
}

fn list(args: &RuleArgs, entity: Option<deid::EntityType>) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let rules = args.builder().rule_set().context("cannot load the rules")?;
    for &kind in deid::EntityType::ALL {
        if entity.is_some_and(|e| e != kind) {
            continue;
        }
        let of_kind: Vec<&deid::Rule> = rules
            .rules()
            .iter()
            .filter(|r| r.entity() == kind)
            .collect();
        if of_kind.is_empty() {
            continue;
        }
        writeln!(out, "{kind}")?;
        for rule in of_kind {
            let how = if rule.is_dictionary_rule() {
                "dictionary".to_owned()
            } else {
                format!("{} pattern(s)", rule.patterns().len())
            };
            let validators: Vec<&str> = rule.validators().iter().map(|v| v.name()).collect();
            let checks = if validators.is_empty() {
                String::new()
            } else {
                format!(", checks {}", validators.join("+"))
            };
            let context = if rule.context().is_empty() {
                String::new()
            } else {
                format!(", {} context", rule.context().len())
            };
            writeln!(
                out,
                "  {:<28} {:.2}  {how}{checks}{context} — {}",
                rule.id(),
                rule.confidence(),
                rule.name()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Texts of a corpus: plain files whole, JSONL files as their string fields (tables are
/// not rule benchmarks: their cells are classified by column first).
fn corpus_texts(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<Vec<u8>>> {
    use deid_formats::input::{self, Content, Format};
    let (sources, errors) = input::discover(paths);
    if let Some(error) = errors.first() {
        anyhow::bail!("{error}");
    }
    let mut texts = Vec::new();
    for source in &sources {
        let content = Content::open(source)?;
        match input::sniff(source, &content) {
            Format::Binary | Format::Csv | Format::Parquet => {}
            Format::Text => texts.push(content.to_vec()),
            Format::Jsonl => {
                let selection = deid_formats::jsonl::FieldSelection::default();
                for (number, line) in deid_formats::jsonl::lines(&content).enumerate() {
                    if deid_formats::jsonl::is_blank(line) {
                        continue;
                    }
                    let record = deid_formats::jsonl::parse_record(line, number as u64 + 1)
                        .with_context(|| source.display_name())?;
                    deid_formats::jsonl::for_each_text_field(
                        &record,
                        &selection,
                        &mut |_, text| {
                            texts.push(text.as_bytes().to_vec());
                        },
                    );
                }
            }
        }
    }
    Ok(texts)
}

/// The median time of scanning every text, and the per-rule counters of one pass.
fn median_scan(matcher: &Matcher, texts: &[Vec<u8>], repeat: usize) -> (Duration, Vec<RuleStats>) {
    let mut scratch = matcher.scratch();
    let mut out = Vec::new();
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let started = Instant::now();
        for text in texts {
            matcher.scan_into(text, &mut scratch, &mut out);
        }
        times.push(started.elapsed());
    }
    times.sort();
    let per_pass = |n: u64| n / repeat as u64;
    let stats = matcher
        .stats(&scratch)
        .iter()
        .map(|s| RuleStats {
            candidates: per_pass(s.candidates),
            confirmed: per_pass(s.confirmed),
        })
        .collect();
    (times[times.len() / 2], stats)
}

fn bench(
    args: &RuleArgs,
    corpus: &[std::path::PathBuf],
    repeat: usize,
) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let builder = args.builder();
    let rules: RuleSet = builder.rule_set().context("cannot load the rules")?;
    let options = builder.match_options();
    let texts = corpus_texts(corpus)?;
    let bytes: usize = texts.iter().map(Vec::len).sum();
    anyhow::ensure!(bytes > 0, "the corpus holds no text");
    let matcher = Matcher::with_options(rules.clone(), &options)?;
    let (all_time, stats) = median_scan(&matcher, &texts, repeat);
    let mb = bytes as f64 / 1e6;
    writeln!(
        out,
        "corpus: {} text(s), {mb:.1} MB; all {} rules together: {:.1} ms, {:.1} MB/s (median of {repeat}, one thread)\n",
        texts.len(),
        rules.rules().len(),
        all_time.as_secs_f64() * 1e3,
        mb / all_time.as_secs_f64()
    )?;
    let mut rows = Vec::new();
    for (index, rule) in rules.rules().iter().enumerate() {
        let alone = Matcher::with_options(rules.only(index), &options)?;
        let (time, _) = median_scan(&alone, &texts, repeat);
        rows.push((
            rule.id().to_owned(),
            time,
            stats[index].candidates,
            stats[index].confirmed,
        ));
    }
    let sum: f64 = rows.iter().map(|r| r.1.as_secs_f64()).sum();
    rows.sort_by_key(|row| std::cmp::Reverse(row.1));
    writeln!(
        out,
        "{:<30} {:>7} {:>10} {:>10} {:>11} {:>10}",
        "RULE", "SHARE", "ALONE ms", "ALONE MB/s", "CANDIDATES", "CONFIRMED"
    )?;
    for (id, time, candidates, confirmed) in rows {
        let secs = time.as_secs_f64();
        writeln!(
            out,
            "{id:<30} {:>6.1}% {:>10.1} {:>10.1} {candidates:>11} {confirmed:>10}",
            100.0 * secs / sum,
            secs * 1e3,
            mb / secs
        )?;
    }
    writeln!(
        out,
        "\nSHARE: the rule's time scanning alone over the sum of all rules alone. Together, rules share one automaton pass over the text."
    )?;
    Ok(ExitCode::SUCCESS)
}
