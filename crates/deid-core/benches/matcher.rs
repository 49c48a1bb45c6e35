//! Matcher throughput, in MB/s of scanned text.
//!
//! Groups are named `<engine>/<config>/<input>`:
//!
//! - `matcher/bundled/{notes,digits,clean}`: [`Matcher::scan_into`] with the bundled pack and
//!   a reused [`Scratch`], on notes-like text, digit-heavy lab tables and prose without
//!   identifiers — the number a user sees per core, minus I/O. `matcher/bundled-no-propagation/notes`
//!   is the same pack without `propagate`, to price name propagation.
//! - `candidates/{automaton,reference}/…`: [`Matcher::candidates_into`] (the one-pass
//!   automaton picks which patterns to run per segment) against
//!   [`Matcher::reference_candidates_into`] (every pattern over every segment), with the
//!   bundled pack and with its pattern rules only (`patterns-only`), where the dispatch is
//!   all there is to measure. Both must report the same candidates; setup asserts it.
//! - `dictionary/{deid-words,aho-corasick}/notes`: the engine's dictionary path (split into
//!   words once, one hash lookup per capitalised word) against one Aho-Corasick automaton
//!   (ASCII case-insensitive, leftmost-longest, hits filtered to whole words) over the same
//!   first-name and surname lists — the measurement behind `lexicon.rs`'s PERF note.
//!
//! Inputs are generated from a fixed seed, so every run scans the same bytes. Each bench
//! is short (10 samples, 3 s): `cargo bench -p deid-core --bench matcher` takes about two
//! minutes on 2 cores. Filter with a substring: `cargo bench -p deid-core --bench matcher
//! -- dictionary/`.

use std::hint::black_box;
use std::time::Duration;

use aho_corasick::{AhoCorasick, MatchKind};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use deid_core::{Finding, Matcher, RuleSet, RuleSetBuilder};

/// Bytes of each generated input.
const INPUT_BYTES: usize = 512 * 1024;
const SEED: u64 = 0x5EED_D01D;

/// A group with the settings every bench here shares: flat sampling (each sample runs the
/// same number of iterations, which suits iterations of tens of milliseconds or more) and
/// the input's size as its throughput.
fn new_group<'c>(c: &'c mut Criterion, name: &str, bytes: usize) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(bytes as u64));
    group
}

fn main_config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
}

// ---------------------------------------------------------------------------------------
// Seeded inputs.

