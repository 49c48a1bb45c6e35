//! End-to-end tests of the `deid` binary, a `mod` per area: `scan`, `redact`, `bad_input`,
//! `rules`.
//!
//! Precise expectations use the small pack [`PACK`] with `--no-bundled`; the bundled pack
//! (tuned by others) is only relied on for very stable facts: a dashed SSN is an `SSN`, a
//! NANP phone and an e-mail address are found. Every run checks that stderr carries no raw
//! identifier. Inputs are written to temporary directories, or kept under `tests/data/bad/`
//! (each file there is named by a test, which `bad_input::every_bad_input_file_is_named_by_a_test`
//! checks).

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Identifiers used in inputs; none may ever reach stderr.
const SECRETS: &[&str] = &[
    "536-90-4399",
    "555-0142",
    "ann.lee@example.org",
    "ZX1234",
    "ZX5678",
    "Żukowski",
    "Lopez",
];

/// A pack for precise tests: an SSN-shaped rule, a code rule with a low confidence, a name
/// rule whose span is a `value` group.
const PACK: &str = r#"
[pack]
name = "cli-test"
version = "1"

[[rule]]
id = "test.ssn"
name = "Dashed SSN"
type = "SSN"
patterns = ['''(?-u:\b)[0-9]{3}-[0-9]{2}-[0-9]{4}(?-u:\b)''']
confidence = 0.9
examples = [{ text = "SSN 123-45-6789.", match = "123-45-6789" }]

[[rule]]
id = "test.code"
name = "ZX code"
type = "OTHER_ID"
patterns = ['''(?-u:\b)ZX[0-9]{4}(?-u:\b)''']
confidence = 0.6
examples = [{ text = "code ZX0000", match = "ZX0000" }]

[[rule]]
id = "test.name"
name = "Name after Dr."
type = "NAME"
patterns = ['''Dr\. (?P<value>\p{Lu}[\p{L}'-]*\p{L})''']
confidence = 0.8
examples = [{ text = "Dr. Quux came", match = "Quux" }]
"#;

/// The result of one run.
struct Output {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Output {
    fn stdout(&self) -> &str {
        std::str::from_utf8(&self.stdout).expect("stdout is UTF-8")
    }

