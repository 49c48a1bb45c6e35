"""Turns the FREE_TEXT cells of a table corpus into a notes corpus, for leak rates.

    table_cells.py GOLD_DIR REDACTED_DIR OUT_PREFIX

Writes OUT_PREFIX.gold.jsonl (one document per FREE_TEXT cell with its gold spans, id
`table:row:column`) and OUT_PREFIX.redacted.jsonl (the same cells of the redacted CSV of
the same name). Rows are CSV records, header excluded (FORMATS.md)."""

import csv
import json
import os
import sys


def records(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def main():
    gold_dir, redacted_dir, prefix = sys.argv[1:4]
    with open(prefix + ".gold.jsonl", "w", encoding="utf-8") as gold_out, open(
        prefix + ".redacted.jsonl", "w", encoding="utf-8"
    ) as red_out:
        for name in sorted(os.listdir(gold_dir)):
            if not name.endswith(".gold.json"):
                continue
            gold = json.load(open(os.path.join(gold_dir, name), encoding="utf-8"))
            table = name[: -len(".gold.json")]
            text_columns = [c for c, label in gold["columns"].items() if label == "FREE_TEXT"]
            redacted_path = os.path.join(redacted_dir, table + ".csv")
            if not text_columns or not os.path.exists(redacted_path):
                continue
            spans = {}
            spans_file = gold.get("free_text_spans")
            if spans_file:
                for line in open(os.path.join(gold_dir, spans_file), encoding="utf-8"):
                    s = json.loads(line)
                    spans.setdefault((s["row"], s["column"]), []).append(s)
            original = records(os.path.join(gold_dir, table + ".csv"))
            redacted = records(redacted_path)
            for row, (before, after) in enumerate(zip(original, redacted)):
                for column in text_columns:
                    text = before.get(column) or ""
                    if not text:
                        continue
                    doc = f"{table}:{row}:{column}"
                    cell_spans = [
                        {"start": s["start"], "end": s["end"], "type": s["type"]}
                        for s in spans.get((row, column), [])
                    ]
                    gold_out.write(json.dumps({"id": doc, "text": text, "spans": cell_spans}) + "\n")
                    red_out.write(json.dumps({"id": doc, "text": after.get(column) or ""}) + "\n")


if __name__ == "__main__":
    main()