/// SplitMix64: tiny, seeded, good enough to vary text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Ashley",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "George",
    "Laura",
    "Maria",
    "Carmen",
    "Luis",
    "Wei",
    "Priya",
    "Omar",
];
const FIRST_NON_ASCII: &[&str] = &[
    "José",
    "Zoë",
    "Søren",
    "Chloé",
    "Björn",
    "Renée",
    "Małgorzata",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Nguyen",
    "Patel",
    "O'Brien",
    "McDonald",
    "Smith-Jones",
];
const LAST_NON_ASCII: &[&str] = &[
    "Żukowski",
    "Nguyễn",
    "Müller",
    "Ólafsdóttir",
    "Dvořák",
    "Öztürk",
];
const CITIES: &[&str] = &[
    "Springfield",
    "Riverside",
    "Franklin",
    "Greenville",
    "Bristol",
    "Salem",
    "Madison",
];
const STREETS: &[&str] = &[
    "Oak St",
    "Maple Ave",
    "Cedar Rd",
    "Pine Lane",
    "Main Street",
    "Park Blvd",
];
const STATES: &[&str] = &["CA", "NY", "TX", "IL", "MA", "WA", "OH"];
const DOMAINS: &[&str] = &["example.org", "mail.example.com", "clinic.example.edu"];
const CONDITIONS: &[&str] = &[
    "chest pain",
    "atrial fibrillation",
    "heart failure",
    "COPD exacerbation",
    "cellulitis",
    "acute kidney injury",
    "pneumonia",
    "low back pain",
    "iron deficiency anemia",
];
const PROSE: &[&str] = &[
    "Patient presents with a three-day history of productive cough, low-grade fever and malaise. Denies chest \
     pain, hemoptysis or night sweats. Lungs with scattered rhonchi at the right base; no wheeze.",
    "Assessment: community-acquired pneumonia, right lower lobe, mild. Plan: start oral amoxicillin-clavulanate \
     for seven days, encourage fluids, acetaminophen as needed. Return precautions reviewed.",
    "History of type 2 diabetes mellitus, hypertension and hyperlipidemia. Current medications include \
     metformin 1000 mg twice daily, lisinopril 20 mg daily and atorvastatin 40 mg at bedtime.",
    "On examination the patient is alert, oriented and in no acute distress. Heart regular rate and rhythm \
     without murmur. Abdomen soft, non-tender, non-distended with normal bowel sounds.",
    "Echocardiogram shows preserved left ventricular ejection fraction with mild concentric hypertrophy and \
     grade I diastolic dysfunction. Continue current antihypertensive regimen and recheck in four weeks.",
    "MRI of the lumbar spine demonstrates mild degenerative disc disease at L4-L5 without significant canal \
     stenosis. Recommend physical therapy, core strengthening and a short course of naproxen with food.",
    "Admitted overnight for observation after a syncopal episode at home. Telemetry showed sinus rhythm without \
     arrhythmia. Orthostatic vital signs were positive; symptoms resolved with intravenous fluids.",
    "Wound on the left lower leg is healing well with healthy granulation tissue and no signs of infection. \
     Dressing changed using sterile technique. Continue daily dressing changes and elevation.",
    "Psychiatric review: mood described as low with poor sleep for several weeks. No suicidal ideation, intent \
     or plan. Started sertraline 50 mg daily; safety plan discussed and crisis line information provided.",
    "Chest radiograph: no focal consolidation, pleural effusion or pneumothorax. Heart size within normal \
     limits. Impression: no acute cardiopulmonary process.",
];
const LABS: &[(&str, &str, f64, f64)] = &[
    ("WBC", "x10^9/L", 3.5, 11.0),
    ("Hemoglobin", "g/dL", 10.5, 16.5),
    ("Platelets", "x10^9/L", 140.0, 420.0),
    ("Sodium", "mmol/L", 132.0, 146.0),
    ("Potassium", "mmol/L", 3.2, 5.4),
    ("Creatinine", "mg/dL", 0.5, 1.8),
    ("Glucose", "mg/dL", 70.0, 220.0),
    ("ALT", "U/L", 8.0, 70.0),
    ("INR", "", 0.9, 2.8),
    ("TSH", "mIU/L", 0.3, 5.5),
];

fn first(r: &mut Rng) -> &'static str {
    if r.chance(3) {
        r.pick(FIRST_NON_ASCII)
    } else {
        r.pick(FIRST)
    }
}

fn last(r: &mut Rng) -> &'static str {
    if r.chance(3) {
        r.pick(LAST_NON_ASCII)
    } else {
        r.pick(LAST)
    }
}

fn date(r: &mut Rng) -> String {
    if r.chance(50) {
        format!(
            "{:02}/{:02}/{}",
            r.range(1, 12),
            r.range(1, 28),
            r.range(1930, 2024)
        )
    } else {
        format!(
            "{}-{:02}-{:02}",
            r.range(2000, 2025),
            r.range(1, 12),
            r.range(1, 28)
        )
    }
}

fn phone(r: &mut Rng) -> String {
    let (a, b, c) = (r.range(201, 989), r.range(200, 999), r.range(0, 9999));
    match r.below(3) {
        0 => format!("({a}) {b}-{c:04}"),
        1 => format!("{a}-{b}-{c:04}"),
        _ => format!("{a}.{b}.{c:04}"),
    }
}

