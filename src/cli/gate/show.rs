//! How gate results read on a terminal; `--format json` prints the service's JSON as is.

use serde_json::Value;

use super::Format;

/// Prints `value` as JSON or with `table`.
pub(super) fn print(value: &Value, format: Format, table: fn(&Value)) {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        ),
        Format::Table => table(value),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn counts(value: &Value) -> String {
    let Some(map) = value.as_object().filter(|m| !m.is_empty()) else {
        return "-".to_owned();
    };
    map.iter()
        .map(|(entity, count)| format!("{entity} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The list of requests.
pub(super) fn requests(list: &Value) {
    let rows = list.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("no requests");
        return;
    }
    println!(
        "{:>5}  {:<10} {:<12} {:<12} {:>5} {:>12}  {:<20} findings",
        "id", "state", "outcome", "submitter", "files", "bytes", "submitted"
    );
    for r in rows {
        println!(
            "{:>5}  {:<10} {:<12} {:<12} {:>5} {:>12}  {:<20} {}",
            text(&r["id"]),
            text(&r["state"]),
            text(&r["outcome"]),
            text(&r["submitter"]),
            text(&r["files"]),
            text(&r["bytes"]),
            text(&r["created"]).chars().take(19).collect::<String>(),
            counts(&r["counts"]),
        );
    }
}

/// What `submit` prints.
pub(super) fn submitted(summary: &Value) {
    println!(
        "request {}: {} ({}), {} file(s), {} bytes; findings: {}",
        text(&summary["id"]),
        text(&summary["state"]),
        text(&summary["outcome"]),
        text(&summary["files"]),
        text(&summary["bytes"]),
        counts(&summary["counts"]),
    );
}

/// One request in full.
pub(super) fn request(detail: &Value) {
    println!("request    {}", text(&detail["id"]));
    println!("state      {}", text(&detail["state"]));
    println!("outcome    {}", text(&detail["outcome"]));
    println!("submitter  {}", text(&detail["submitter"]));
    println!("reason     {}", text(&detail["reason"]));
    println!("submitted  {}", text(&detail["created"]));
    println!(
        "approvals  {} of {}",
        text(&detail["approvals"]),
        text(&detail["approvals_needed"])
    );
    println!("findings   {}", counts(&detail["counts"]));
    for file in detail["file_list"].as_array().into_iter().flatten() {
        println!();
        println!(
            "file {}  {}  {} bytes  sha256 {}",
            file["index"].as_u64().map_or(0, |i| i + 1),
            text(&file["name"]),
            text(&file["size"]),
            text(&file["sha256"]),
        );
        let report = &file["report"];
        if report.is_null() {
            println!("  not scanned yet");
            continue;
        }
        println!(
            "  {}{}",
            text(&report["outcome"]["outcome"]),
            match report["members"].as_u64() {
                Some(n) if n > 1 => format!(" ({n} members)"),
                _ => String::new(),
            }
        );
        for reason in report["outcome"]["reasons"]
            .as_array()
            .into_iter()
            .flatten()
        {
            println!("  ! {}", text(reason));
        }
        if let Some(reason) = report["outcome"]["reason"].as_str() {
            println!("  ! {reason}");
        }
        for note in report["findings"]["notes"].as_array().into_iter().flatten() {
            println!(
                "  {:<14} {:<40} {}",
                text(&note["entity"]),
                text(&note["location"]),
                text(&note["excerpt"])
            );
        }
        if let Some(location) = file["released_to"].as_str() {
            println!("  released to {location}");
        }
    }
    let reviews = detail["reviews"].as_array().cloned().unwrap_or_default();
    if !reviews.is_empty() {
        println!();
        for review in reviews {
            println!(
                "review  {} {}{} at {}: {}",
                text(&review["reviewer"]),
                text(&review["decision"]),
                if review["override"].as_bool() == Some(true) {
                    " (override)"
                } else {
                    ""
                },
                text(&review["at"]),
                text(&review["reason"]),
            );
        }
    }
}

/// The ingest manifest.
pub(super) fn datasets(list: &Value) {
    let rows = list.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("no datasets");
        return;
    }
    println!(
        "{:<20} {:<30} {:>12}  {:<12} sha256",
        "dataset", "file", "bytes", "owner"
    );
    for r in rows {
        println!(
            "{:<20} {:<30} {:>12}  {:<12} {}",
            text(&r["dataset"]),
            text(&r["file"]),
            text(&r["size"]),
            text(&r["owner"]),
            text(&r["sha256"]),
        );
    }
}