    /// stdout as JSON lines.
    fn jsonl(&self) -> Vec<Value> {
        self.stdout()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// Runs `deid` with `args`, `stdin` as standard input, in `dir`.
fn deid_in(dir: Option<&Path>, args: &[&OsStr], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deid"));
    command
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command.spawn().expect("deid runs");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for secret in SECRETS {
        assert!(
            !stderr.contains(secret),
            "stderr holds the identifier {secret:?}: {stderr}"
        );
    }
    let code = out.status.code().expect("deid exits (no signal)");
    assert!(!stderr.contains("panicked"), "deid panicked: {stderr}");
    Output {
        code,
        stdout: out.stdout,
        stderr,
    }
}

/// Runs `deid` with arguments given as anything path-like.
fn deid<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<S> = args.into_iter().collect();
    let args: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    deid_in(None, &args, None)
}

/// A temporary directory holding the test pack as `pack.toml`.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pack.toml"), PACK).unwrap();
        Sandbox { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// `deid <command> --no-bundled --rules pack.toml -q <args…>`.
    fn run(&self, command: &str, args: &[&OsStr]) -> Output {
        self.run_stdin(command, args, None)
    }

    fn run_stdin(&self, command: &str, args: &[&OsStr], stdin: Option<&[u8]>) -> Output {
        let pack = self.path("pack.toml");
        let mut all: Vec<&OsStr> = vec![
            command.as_ref(),
            "--no-bundled".as_ref(),
            "--rules".as_ref(),
            pack.as_os_str(),
        ];
        all.extend_from_slice(args);
        deid_in(Some(self.dir.path()), &all, stdin)
    }
}

/// `&OsStr` from anything path-like, for argument lists.
fn os<S: AsRef<OsStr> + ?Sized>(s: &S) -> &OsStr {
    s.as_ref()
}

/// The data folder of bad inputs.
fn bad(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/bad")
        .join(name)
}

/// Whether a line of stderr starts with the file and the line number: `file:2:` (or the
/// spelled-out `file:line 2:`).
fn names_file_line(stderr: &str, file: &str, line: u64) -> bool {
    let short = format!("{file}:{line}:");
    let long = format!("{file}:line {line}:");
    stderr
        .lines()
        .any(|l| l.starts_with(&short) || l.starts_with(&long))
}

/// The keys every finding has (DESIGN §5), and the ones it has only sometimes.
fn assert_contract(finding: &Value) {
    let object = finding
        .as_object()
        .unwrap_or_else(|| panic!("a finding is an object: {finding}"));
    for key in ["path", "start", "end", "type", "rule", "confidence"] {
        assert!(object.contains_key(key), "finding lacks `{key}`: {finding}");
    }
    let allowed = [
        "path",
        "doc",
        "field",
        "row",
        "column",
        "start",
        "end",
        "type",
        "rule",
        "confidence",
        "value",
    ];
    for key in object.keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "unexpected key `{key}`: {finding}"
        );
    }
    assert!(
        finding["path"].is_string() && finding["type"].is_string() && finding["rule"].is_string()
    );
    let (start, end) = (
        finding["start"].as_u64().unwrap(),
        finding["end"].as_u64().unwrap(),
    );
    assert!(start < end, "{finding}");
    let confidence = finding["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence), "{finding}");
}

fn span(finding: &Value) -> (usize, usize) {
    (
        finding["start"].as_u64().unwrap() as usize,
        finding["end"].as_u64().unwrap() as usize,
    )
}

/// (type, rule, start, end) of each finding, in output order.
fn summary(findings: &[Value]) -> Vec<(String, String, usize, usize)> {
    findings
        .iter()
        .map(|f| {
            let (s, e) = span(f);
            (
                f["type"].as_str().unwrap().to_owned(),
                f["rule"].as_str().unwrap().to_owned(),
                s,
                e,
            )
        })
        .collect()
}

fn t(kind: &str, rule: &str, start: usize, end: usize) -> (String, String, usize, usize) {
    (kind.to_owned(), rule.to_owned(), start, end)
}

/// Parses a JSONL line keeping field order and numbers as written.
fn record(line: &str) -> serde_json::Map<String, Value> {
    match serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")) {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

mod scan {
    use super::*;

    #[test]
    fn exit_code_is_0_when_nothing_is_found() {
        let sb = Sandbox::new();
        let file = sb.write("clean.txt", "Nothing to see here: 12 apples, 3 pears.\n");
        let out = sb.run("scan", &[os("--format"), os("jsonl"), file.as_os_str()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout(), "");
    }

    #[test]
    fn exit_code_is_1_when_phi_is_found() {
        let sb = Sandbox::new();
        let file = sb.write("note.txt", "SSN 536-90-4399\n");
        let out = sb.run("scan", &[os("--format"), os("jsonl"), file.as_os_str()]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(out.jsonl().len(), 1);
    }

    #[test]
    fn exit_code_is_2_on_usage_errors() {
        let sb = Sandbox::new();
        let file = sb.write("note.txt", "SSN 536-90-4399\n");
        let cases: Vec<Vec<&OsStr>> = vec![
            vec![os("scan")],
            vec![os("scan"), os("--no-such-flag"), file.as_os_str()],
            vec![os("scan"), os("--format"), os("xml"), file.as_os_str()],
            vec![
                os("scan"),
                os("--min-confidence"),
                os("1.5"),
                file.as_os_str(),
            ],
            vec![
                os("scan"),
                os("--min-confidence"),
                os("high"),
                file.as_os_str(),
            ],
            vec![os("no-such-command")],
            vec![os("rules"), os("list"), os("--type"), os("SOCIAL")],
        ];
        for args in cases {
            let out = deid_in(None, &args, None);
            assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
            assert!(!out.stderr.is_empty(), "{args:?}: a usage error says why");
        }
    }

    #[test]
    fn jsonl_findings_of_a_text_file_follow_the_contract() {
        let sb = Sandbox::new();
        // `ë` and `Ż` are two bytes each: offsets are bytes, not characters.
        let text = "Zoë: SSN 536-90-4399\nseen by Dr. Żukowski, code ZX1234.\n";
        let file = sb.write("note.txt", text);
        let out = sb.run("scan", &[os("--format"), os("jsonl"), os("note.txt")]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let findings = out.jsonl();
        for f in &findings {
            assert_contract(f);
            assert_eq!(f["path"], "note.txt", "the path as given");
            assert!(
                f.get("doc").is_none() && f.get("row").is_none() && f.get("column").is_none(),
                "{f}"
            );
            assert!(
                f.get("value").is_none(),
                "no value without --show-values: {f}"
            );
        }
        assert_eq!(
            summary(&findings),
            [
                t("SSN", "test.ssn", 10, 21),
                t("NAME", "test.name", 34, 43),
                t("OTHER_ID", "test.code", 50, 56)
            ]
        );
        let bytes = std::fs::read(file).unwrap();
        let values: Vec<&[u8]> = findings
            .iter()
            .map(|f| &bytes[span(f).0..span(f).1])
            .collect();
        assert_eq!(
            values,
            [&b"536-90-4399"[..], "Żukowski".as_bytes(), b"ZX1234"]
        );
        assert_eq!(findings[0]["confidence"].as_f64(), Some(0.9));
    }

    #[test]
    fn jsonl_findings_of_jsonl_documents_name_doc_and_slice_the_field_text() {
        let sb = Sandbox::new();
        let lines = [
            r#"{"id":"n1","text":"Zoë: SSN 536-90-4399 by Dr. Żukowski","score":1.50,"meta":{"note":"code ZX1234"}}"#,
            r#"{"id":"n2","text":"nothing here"}"#,
            r#"{"id":7,"text":"\u00e9t\u00e9 ZX5678"}"#,
        ];
        sb.write("notes.jsonl", lines.join("\n") + "\n");
        let out = sb.run(
            "scan",
            &[
                os("--format"),
                os("jsonl"),
                os("--show-values"),
                os("notes.jsonl"),
            ],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let findings = out.jsonl();
        let got: Vec<(&str, &str, &str)> = findings
            .iter()
            .map(|f| {
                (
                    f["doc"].as_str().unwrap(),
                    f["field"].as_str().unwrap(),
                    f["value"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("n1", "text", "536-90-4399"),
                ("n1", "text", "Żukowski"),
                ("n1", "meta.note", "ZX1234"),
                ("7", "text", "ZX5678")
            ]
        );
        for f in &findings {
            assert_contract(f);
            assert_eq!(f["path"], "notes.jsonl");
            // start/end are byte offsets into the decoded field text.
            let doc = if f["doc"] == "n1" {
                record(lines[0])
            } else {
                record(lines[2])
            };
            let field = f["field"].as_str().unwrap();
            let text = match field.split_once('.') {
                Some((a, b)) => doc[a][b].as_str().unwrap().to_owned(),
                None => doc[field].as_str().unwrap().to_owned(),
            };
            let (s, e) = span(f);
            assert_eq!(
                &text.as_bytes()[s..e],
                f["value"].as_str().unwrap().as_bytes(),
                "{f}"
            );
        }
        // Byte offsets, not characters: `ë` and `é` are two bytes.
        assert_eq!(span(&findings[0]), (10, 21));
        assert_eq!(span(&findings[3]), (6, 12));
    }

    #[test]
    fn values_appear_only_with_show_values() {
        let sb = Sandbox::new();
        sb.write("note.txt", "SSN 536-90-4399\n");
        for format in ["jsonl", "json", "sarif", "summary"] {
            let out = sb.run("scan", &[os("--format"), os(format), os("note.txt")]);
            assert_eq!(out.code, 1, "{format}: {}", out.stderr);
            assert!(
                !out.stdout().contains("536-90-4399"),
                "{format}: {}",
                out.stdout()
            );
        }
        let out = sb.run(
            "scan",
            &[
                os("--format"),
                os("jsonl"),
                os("--show-values"),
                os("note.txt"),
            ],
        );
        assert_eq!(out.jsonl()[0]["value"], "536-90-4399");
    }

    #[test]
    fn json_format_is_one_array_of_findings() {
        let sb = Sandbox::new();
        sb.write("note.txt", "SSN 536-90-4399, ZX1234\n");
        sb.write("clean.txt", "clean\n");
        let out = sb.run("scan", &[os("--format"), os("json"), os("note.txt")]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let json: Value = serde_json::from_str(out.stdout()).unwrap();
        let findings = json.as_array().unwrap();
        assert_eq!(
            summary(findings),
            [
                t("SSN", "test.ssn", 4, 15),
                t("OTHER_ID", "test.code", 17, 23)
            ]
        );
        findings.iter().for_each(assert_contract);
        let out = sb.run("scan", &[os("--format"), os("json"), os("clean.txt")]);
        assert_eq!(out.code, 0);
        assert_eq!(
            serde_json::from_str::<Value>(out.stdout()).unwrap(),
            serde_json::json!([])
        );
    }

    #[test]
    fn sarif_format_is_sarif_2_1_0() {
        let sb = Sandbox::new();
        sb.write("note.txt", "SSN 536-90-4399, ZX1234\n");
        sb.write("clean.txt", "clean\n");
        let out = sb.run("scan", &[os("--format"), os("sarif"), os("note.txt")]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let sarif: Value = serde_json::from_str(out.stdout()).unwrap();
        assert_eq!(sarif["version"], "2.1.0");
        let run = &sarif["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "deid");
        let rule_ids: Vec<&str> = run["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(rule_ids, ["test.ssn", "test.code", "test.name"]);
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["ruleId"], "test.ssn");
        let location = &results[0]["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "note.txt");
        assert_eq!(location["region"]["byteOffset"], 4);
        assert_eq!(location["region"]["byteLength"], 11);
        let out = sb.run("scan", &[os("--format"), os("sarif"), os("clean.txt")]);
        assert_eq!(out.code, 0);
        let sarif: Value = serde_json::from_str(out.stdout()).unwrap();
        assert_eq!(sarif["runs"][0]["results"], serde_json::json!([]));
    }

    #[test]
    fn summary_format_counts_by_type_and_file() {
        let sb = Sandbox::new();
        sb.write("in/a.txt", "SSN 536-90-4399 and 123-45-6789, ZX1234\n");
        sb.write("in/b.txt", "clean\n");
        let out = sb.run("scan", &[os("--format"), os("summary"), os("in")]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let text = out.stdout();
        assert!(text.starts_with("3 finding(s) in 1 of 2 file(s)"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["SSN", "2"]),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["OTHER_ID", "1"]),
            "{text}"
        );
    }

    #[test]
    fn the_default_format_off_a_terminal_is_jsonl() {
        let sb = Sandbox::new();
        sb.write("note.txt", "SSN 536-90-4399\n");
        let out = sb.run("scan", &[os("note.txt")]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(summary(&out.jsonl()), [t("SSN", "test.ssn", 4, 15)]);
    }

    #[test]
    fn dash_reads_stdin() {
        let sb = Sandbox::new();
        let out = sb.run_stdin(
            "scan",
            &[os("--format"), os("jsonl"), os("-")],
            Some(b"call ZX1234 or 536-90-4399"),
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let findings = out.jsonl();
        assert!(findings.iter().all(|f| f["path"] == "-"));
        assert_eq!(
            summary(&findings),
            [
                t("OTHER_ID", "test.code", 5, 11),
                t("SSN", "test.ssn", 15, 26)
            ]
        );
        // JSONL on stdin is told by its content.
        let out = sb.run_stdin(
            "scan",
            &[os("--format"), os("jsonl"), os("-")],
            Some(b"{\"id\":\"s1\",\"text\":\"ZX1234\"}\n"),
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(out.jsonl()[0]["doc"], "s1");
        let out = sb.run_stdin("scan", &[os("--format"), os("jsonl"), os("-")], Some(b""));
        assert_eq!(out.code, 0, "{}", out.stderr);
    }

    #[test]
    fn directories_are_recursed_in_name_order_skipping_hidden_entries() {
        let sb = Sandbox::new();
        sb.write("in/b.txt", "ZX0002\n");
        sb.write("in/a/deep/c.txt", "ZX0001\n");
        sb.write("in/z.jsonl", "{\"id\":\"z\",\"t\":\"ZX0003\"}\n");
        sb.write("in/.hidden.txt", "ZX0009\n");
        sb.write("in/.git/x.txt", "ZX0009\n");
        let out = sb.run("scan", &[os("--format"), os("jsonl"), os("in")]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let paths: Vec<String> = out
            .jsonl()
            .iter()
            .map(|f| f["path"].as_str().unwrap().replace('\\', "/"))
            .collect();
        assert_eq!(paths, ["in/a/deep/c.txt", "in/b.txt", "in/z.jsonl"]);
    }

    #[test]
    fn field_limits_the_scanned_fields() {
        let sb = Sandbox::new();
        sb.write(
            "n.jsonl",
            "{\"id\":\"n1\",\"a\":\"ZX0001\",\"b\":{\"c\":\"ZX0002\"},\"d\":\"ZX0003\"}\n",
        );
        let out = sb.run(
            "scan",
            &[
                os("--format"),
                os("jsonl"),
                os("--field"),
                os("b.c"),
                os("--field"),
                os("d"),
                os("n.jsonl"),
            ],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let fields: Vec<String> = out
            .jsonl()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(fields, ["b.c", "d"]);
        let out = sb.run(
            "scan",
            &[
                os("--format"),
                os("jsonl"),
                os("--field"),
                os("missing"),
                os("n.jsonl"),
            ],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }

    #[test]
    fn id_field_names_the_document_and_is_not_scanned() {
        let sb = Sandbox::new();
        sb.write(
            "n.jsonl",
            "{\"id\":\"ZX0001\",\"note_id\":\"visit-9\",\"text\":\"ZX0002\"}\n",
        );
        let out = sb.run(
            "scan",
            &[
                os("--format"),
                os("jsonl"),
                os("--id-field"),
                os("note_id"),
                os("n.jsonl"),
            ],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let findings = out.jsonl();
        let got: Vec<(&str, &str)> = findings
            .iter()
            .map(|f| (f["doc"].as_str().unwrap(), f["field"].as_str().unwrap()))
            .collect();
        // `id` is an ordinary field now, and scanned.
        assert_eq!(got, [("visit-9", "id"), ("visit-9", "text")]);
        // By default `id` names the document and is not scanned.
        let out = sb.run("scan", &[os("--format"), os("jsonl"), os("n.jsonl")]);
        let findings = out.jsonl();
        let got: Vec<(&str, &str)> = findings
            .iter()
            .map(|f| (f["doc"].as_str().unwrap(), f["field"].as_str().unwrap()))
            .collect();
        assert_eq!(got, [("ZX0001", "text")]);
        // A record without the id field has no `doc`.
        sb.write("m.jsonl", "{\"text\":\"ZX0002\"}\n");
        let out = sb.run("scan", &[os("--format"), os("jsonl"), os("m.jsonl")]);
        assert!(out.jsonl()[0].get("doc").is_none());
    }

    #[test]
    fn min_confidence_drops_weaker_findings() {
        let sb = Sandbox::new();
        sb.write("note.txt", "SSN 536-90-4399, code ZX1234\n");
        let kinds = |min: &str| -> (i32, Vec<String>) {
            let out = sb.run(
                "scan",
                &[
                    os("--format"),
                    os("jsonl"),
                    os("--min-confidence"),
                    os(min),
                    os("note.txt"),
                ],
            );
            (
                out.code,
                out.jsonl()
                    .iter()
                    .map(|f| f["type"].as_str().unwrap().to_owned())
                    .collect(),
            )
        };
        assert_eq!(
            kinds("0"),
            (1, vec!["SSN".to_owned(), "OTHER_ID".to_owned()])
        );
        assert_eq!(
            kinds("0.6"),
            (1, vec!["SSN".to_owned(), "OTHER_ID".to_owned()])
        );
        assert_eq!(kinds("0.61"), (1, vec!["SSN".to_owned()]));
        assert_eq!(kinds("0.95"), (0, vec![]));
    }

    #[test]
    fn output_file_receives_the_findings() {
        let sb = Sandbox::new();
        sb.write("note.txt", "SSN 536-90-4399\n");
        let target = sb.path("out/findings.jsonl");
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let out = sb.run(
            "scan",
            &[
                os("--format"),
                os("jsonl"),
                os("-o"),
                target.as_os_str(),
                os("note.txt"),
            ],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(out.stdout(), "");
        let written = std::fs::read_to_string(&target).unwrap();
        assert_eq!(written.lines().count(), 1);
        assert_eq!(
            std::fs::read_dir(target.parent().unwrap()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn output_file_never_replaces_an_input() {
        let sb = Sandbox::new();
        let input = "SSN 536-90-4399\n";
        sb.write("note.txt", input);
        let out = sb.run(
            "scan",
            &[
                os("--format"),
                os("jsonl"),
                os("-o"),
                os("note.txt"),
                os("note.txt"),
            ],
        );
        assert_eq!(
            std::fs::read_to_string(sb.path("note.txt")).unwrap(),
            input,
            "the input was overwritten"
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
    }

    /// Findings of the bundled pack in `text`, as a file; asserts exit code 1.
    fn scan_with_bundled_pack(text: &str) -> Vec<Value> {
        let sb = Sandbox::new();
        sb.write("note.txt", text);
        let out = deid_in(
            Some(sb.dir.path()),
            &[os("scan"), os("--format"), os("jsonl"), os("note.txt")],
            None,
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        out.jsonl()
    }

    #[test]
    fn the_bundled_pack_finds_an_ssn() {
        let text = "Patient SSN 536-90-4399 on file.\n";
        let findings = scan_with_bundled_pack(text);
        findings.iter().for_each(assert_contract);
        assert!(
            findings
                .iter()
                .any(|f| f["type"] == "SSN" && span(f) == (12, 23)),
            "{findings:?}"
        );
    }

    #[test]
    fn the_bundled_pack_finds_a_phone_number() {
        let text = "Call (312) 555-0142 tomorrow.\n";
        let findings = scan_with_bundled_pack(text);
        assert!(
            findings
                .iter()
                .any(|f| f["type"] == "PHONE" && text[span(f).0..span(f).1].contains("555-0142")),
            "{findings:?}"
        );
    }

    #[test]
    fn the_bundled_pack_finds_an_email_address() {
        let text = "Write to ann.lee@example.org about it.\n";
        let findings = scan_with_bundled_pack(text);
        assert!(
            findings
                .iter()
                .any(|f| f["type"] == "EMAIL"
                    && &text[span(f).0..span(f).1] == "ann.lee@example.org"),
            "{findings:?}"
        );
    }
}

mod redact {
    use super::*;

    #[test]
    fn jsonl_dates_of_one_subject_shift_together() {
        let dir = tempfile::tempdir().unwrap();
        // A fixed key, so that the two subjects' offsets are known to differ.
        let key = dir.path().join("key");
        std::fs::write(&key, format!("deid-key-v1:{}\n", "ab".repeat(32))).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let policy = dir.path().join("policy.toml");
        std::fs::write(
            &policy,
            "name = 'shift'\n[entities]\nDATE = 'shift'\n\
             [shift]\nmin_days = -400\nmax_days = 400\nsubject = 'patient'\n",
        )
        .unwrap();
        let notes = dir.path().join("notes.jsonl");
        std::fs::write(
            &notes,
            concat!(
                r#"{"id":"a","patient":"p1","text":"Admitted on 2021-03-14, discharged on 2021-03-20."}"#,
                "\n",
                r#"{"id":"b","patient":"p1","text":"Seen again on 2021-04-01."}"#,
                "\n",
                r#"{"id":"c","patient":"p2","text":"Admitted on 2021-03-14."}"#,
                "\n",
            ),
        )
        .unwrap();
        let out = dir.path().join("out.jsonl");
        let run = deid([
            os("redact"),
            os("-q"),
            os("--field"),
            os("text"),
            os("--policy"),
            policy.as_os_str(),
            os("--key-file"),
            key.as_os_str(),
            notes.as_os_str(),
            os("-o"),
            out.as_os_str(),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let dates: Vec<Vec<chrono::NaiveDate>> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|line| {
                let text = record(line)["text"].as_str().unwrap().to_owned();
                text.split([' ', ',', '.'])
                    .filter_map(|w| chrono::NaiveDate::parse_from_str(w, "%Y-%m-%d").ok())
                    .collect()
            })
            .collect();
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let offset =
            |shifted: chrono::NaiveDate, original: &str| (shifted - day(original)).num_days();
        let p1 = offset(dates[0][0], "2021-03-14");
        assert_ne!(p1, 0);
        assert_eq!(
            offset(dates[0][1], "2021-03-20"),
            p1,
            "one record's dates move together"
        );
        assert_eq!(
            offset(dates[1][0], "2021-04-01"),
            p1,
            "one subject's records move together"
        );
        assert_ne!(
            offset(dates[2][0], "2021-03-14"),
            p1,
            "another subject moves otherwise"
        );
    }

    #[test]
    fn jsonl_keeps_every_record_field_order_and_number_and_tags_text() {
        let sb = Sandbox::new();
        let input = concat!(
            r#"{"id":"n1","score":1.50,"text":"SSN 536-90-4399 by Dr. Żukowski","big":12345678901234567890123,"exp":1e-3,"flag":true,"none":null,"meta":{"z":"ZX1234","a":[1.0,"ZX5678",-0.0]}}"#,
            "\n",
            r#"{"id":"n2","text":"nothing here","score":2.50}"#,
            "\n",
            "\n",
            r#"{"text":"é ZX1234","id":3}"#,
            "\n",
        );
        sb.write("notes.jsonl", input);
        let out = sb.run("redact", &[os("notes.jsonl"), os("-o"), os("clean.jsonl")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let output = std::fs::read_to_string(sb.path("clean.jsonl")).unwrap();
        let in_lines: Vec<&str> = input.lines().collect();
        let out_lines: Vec<&str> = output.lines().collect();
        assert_eq!(
            out_lines.len(),
            in_lines.len(),
            "every record (and the blank line) kept:\n{output}"
        );
        assert_eq!(out_lines[2], "", "a blank line stays blank");
        for (a, b) in in_lines
            .iter()
            .zip(&out_lines)
            .filter(|(a, _)| !a.is_empty())
        {
            let (before, after) = (record(a), record(b));
            let keys_before: Vec<&String> = before.keys().collect();
            let keys_after: Vec<&String> = after.keys().collect();
            assert_eq!(keys_before, keys_after, "fields and their order kept");
        }
        // Numbers exactly as written.
        for number in [
            "1.50",
            "12345678901234567890123",
            "1e-3",
            "[1.0,",
            "-0.0",
            "2.50",
            "\"id\":3",
        ] {
            assert!(
                output.contains(number),
                "{number} kept as written:\n{output}"
            );
        }
        let first = record(out_lines[0]);
        assert_eq!(first["text"], "SSN [SSN] by Dr. [NAME]");
        assert_eq!(first["meta"]["z"], "[OTHER_ID]");
        assert_eq!(first["meta"]["a"][1], "[OTHER_ID]");
        assert_eq!(first["id"], "n1");
        assert_eq!(first["flag"], true);
        assert!(first["none"].is_null());
        assert_eq!(record(out_lines[1])["text"], "nothing here");
        assert_eq!(record(out_lines[3])["text"], "é [OTHER_ID]");
        for secret in SECRETS {
            assert!(!output.contains(secret), "{secret} left in the output");
        }
    }

    #[test]
    fn jsonl_keeps_exponent_numbers_as_written() {
        let sb = Sandbox::new();
        let input =
            "{\"id\":\"n1\",\"a\":1e3,\"b\":1E3,\"c\":1.0e10,\"d\":2.5E-7,\"t\":\"ZX1234\"}\n";
        sb.write("n.jsonl", input);
        let out = sb.run("redact", &[os("n.jsonl"), os("-o"), os("-")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout(), input.replace("ZX1234", "[OTHER_ID]"));
    }

    #[test]
    fn jsonl_records_without_findings_are_kept_byte_for_byte() {
        let sb = Sandbox::new();
        let clean = "{\"id\": \"n2\", \"text\": \"caf\\u00e9 \\/ ok\", \"n\": 1.50}";
        sb.write(
            "n.jsonl",
            format!("{{\"id\":\"n1\",\"text\":\"ZX1234\"}}\n{clean}\n"),
        );
        let out = sb.run("redact", &[os("n.jsonl"), os("-o"), os("-")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout().lines().nth(1), Some(clean));
    }

    #[test]
    fn the_id_field_is_not_redacted() {
        let sb = Sandbox::new();
        sb.write("n.jsonl", "{\"id\":\"ZX0001\",\"text\":\"ZX0002\"}\n");
        let out = sb.run("redact", &[os("n.jsonl"), os("-o"), os("-")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            out.stdout(),
            "{\"id\":\"ZX0001\",\"text\":\"[OTHER_ID]\"}\n"
        );
    }

    #[test]
    fn text_files_are_rewritten_with_tags() {
        let sb = Sandbox::new();
        let input = "Zoë: SSN 536-90-4399\r\nseen by Dr. Żukowski, code ZX1234.\n\n\ttabs\tkept\n";
        sb.write("note.txt", input);
        let out = sb.run("redact", &[os("note.txt"), os("-o"), os("note.clean.txt")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout(), "");
        assert_eq!(
            std::fs::read_to_string(sb.path("note.clean.txt")).unwrap(),
            "Zoë: SSN [SSN]\r\nseen by Dr. [NAME], code [OTHER_ID].\n\n\ttabs\tkept\n"
        );
        assert_eq!(
            std::fs::read_to_string(sb.path("note.txt")).unwrap(),
            input,
            "the input is untouched"
        );
    }

    #[test]
    fn output_into_an_existing_directory_keeps_the_file_name() {
        let sb = Sandbox::new();
        sb.write("note.txt", "ZX1234\n");
        std::fs::create_dir(sb.path("out")).unwrap();
        let out = sb.run("redact", &[os("note.txt"), os("-o"), os("out")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            std::fs::read_to_string(sb.path("out/note.txt")).unwrap(),
            "[OTHER_ID]\n"
        );
    }

    #[test]
    fn several_inputs_go_to_an_output_directory() {
        let sb = Sandbox::new();
        sb.write("a.txt", "ZX0001 a\n");
        sb.write("b.jsonl", "{\"id\":\"b\",\"t\":\"ZX0002\"}\n");
        sb.write("tree/x/c.txt", "ZX0003 c\n");
        sb.write("tree/d.txt", "no phi\n");
        let out = sb.run(
            "redact",
            &[os("a.txt"), os("b.jsonl"), os("tree"), os("-o"), os("out")],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let read =
            |p: &str| std::fs::read_to_string(sb.path(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(read("out/a.txt"), "[OTHER_ID] a\n");
        assert_eq!(read("out/b.jsonl"), "{\"id\":\"b\",\"t\":\"[OTHER_ID]\"}\n");
        assert_eq!(
            read("out/x/c.txt"),
            "[OTHER_ID] c\n",
            "a directory input is mirrored below the output"
        );
        assert_eq!(read("out/d.txt"), "no phi\n", "clean files are copied too");
        let mut names: Vec<String> = walk(&sb.path("out"));
        names.sort();
        assert_eq!(
            names,
            ["a.txt", "b.jsonl", "d.txt", "x/c.txt"],
            "nothing else, no temp files"
        );
    }

    /// Every file below `dir`, as relative paths with `/`.
    pub(crate) fn walk(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push(
                        path.strip_prefix(dir)
                            .unwrap()
                            .to_string_lossy()
                            .replace('\\', "/"),
                    );
                }
            }
        }
        out
    }

    #[test]
    fn dash_writes_to_stdout() {
        let sb = Sandbox::new();
        sb.write("note.txt", "code ZX1234\n");
        let out = sb.run("redact", &[os("note.txt"), os("-o"), os("-")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout(), "code [OTHER_ID]\n");
        let out = sb.run_stdin("redact", &[os("-")], Some(b"SSN 536-90-4399"));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout(), "SSN [SSN]", "stdin to stdout without -o");
    }

    #[test]
    fn refuses_to_overwrite_an_input() {
        let sb = Sandbox::new();
        let input = "SSN 536-90-4399\n";
        sb.write("note.txt", input);
        let out = sb.run("redact", &[os("note.txt"), os("-o"), os("note.txt")]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains("note.txt") && out.stderr.contains("overwrite"),
            "{}",
            out.stderr
        );
        assert_eq!(std::fs::read_to_string(sb.path("note.txt")).unwrap(), input);
        // The same file through its directory, and through another spelling.
        // The same file through its directory, and through an absolute path.
        let out = sb.run("redact", &[os("note.txt"), os("-o"), os(".")]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        let out = sb.run(
            "redact",
            &[os("note.txt"), os("-o"), sb.path("note.txt").as_os_str()],
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert_eq!(std::fs::read_to_string(sb.path("note.txt")).unwrap(), input);
        let mut left = walk(sb.dir.path());
        left.sort();
        assert_eq!(left, ["note.txt", "pack.toml"], "no temp file left behind");
    }

    #[test]
    fn refuses_to_overwrite_an_input_through_a_path_not_yet_created() {
        let sb = Sandbox::new();
        let input = "SSN 536-90-4399\n";
        sb.write("note.txt", input);
        let out = sb.run(
            "redact",
            &[os("note.txt"), os("-o"), os("./sub/../note.txt")],
        );
        assert_eq!(
            std::fs::read_to_string(sb.path("note.txt")).unwrap(),
            input,
            "the input was overwritten"
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
    }

    #[test]
    fn refuses_to_overwrite_inputs_of_a_directory_in_place() {
        let sb = Sandbox::new();
        let input = "SSN 536-90-4399\n";
        sb.write("tree/a.txt", input);
        sb.write("tree/b.txt", "ZX0001\n");
        let out = sb.run("redact", &[os("tree"), os("-o"), os("tree")]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert_eq!(
            std::fs::read_to_string(sb.path("tree/a.txt")).unwrap(),
            input
        );
        assert_eq!(
            std::fs::read_to_string(sb.path("tree/b.txt")).unwrap(),
            "ZX0001\n"
        );
    }

    #[test]
    fn redacted_output_scans_clean() {
        let sb = Sandbox::new();
        sb.write(
            "n.jsonl",
            "{\"id\":\"n1\",\"text\":\"SSN 536-90-4399, Dr. Żukowski, ZX1234\"}\n",
        );
        let out = sb.run("redact", &[os("n.jsonl"), os("-o"), os("clean.jsonl")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let out = sb.run("scan", &[os("--format"), os("jsonl"), os("clean.jsonl")]);
        assert_eq!(out.code, 0, "{}", out.stdout());
    }
}

mod bad_input {
    use super::*;

    #[test]
    fn every_bad_input_file_is_named_by_a_test() {
        let source = include_str!("cli.rs");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad");
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let quoted = format!("bad(\"{name}\")");
            assert!(
                source.contains(&quoted),
                "tests/data/bad/{name} is named by no test (expected `{quoted}` in tests/cli.rs)"
            );
            count += 1;
        }
        assert!(count >= 4, "the bad-input folder holds its files");
    }

    #[test]
    fn invalid_utf8_in_a_text_file_gives_byte_offsets() {
        let path = bad("invalid-utf8.txt");
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "the file really is invalid UTF-8"
        );
        let sb = Sandbox::new();
        let out = sb.run(
            "scan",
            &[
                os("--format"),
                os("jsonl"),
                os("--show-values"),
                path.as_os_str(),
            ],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let findings = out.jsonl();
        let values: Vec<&[u8]> = findings
            .iter()
            .map(|f| &bytes[span(f).0..span(f).1])
            .collect();
        assert_eq!(
            values,
            [&b"536-90-4399"[..], b"ZX1234"],
            "offsets are bytes of the raw file"
        );
        // Redaction keeps the invalid bytes as they are.
        let out = sb.run("redact", &[path.as_os_str(), os("-o"), os("-")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let mut expected = bytes.clone();
        for (value, tag) in [
            (&b"536-90-4399"[..], &b"[SSN]"[..]),
            (b"ZX1234", b"[OTHER_ID]"),
        ] {
            let at = expected
                .windows(value.len())
                .position(|w| w == value)
                .unwrap();
            expected.splice(at..at + value.len(), tag.iter().copied());
        }
        assert_eq!(out.stdout, expected);
    }

    #[test]
    fn invalid_utf8_in_a_jsonl_line_is_an_error_naming_the_line() {
        let sb = Sandbox::new();
        let file = sb.write(
            "n.jsonl",
            b"{\"id\":\"n1\",\"text\":\"ZX0001\"}\n{\"id\":\"n2\",\"text\":\"\xff ZX1234\"}\n"
                .as_slice(),
        );
        let out = sb.run("scan", &[os("--format"), os("jsonl"), os("n.jsonl")]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(names_file_line(&out.stderr, "n.jsonl", 2), "{}", out.stderr);
        assert!(file.exists());
    }

    #[test]
    fn a_byte_order_mark_before_jsonl_is_skipped() {
        let sb = Sandbox::new();
        sb.write(
            "bom.jsonl",
            b"\xEF\xBB\xBF{\"id\":\"n1\",\"text\":\"ZX1234\"}\n".as_slice(),
        );
        let out = sb.run("scan", &[os("--format"), os("jsonl"), os("bom.jsonl")]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(out.jsonl()[0]["doc"], "n1");
    }

    #[test]
    fn a_binary_file_is_skipped_with_a_message_naming_it() {
        let path = bad("binary-with-nul.bin");
        assert!(
            std::fs::read(&path).unwrap().contains(&0),
            "the file holds a NUL byte"
        );
        let sb = Sandbox::new();
        let out = sb.run("scan", &[os("--format"), os("jsonl"), path.as_os_str()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout(), "");
        assert!(out.stderr.contains("binary-with-nul.bin"), "{}", out.stderr);
        assert!(out.stderr.contains("binary"), "{}", out.stderr);
    }

    #[test]
    fn a_binary_file_is_scanned_with_binary() {
        let path = bad("binary-with-nul.bin");
        let bytes = std::fs::read(&path).unwrap();
        let sb = Sandbox::new();
        let out = sb.run(
            "scan",
            &[
                os("--format"),
                os("jsonl"),
                os("--binary"),
                path.as_os_str(),
            ],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let findings = out.jsonl();
        let values: Vec<&[u8]> = findings
            .iter()
            .map(|f| &bytes[span(f).0..span(f).1])
            .collect();
        assert_eq!(values, [&b"536-90-4399"[..]]);
    }

    #[test]
    fn an_empty_file_is_clean_and_redacts_to_an_empty_file() {
        let path = bad("empty.txt");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        let sb = Sandbox::new();
        let out = sb.run("scan", &[os("--format"), os("jsonl"), path.as_os_str()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout(), "");
        let target = sb.path("empty.out.txt");
        let out = sb.run("redact", &[path.as_os_str(), os("-o"), target.as_os_str()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(std::fs::read(&target).unwrap(), b"");
        let out = sb.run("scan", &[os("--format"), os("json"), path.as_os_str()]);
        assert_eq!(
            serde_json::from_str::<Value>(out.stdout()).unwrap(),
            serde_json::json!([])
        );
    }

    #[test]
    fn a_50_mb_single_line_is_scanned_with_exact_offsets() {
        let sb = Sandbox::new();
        let filler = b"lorem ipsum dolor sit amet ";
        let size = 50 * 1024 * 1024;
        let mut text: Vec<u8> = Vec::with_capacity(size + 64);
        let mut expected = Vec::new();
        // Identifiers at the start, around segment and unit sizes, in the middle, at the end.
        let marks = [0usize, 65_530, 1 << 20, (1 << 20) + 3, 25 << 20, size - 40];
        for mark in marks {
            while text.len() < mark {
                let room = mark - text.len();
                text.extend_from_slice(&filler[..room.min(filler.len())]);
            }
            if text.last().is_some_and(|&b| b != b' ') {
                text.push(b' ');
            }
            expected.push((text.len(), text.len() + 11));
            text.extend_from_slice(b"536-90-4399 ");
        }
        while text.len() < size {
            let room = size - text.len();
            text.extend_from_slice(&filler[..room.min(filler.len())]);
        }
        assert!(!text.contains(&b'\n'));
        let path = sb.write("big.txt", &text);
        let out = sb.run(
            "scan",
            &[os("--format"), os("jsonl"), os("-q"), path.as_os_str()],
        );
        assert!(matches!(out.code, 0 | 1), "{}", out.stderr);
        let found: Vec<(usize, usize)> = out.jsonl().iter().map(span).collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn a_malformed_jsonl_line_is_an_error_naming_file_and_line() {
        let path = bad("malformed-line.jsonl");
        let sb = Sandbox::new();
        let out = sb.run("scan", &[os("--format"), os("jsonl"), path.as_os_str()]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        let name = path.display().to_string();
        assert!(
            names_file_line(&out.stderr, &name, 2),
            "an error line starts with file:line: {}",
            out.stderr
        );
    }

    #[test]
    fn a_malformed_jsonl_line_leaves_no_redacted_output() {
        let path = bad("malformed-line.jsonl");
        let sb = Sandbox::new();
        std::fs::create_dir(sb.path("out")).unwrap();
        let target = sb.path("out/clean.jsonl");
        let out = sb.run("redact", &[path.as_os_str(), os("-o"), target.as_os_str()]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            names_file_line(&out.stderr, &path.display().to_string(), 2),
            "{}",
            out.stderr
        );
        assert_eq!(
            redact::walk(&sb.path("out")),
            Vec::<String>::new(),
            "no output, not even a temp file"
        );
    }

    #[test]
    fn a_malformed_jsonl_file_among_others_leaves_only_the_good_outputs() {
        let sb = Sandbox::new();
        sb.write("in/good.jsonl", "{\"id\":\"g\",\"t\":\"ZX0001\"}\n");
        std::fs::copy(bad("malformed-line.jsonl"), sb.path("in/bad.jsonl")).unwrap();
        sb.write("in/later.txt", "ZX0002\n");
        let out = sb.run("redact", &[os("in"), os("-o"), os("out")]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            names_file_line(&out.stderr, "in/bad.jsonl", 2),
            "{}",
            out.stderr
        );
        let mut names = redact::walk(&sb.path("out"));
        names.sort();
        assert_eq!(
            names,
            ["good.jsonl", "later.txt"],
            "the bad file's output is absent, no temp file"
        );
    }

    #[test]
    fn a_jsonl_line_that_is_an_array_is_an_error_naming_file_and_line() {
        let path = bad("array-line.jsonl");
        let sb = Sandbox::new();
        let out = sb.run("scan", &[os("--format"), os("jsonl"), path.as_os_str()]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        let name = path.display().to_string();
        assert!(names_file_line(&out.stderr, &name, 2), "{}", out.stderr);
        assert!(
            out.stderr.contains("array"),
            "says what it found: {}",
            out.stderr
        );
        let out = sb.run("redact", &[path.as_os_str(), os("-o"), os("out.jsonl")]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(!sb.path("out.jsonl").exists());
    }

    #[test]
    fn a_nonexistent_path_is_an_error_naming_it_and_other_inputs_still_run() {
        let sb = Sandbox::new();
        sb.write("good.txt", "ZX1234\n");
        let out = sb.run(
            "scan",
            &[
                os("--format"),
                os("jsonl"),
                os("missing-file.txt"),
                os("good.txt"),
            ],
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with("missing-file.txt")),
            "{}",
            out.stderr
        );
        let findings = out.jsonl();
        assert_eq!(findings.len(), 1, "good.txt is still scanned");
        assert_eq!(findings[0]["path"], "good.txt");
        // Redact: the good input is still written.
        let out = sb.run(
            "redact",
            &[os("missing-file.txt"), os("good.txt"), os("-o"), os("out")],
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains("missing-file.txt"), "{}", out.stderr);
        assert_eq!(
            std::fs::read_to_string(sb.path("out/good.txt")).unwrap(),
            "[OTHER_ID]\n"
        );
    }

    #[test]
    fn a_directory_given_to_redact_without_output_is_a_usage_error() {
        let sb = Sandbox::new();
        sb.write("tree/a.txt", "ZX1234\n");
        let out = sb.run("redact", &[os("tree")]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains("-o") || out.stderr.contains("--output"),
            "{}",
            out.stderr
        );
        assert_eq!(out.stdout(), "");
        assert_eq!(
            std::fs::read_to_string(sb.path("tree/a.txt")).unwrap(),
            "ZX1234\n"
        );
        // One file without -o too: a copy needs a destination.
        let out = sb.run("redact", &[os("tree/a.txt")]);
        assert_eq!(out.code, 2, "{}", out.stderr);
    }

    #[test]
    fn a_broken_output_location_is_an_error() {
        let sb = Sandbox::new();
        sb.write("a.txt", "ZX1234\n");
        sb.write("b.txt", "ZX1234\n");
        sb.write("afile", "x");
        let out = sb.run("redact", &[os("a.txt"), os("b.txt"), os("-o"), os("afile")]);
        assert_eq!(
            out.code, 2,
            "several inputs need a directory: {}",
            out.stderr
        );
        assert!(out.stderr.contains("afile"), "{}", out.stderr);
    }
}

mod rules {
    use super::*;

    #[test]
    fn check_passes_on_the_bundled_pack() {
        let out = deid(["rules", "check"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout().starts_with("ok"), "{}", out.stdout());
        assert!(out.stdout().contains("safe-harbor"), "{}", out.stdout());
    }

    #[test]
    fn check_passes_on_a_user_pack_layered_over_the_bundled_one() {
        let sb = Sandbox::new();
        let out = deid([
            "rules".as_ref(),
            "check".as_ref(),
            "--rules".as_ref(),
            sb.path("pack.toml").as_os_str(),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stdout().contains("safe-harbor") && out.stdout().contains("cli-test"),
            "{}",
            out.stdout()
        );
        let out = deid(["rules"]);
        assert_eq!(out.code, 2, "`rules` needs a subcommand");
    }

    #[test]
    fn check_fails_on_a_failing_example_naming_pack_and_rule() {
        let sb = Sandbox::new();
        let broken = PACK.replace(
            r#"examples = [{ text = "code ZX0000", match = "ZX0000" }]"#,
            r#"examples = [{ text = "code ZY0000", match = "ZY0000" }]"#,
        );
        assert_ne!(broken, PACK);
        let pack = sb.write("broken.toml", broken);
        let out = deid([
            "rules".as_ref(),
            "check".as_ref(),
            "--no-bundled".as_ref(),
            "--rules".as_ref(),
            pack.as_os_str(),
        ]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        let line = out
            .stderr
            .lines()
            .find(|l| l.contains("test.code"))
            .unwrap_or_else(|| panic!("names the rule: {}", out.stderr));
        assert!(line.contains("cli-test"), "names the pack: {line}");
        assert!(!out.stdout().starts_with("ok"));
    }

    #[test]
    fn a_pack_that_does_not_load_is_an_error_naming_pack_and_rule() {
        let sb = Sandbox::new();
        let broken = PACK.replace(
            "confidence = 0.6\n",
            "confidence = 0.6\nvalidators = [\"no-such-check\"]\n",
        );
        assert_ne!(broken, PACK);
        let pack = sb.write("broken.toml", broken);
        for command in [
            &["rules", "check"][..],
            &["rules", "list"],
            &["scan", "--format", "jsonl"],
        ] {
            let mut args: Vec<&OsStr> = command.iter().map(os).collect();
            args.extend([os("--no-bundled"), os("--rules"), pack.as_os_str(), os("-")]);
            if command[0] == "rules" {
                args.pop();
            }
            let out = deid_in(None, &args, Some(b"ZX1234"));
            assert_eq!(out.code, 2, "{command:?}: {}", out.stderr);
            assert!(
                out.stderr.contains("cli-test") && out.stderr.contains("test.code"),
                "{command:?}: {}",
                out.stderr
            );
            assert!(
                out.stderr.contains("no-such-check"),
                "{command:?}: {}",
                out.stderr
            );
        }
    }

    /// `deid rules check` on the test pack with `confidence` misspelt.
    fn check_misspelt_pack() -> Output {
        let sb = Sandbox::new();
        let pack = sb.write(
            "typo.toml",
            PACK.replace("confidence = 0.6", "confidance = 0.6"),
        );
        deid([
            "rules".as_ref(),
            "check".as_ref(),
            "--no-bundled".as_ref(),
            "--rules".as_ref(),
            pack.as_os_str(),
        ])
    }

    #[test]
    fn a_pack_with_an_unknown_key_is_an_error_naming_the_file() {
        let out = check_misspelt_pack();
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains("typo.toml") && out.stderr.contains("confidance"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn a_pack_error_is_one_line() {
        let out = check_misspelt_pack();
        assert_eq!(out.code, 2, "{}", out.stderr);
        let lines: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "{}", out.stderr);
        assert!(
            lines[0].contains("typo.toml") && lines[0].contains("line"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn a_missing_pack_is_an_error_naming_it() {
        let out = deid(["rules", "check", "--rules", "no-such-pack.toml"]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains("no-such-pack.toml"), "{}", out.stderr);
    }

    #[test]
    fn list_shows_rules_under_their_types() {
        let out = deid(["rules", "list"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let headers: Vec<&str> = out
            .stdout()
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.is_empty())
            .collect();
        assert!(
            headers.contains(&"SSN") && headers.contains(&"PHONE"),
            "{}",
            out.stdout()
        );
        for header in &headers {
            assert!(
                header.parse::<deid::EntityType>().is_ok(),
                "`{header}` is an entity type"
            );
        }
        let sb = Sandbox::new();
        let pack = sb.path("pack.toml");
        let out = deid([
            os("rules"),
            os("list"),
            os("--no-bundled"),
            os("--rules"),
            pack.as_os_str(),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let lines: Vec<&str> = out.stdout().lines().collect();
        // Contract order of types: NAME before SSN before OTHER_ID.
        assert_eq!(lines[0], "NAME");
        assert!(
            lines[1].trim_start().starts_with("test.name"),
            "{}",
            out.stdout()
        );
        assert_eq!(lines[2], "SSN");
        assert!(lines[3].trim_start().starts_with("test.ssn"));
        assert_eq!(lines[4], "OTHER_ID");
        assert!(lines[5].trim_start().starts_with("test.code"));
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn list_type_shows_one_type() {
        let out = deid(["rules", "list", "--type", "SSN"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let lines: Vec<&str> = out.stdout().lines().collect();
        assert_eq!(lines.first(), Some(&"SSN"), "{}", out.stdout());
        assert!(lines.len() >= 2, "at least one SSN rule: {}", out.stdout());
        assert!(
            lines[1..].iter().all(|l| l.starts_with("  ")),
            "only SSN rules: {}",
            out.stdout()
        );
    }
}