fn identifiers(r: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    let (f, l) = (first(r), last(r));
    let _ = match r.below(6) {
        0 => write!(
            out,
            "Seen today by Dr. {} for {}. Patient {f} {l} reports feeling better since {}.",
            last(r),
            r.pick(CONDITIONS),
            date(r)
        ),
        1 => write!(
            out,
            "Contact: {f} {l}, phone {}, fax {}, e-mail {}.{}@{}.",
            phone(r),
            phone(r),
            f.to_lowercase(),
            l.to_lowercase(),
            r.pick(DOMAINS)
        ),
        2 => write!(
            out,
            "Address on file: {} {}, {}, {} {:05}. Emergency contact {} {l} at {}.",
            r.range(1, 9999),
            r.pick(STREETS),
            r.pick(CITIES),
            r.pick(STATES),
            r.range(1001, 99950),
            first(r),
            phone(r)
        ),
        3 => write!(
            out,
            "Identifiers verified: MRN {}, SSN {:03}-{:02}-{:04}, date of birth {}.",
            r.range(1_000_000, 99_999_999),
            r.range(1, 665),
            r.range(1, 99),
            r.range(1, 9999),
            date(r)
        ),
        4 => write!(
            out,
            "{}-year-old admitted on {} with {}. Lives alone in {}; daughter {} visits weekly.",
            r.range(18, 104),
            date(r),
            r.pick(CONDITIONS),
            r.pick(CITIES),
            first(r)
        ),
        _ => write!(
            out,
            "Portal message from {f} {l} via https://portal.{}/p/{} from 10.{}.{}.{}.",
            r.pick(DOMAINS),
            r.range(1000, 99999),
            r.below(256),
            r.below(256),
            r.range(1, 254)
        ),
    };
}

fn lab_table(r: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "Labs {} {:02}:{:02}",
        date(r),
        r.below(24),
        r.below(60)
    );
    let _ = writeln!(
        out,
        "{:<12} {:>8} {:<8} {:>13}",
        "Test", "Result", "Units", "Ref"
    );
    for &(name, unit, lo, hi) in LABS {
        let span = hi - lo;
        let value = lo - span * 0.15 + span * 1.3 * (r.below(10_000) as f64 / 10_000.0);
        let digits = if hi >= 100.0 { 0 } else { 1 };
        let flag = if value > hi {
            " H"
        } else if value < lo {
            " L"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{name:<12} {value:>8.digits$} {unit:<8} {lo:>6.digits$}-{hi:<6.digits$}{flag}"
        );
    }
    let _ = write!(
        out,
        "BP {}/{} HR {} RR {} SpO2 {}%",
        r.range(95, 175),
        r.range(55, 105),
        r.range(48, 120),
        r.range(12, 24),
        r.range(88, 100)
    );
}

/// The kinds of generated input.
#[derive(Clone, Copy)]
enum Kind {
    /// Clinical notes: headers with identifiers, prose, some identifier paragraphs, a few
    /// lab tables, a few non-ASCII names.
    Notes,
    /// Lab and vitals tables.
    Digits,
    /// Prose without identifiers.
    Clean,
}

fn generate(kind: Kind, seed: u64) -> Vec<u8> {
    use std::fmt::Write;
    let mut r = Rng(seed);
    let mut out = String::with_capacity(INPUT_BYTES + 4096);
    let mut note = 0;
    while out.len() < INPUT_BYTES {
        note += 1;
        match kind {
            Kind::Clean => {
                let _ = write!(out, "NOTE {note:08} | Progress note");
            }
            _ => {
                let _ = write!(
                    out,
                    "NOTE {note:08} | Progress note\nPatient: {} {}  DOB: {}  MRN: {}\nAuthor: Dr. {}",
                    first(&mut r),
                    last(&mut r),
                    date(&mut r),
                    r.range(1_000_000, 99_999_999),
                    last(&mut r)
                );
            }
        }
        for _ in 0..r.range(3, 7) {
            out.push_str("\n\n");
            match kind {
                Kind::Clean => out.push_str(r.pick(PROSE)),
                Kind::Digits if r.chance(85) => lab_table(&mut r, &mut out),
                Kind::Digits => out.push_str(r.pick(PROSE)),
                Kind::Notes => match r.below(100) {
                    0..62 => out.push_str(r.pick(PROSE)),
                    62..93 => identifiers(&mut r, &mut out),
                    _ => lab_table(&mut r, &mut out),
                },
            }
        }
        out.push_str("\n\n");
    }
    out.into_bytes()
}

// ---------------------------------------------------------------------------------------
// Engines.

fn bundled() -> RuleSet {
    RuleSetBuilder::new()
        .bundled()
        .build()
        .expect("the bundled pack builds")
}

