#!/usr/bin/env python3
"""Deterministic patients/encounters-like tables (CSV, Parquet) for throughput benchmarks.

    benches/gen_tables.py OUT.csv SIZE_MB [--seed N] [--quarter PATH] [--parquet PATH]
    benches/gen_tables.py OUT.csv SIZE_MB [--seed N] --parquet PATH --parquet-only

Writes about SIZE_MB MiB (SIZE_MB * 2**20 bytes, less the tail of the last record) of
RFC 4180 CSV to OUT: a header and one record per encounter, records ending in "\\n". The same
arguments always give the same bytes: every choice comes from one seeded `random.Random`
(stdlib only), and the word lists are fixed in this file and in `gen_notes.py` beside it
(the rule dictionaries under rules/ are not read, so tuning them never changes the input).

Columns: encounter_id, mrn, first_name, last_name, ssn, dob, sex, address, city, state, zip,
phone, email, visit_date, payer, lab_value, note. Some ssn, phone, email and lab_value
cells are empty; a few addresses hold a comma ("12 Oak St, Apt 4"), so they are quoted.
`note` is free text: about 10 % empty, 60 % ordinary clinical prose, 30 % with names,
dates, phone numbers, SSNs, MRNs, e-mail addresses… inside. About 10 % of notes span
several lines (embedded "\\n") and about 8 % quote the patient ("" inside a quoted field);
commas are everywhere, so most notes are quoted. About 3 % of names are non-ASCII.

--quarter PATH also writes the file's first quarter, cut at a record boundary (a line end
is not one: notes hold newlines), with the header. --parquet PATH writes the same table as
Parquet (needs pyarrow): every column a UTF-8 string column holding exactly the CSV's cell
strings (empty cells stay empty strings, not nulls), snappy-compressed, row groups of
500,000 rows or about 64 MiB of Arrow data, whichever comes first. It streams the CSV back
with `pyarrow.csv.open_csv`, so memory stays bounded whatever the size. With
--parquet-only, OUT must already exist and only the Parquet file is written.

PERF: filling templates in Python runs at a few MB/s, so pools of patients (one per MRN,
seen at several encounters, as in real extracts) and of notes are rendered and CSV-quoted
once; a record picks one of each plus a few small fields, and records are joined into
chunks of 8192. About 1 GiB of CSV in well under a minute.
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_notes import (  # noqa: E402  the word lists and templates of the notes generator
    CITIES, CONDITIONS, DOMAINS, FACILITIES, FIRST, FIRST_NON_ASCII, MONTHS, PROSE, STATES,
    STREET_KINDS, STREETS, SURNAMES, SURNAMES_NON_ASCII, TESTS, TITLES, WITH_IDS, Gen,
)

PATIENTS = 60_000
NOTES = 40_000
BATCH = 8192
COLUMNS = ("encounter_id,mrn,first_name,last_name,ssn,dob,sex,address,city,state,zip,"
           "phone,email,visit_date,payer,lab_value,note")
PAYERS = ["Medicare", "Medicaid", "Blue Cross Blue Shield", "Aetna", "UnitedHealthcare",
          "Cigna", "Humana", "Kaiser Permanente", "Self-pay", "Tricare", "Medicare Advantage",
          "Workers' Compensation", ""]
QUOTES = [
    'Patient states "I have been taking it every day, mostly."',
    'She reports "no pain at all" since the change in dose.',
    'Family describes him as "more confused than usual" over the weekend.',
    'He asked whether the "water pill" could be taken at night.',
    'Daughter says "she has not been eating, not even soup."',
]
ROW_GROUP_ROWS = 500_000
ROW_GROUP_BYTES = 64 << 20


def q(cell):
    """One CSV field, quoted per RFC 4180 when it holds a comma, a quote or a line break."""
    if any(c in cell for c in ',"\n\r'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


class TableGen(Gen):
    def patient(self):
        r = self.r
        first, last = self.first(), self.last()
        address = f"{r.randint(1, 9999)} {r.choice(STREETS)} {r.choice(STREET_KINDS)}"
        if r.random() < 0.08:
            address += f", {r.choice(['Apt', 'Unit', 'Suite', '#'])} {r.randint(1, 40)}"
        email = ""
        if r.random() < 0.8:
            local = r.choice([f"{first}.{last}", f"{first[0]}{last}", f"{last}{r.randint(1, 99)}"])
            email = (local.lower().encode("ascii", "ignore").decode().replace(" ", "").replace("'", "")
                     + "@" + r.choice(DOMAINS))
        cells = [
            f"{r.randint(1000000, 99999999)}", first, last,
            self.ssn() if r.random() < 0.75 else "",
            f"{r.randint(1930, 2023)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
            r.choice("MF") if r.random() < 0.98 else "U",
            address, r.choice(CITIES), r.choice(STATES), f"{r.randint(1001, 99950):05d}",
            self.phone() if r.random() < 0.93 else "", email,
        ]
        return ",".join(q(c) for c in cells)

    def note(self):
        """(note text, has identifiers)"""
        r = self.r
        x = r.random()
        if x < 0.10:
            return "", False
        phi = x >= 0.70
        parts = []
        for _ in range(r.choice([1, 1, 1, 2, 2, 3])):
            if phi and (not parts or r.random() < 0.5):
                parts.append(r.choice(WITH_IDS).format(**self.fields()))
            else:
                parts.append(r.choice(PROSE))
        if r.random() < 0.08:
            parts.insert(r.randint(0, len(parts)), r.choice(QUOTES))
        if len(parts) > 1 and r.random() < 0.25:
            return "\n".join(parts), phi
        return " ".join(parts), phi

    def lab_value(self):
        r = self.r
        x = r.random()
        if x < 0.15:
            return ""
        if x < 0.6:
            return f"{r.uniform(0.2, 15.0):.1f}"
        if x < 0.9:
            return f"{r.randint(40, 400)}"
        return f"{r.uniform(0.01, 2.0):.2f}"


def write_csv(path, size_mb, seed, quarter_path):
    target = int(size_mb * (1 << 20))
    g = TableGen(seed)
    r = g.r
    patients = [g.patient() for _ in range(PATIENTS)]
    notes, note_phi, note_lines, note_quotes = [], [], [], []
    for _ in range(NOTES):
        text, phi = g.note()
        notes.append(q(text))
        note_phi.append(int(phi))
        note_lines.append(int("\n" in text))
        note_quotes.append(int('"' in text))
    dates = [g.date_iso() for _ in range(4096)]
    labs = [g.lab_value() for _ in range(4096)]
    payers = [q(p) for p in PAYERS]
    pick = range(NOTES)

    header = (COLUMNS + "\n").encode()
    quarter_target = target // 4
    stats = {"rows": 0, "phi": 0, "multiline": 0, "quoted": 0, "quarter_rows": 0, "quarter_bytes": 0}
    written = len(header)
    rows = 0
    qf = open(quarter_path, "wb", buffering=1 << 22) if quarter_path else None
    if qf:
        qf.write(header)
    with open(path, "wb", buffering=1 << 22) as f:
        f.write(header)
        while written < target:
            ps = r.choices(patients, k=BATCH)
            ns = r.choices(pick, k=BATCH)
            vs = r.choices(dates, k=BATCH)
            ys = r.choices(payers, k=BATCH)
            ls = r.choices(labs, k=BATCH)
            batch = [f"E{rows + i:09d},{p},{v},{y},{lab},{notes[n]}\n"
                     for i, (p, n, v, y, lab) in enumerate(zip(ps, ns, vs, ys, ls))]
            chunk = "".join(batch).encode()
            end = len(batch)
            last = written + len(chunk) >= target
            if last:
                # Keep the records that end within the target.
                size = 0
                for end, rec in enumerate(batch):
                    n = len(rec.encode())
                    if written + size + n > target:
                        break
                    size += n
                else:
                    end = len(batch)
                chunk = chunk[:size]
            if qf and written + len(chunk) >= quarter_target:
                size = 0
                for rec in batch[:end]:
                    n = len(rec.encode())
                    if written + size + n > quarter_target:
                        break
                    size += n
                    stats["quarter_rows"] += 1
                qf.write(chunk[:size])
                stats["quarter_bytes"] = written + size
                qf.close()
                qf = None
            elif qf:
                qf.write(chunk)
                stats["quarter_rows"] += end
            f.write(chunk)
            written += len(chunk)
            rows += end
            for n in ns[:end]:
                stats["phi"] += note_phi[n]
                stats["multiline"] += note_lines[n]
                stats["quoted"] += note_quotes[n]
            if last or end == 0:
                break
    if qf:  # the whole file is smaller than a quarter of the target: cannot happen, but close
        qf.close()
    stats["rows"] = rows
    stats["bytes"] = written
    return stats


def write_parquet(csv_path, out):
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    with open(csv_path, "rb") as f:
        names = f.readline().decode().rstrip("\n").split(",")
    reader = pcsv.open_csv(
        csv_path,
        read_options=pcsv.ReadOptions(block_size=8 << 20),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                            strings_can_be_null=False),
    )
    schema = pa.schema([(c, pa.string()) for c in names])
    groups = rows = 0
    pending, prows, pbytes = [], 0, 0
    with pq.ParquetWriter(out, schema, compression="snappy") as writer:

        def flush(final):
            nonlocal pending, prows, pbytes, groups, rows
            while prows and (final or prows >= ROW_GROUP_ROWS or pbytes >= ROW_GROUP_BYTES):
                table = pa.Table.from_batches(pending, schema=schema)
                n = min(prows, ROW_GROUP_ROWS)
                if pbytes > ROW_GROUP_BYTES:
                    n = min(n, max(1, prows * ROW_GROUP_BYTES // pbytes))
                writer.write_table(table.slice(0, n), row_group_size=n)
                groups += 1
                rows += n
                rest = table.slice(n)
                pending = rest.to_batches()
                pbytes = pbytes * (prows - n) // prows
                prows -= n

        for batch in reader:
            pending.append(batch)
            prows += batch.num_rows
            pbytes += batch.nbytes
            flush(False)
        flush(True)
    return rows, groups


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("size_mb", type=float)
    p.add_argument("--seed", type=int, default=20240901)
    p.add_argument("--quarter", metavar="PATH", help="also write the first quarter as CSV here")
    p.add_argument("--parquet", metavar="PATH", help="also write the table as Parquet here")
    p.add_argument("--parquet-only", action="store_true", help="OUT exists: write only the Parquet")
    args = p.parse_args()
    if args.parquet_only and not args.parquet:
        p.error("--parquet-only needs --parquet PATH")
    if not args.parquet_only:
        s = write_csv(args.out, args.size_mb, args.seed, args.quarter)
        print(f"{args.out}: {s['bytes']} bytes, {s['rows']} records + header, 17 columns; "
              f"notes with identifiers {s['phi'] / s['rows']:.1%}, spanning lines "
              f"{s['multiline'] / s['rows']:.1%}, with \"\" {s['quoted'] / s['rows']:.1%}", file=sys.stderr)
        if args.quarter:
            print(f"{args.quarter}: {s['quarter_bytes']} bytes, {s['quarter_rows']} records + header",
                  file=sys.stderr)
    if args.parquet:
        rows, groups = write_parquet(args.out, args.parquet)
        print(f"{args.parquet}: {os.path.getsize(args.parquet)} bytes, {rows} rows in {groups} "
              f"row groups, all columns strings, snappy", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