/// The bundled pack without `propagate`, assembled from its embedded files (dictionary
/// paths made absolute): prices name propagation, which packs cannot switch off.
fn bundled_without_propagation() -> RuleSet {
    let dict = format!("\"{}/../../rules/dict/", env!("CARGO_MANIFEST_DIR"));
    let mut text = String::new();
    for file in [
        "pack.toml",
        "names.toml",
        "dates.toml",
        "contact.toml",
        "ids.toml",
        "places.toml",
    ] {
        let part = deid_core::bundled_file(&format!("safe-harbor/{file}")).expect("a bundled file");
        for line in part
            .lines()
            .filter(|l| !l.trim_start().starts_with("propagate"))
        {
            text.push_str(&line.replace("\"../dict/", &dict));
            text.push('\n');
        }
    }
    RuleSetBuilder::new()
        .toml("bench:no-propagation", &text)
        .build()
        .expect("the pack without propagation builds")
}

/// The bundled pack with its dictionary rules disabled.
fn patterns_only() -> RuleSet {
    let ids: Vec<String> = bundled()
        .rules()
        .iter()
        .filter(|r| r.is_dictionary_rule())
        .map(|r| toml_string(r.id()))
        .collect();
    let layer = format!("disable = [{}]\n", ids.join(", "));
    RuleSetBuilder::new()
        .bundled()
        .toml("bench:patterns-only", &layer)
        .build()
        .expect("patterns-only pack builds")
}

fn dictionary(name: &str) -> Vec<String> {
    let path = format!("{}/../../rules/dict/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A pack with one dictionary rule over first names and surnames, nothing else.
fn names_only(first_names: &[String], surnames: &[String]) -> RuleSet {
    let quote = |words: &[String]| {
        words
            .iter()
            .map(|w| toml_string(w))
            .collect::<Vec<_>>()
            .join(",")
    };
    let pack = format!(
        "[[dictionary]]\nid = \"first-names\"\nwords = [{}]\n\n[[dictionary]]\nid = \"surnames\"\nwords = [{}]\n\n\
         [[rule]]\nid = \"bench.names\"\ntype = \"NAME\"\ndictionaries = [\"first-names\", \"surnames\"]\n\
         case = \"title-or-upper\"\nmax_words = 1\nconfidence = 0.9\n\
         examples = [{{ text = \"Maria came\", match = \"Maria\" }}]\n",
        quote(first_names),
        quote(surnames)
    );
    RuleSetBuilder::new()
        .toml("bench:names", &pack)
        .build()
        .expect("names pack builds")
}

/// A TOML string holding `s` exactly, as the `toml` crate writes it.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// Aho-Corasick hits that are whole words.
fn aho_corasick_words(automaton: &AhoCorasick, text: &[u8]) -> usize {
    automaton
        .find_iter(text)
        .filter(|m| {
            let before = m.start() > 0 && is_word_byte(text[m.start() - 1]);
            let after = text.get(m.end()).is_some_and(|&b| is_word_byte(b));
            !before && !after
        })
        .count()
}

fn sorted(mut findings: Vec<Finding>) -> Vec<(usize, usize, usize)> {
    let mut keys: Vec<_> = findings
        .drain(..)
        .map(|f| (f.start, f.end, f.rule))
        .collect();
    keys.sort_unstable();
    keys
}

// ---------------------------------------------------------------------------------------
// Benches.

fn inputs() -> [(&'static str, Vec<u8>); 3] {
    [
        ("notes", generate(Kind::Notes, SEED)),
        ("digits", generate(Kind::Digits, SEED ^ 1)),
        ("clean", generate(Kind::Clean, SEED ^ 2)),
    ]
}

fn bench_bundled(c: &mut Criterion) {
    let matcher = Matcher::new(bundled()).expect("the bundled pack compiles");
    let mut scratch = matcher.scratch();
    let mut out = Vec::new();
    let [notes, digits, clean] = inputs();
    for (name, text) in [&notes, &digits, &clean] {
        matcher.scan_into(text, &mut scratch, &mut out);
        eprintln!(
            "matcher/bundled/{name}: {} bytes, {} findings",
            text.len(),
            out.len()
        );
        let mut group = new_group(c, &format!("matcher/bundled/{name}"), text.len());
        group.bench_function("scan_into", |b| {
            b.iter(|| matcher.scan_into(black_box(text), &mut scratch, &mut out))
        });
        group.finish();
    }
    let matcher = Matcher::new(bundled_without_propagation()).expect("the pack compiles");
    let mut scratch = matcher.scratch();
    let (name, text) = &notes;
    matcher.scan_into(text, &mut scratch, &mut out);
    eprintln!(
        "matcher/bundled-no-propagation/{name}: {} findings",
        out.len()
    );
    let mut group = new_group(
        c,
        &format!("matcher/bundled-no-propagation/{name}"),
        text.len(),
    );
    group.bench_function("scan_into", |b| {
        b.iter(|| matcher.scan_into(black_box(text), &mut scratch, &mut out))
    });
    group.finish();
}

fn bench_dispatch(c: &mut Criterion) {
    let [notes, digits, _] = inputs();
    for (config, rules) in [("bundled", bundled()), ("patterns-only", patterns_only())] {
        let matcher = Matcher::new(rules).expect("the pack compiles");
        let mut scratch = matcher.scratch();
        let (mut fast, mut reference) = (Vec::new(), Vec::new());
        for (name, text) in [&notes, &digits] {
            matcher.candidates_into(text, &mut scratch, &mut fast);
            matcher.reference_candidates_into(text, &mut scratch, &mut reference);
            let (one_pass, each) = (sorted(fast.clone()), sorted(reference.clone()));
            assert_eq!(
                one_pass, each,
                "one-pass and reference candidates differ on {name}"
            );
            eprintln!(
                "candidates/*-{config}/{name}: {} candidates, both engines agree",
                one_pass.len()
            );
            for (engine, reference) in [("automaton", false), ("reference", true)] {
                let mut group = new_group(
                    c,
                    &format!("candidates/{engine}-{config}/{name}"),
                    text.len(),
                );
                group.bench_function(
                    if reference {
                        "reference_candidates_into"
                    } else {
                        "candidates_into"
                    },
                    |b| {
                        b.iter(|| {
                            if reference {
                                matcher.reference_candidates_into(
                                    black_box(text),
                                    &mut scratch,
                                    &mut fast,
                                )
                            } else {
                                matcher.candidates_into(black_box(text), &mut scratch, &mut fast)
                            }
                        })
                    },
                );
                group.finish();
            }
        }
    }
}

fn bench_dictionary(c: &mut Criterion) {
    let (first_names, surnames) = (dictionary("first-names.txt"), dictionary("surnames.txt"));
    let [(_, notes), ..] = inputs();

    let matcher = Matcher::new(names_only(&first_names, &surnames)).expect("names pack compiles");
    let mut scratch = matcher.scratch();
    let mut out = Vec::new();
    matcher.scan_into(&notes, &mut scratch, &mut out);
    eprintln!(
        "dictionary/deid-words: {} entries, {} findings",
        first_names.len() + surnames.len(),
        out.len()
    );
    let mut group = new_group(c, "dictionary/deid-words-title-or-upper/notes", notes.len());
    group.bench_function("scan_into", |b| {
        b.iter(|| matcher.scan_into(black_box(&notes), &mut scratch, &mut out))
    });
    group.finish();

    let started = std::time::Instant::now();
    let automaton = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .build(first_names.iter().chain(&surnames))
        .expect("the automaton builds");
    eprintln!(
        "dictionary/aho-corasick: {:?} built in {:.0?} ({} heap bytes), {} whole-word hits",
        automaton.kind(),
        started.elapsed(),
        automaton.memory_usage(),
        aho_corasick_words(&automaton, &notes)
    );
    let mut group = new_group(
        c,
        "dictionary/aho-corasick-ci-leftmost-longest/notes",
        notes.len(),
    );
    group.bench_function("find_iter", |b| {
        b.iter(|| aho_corasick_words(&automaton, black_box(&notes)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = main_config();
    targets = bench_bundled, bench_dispatch, bench_dictionary
}
criterion_main!(benches);
