#!/usr/bin/env python3
"""Deterministic notes-like clinical free text for throughput benchmarks.

    benches/gen_notes.py OUT SIZE_MB [--seed N] [--profile notes|digits|clean]

Writes about SIZE_MB MiB (SIZE_MB * 2**20 bytes, less the tail of the last line)
of plain text to OUT. The same arguments always give the same bytes: every choice comes
from one seeded `random.Random`, and the word lists below are fixed in this file (the
rule dictionaries under rules/ are not read, so tuning them never changes the input).

Profiles:
- `notes` (default): clinical notes separated by blank lines. Each note has a header
  (name, DOB, MRN, visit date) and 3 to 7 paragraphs drawn from a pool of pre-filled
  paragraphs: mostly ordinary clinical prose without identifiers, some with names, dates,
  phone and fax numbers, SSNs, MRNs, e-mail and street addresses, ZIP codes, URLs, IPv4
  addresses, ages over 89; a lab table now and then; a few non-ASCII names (Żukowski,
  Nguyễn, José, Zoë…).
- `digits`: lab and vitals tables, digit-heavy, few identifiers.
- `clean`: ordinary clinical prose only, no identifiers.

PERF: filling templates in Python runs at a few MB/s, so a pool of POOL paragraphs is
filled once and notes are assembled from it; only each note's header is filled fresh.
That writes a GiB in well under a minute while keeping tens of MB of distinct text.
"""

import argparse
import random
import sys

POOL = 24_000

FIRST = """James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara
Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew
Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua
Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Rebecca
Jason Laura Edward Helen Jeffrey Sharon Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Angela Eric
Shirley Jonathan Anna Larry Brenda Justin Pamela Scott Emma Brandon Nicole Benjamin Samuel
Gregory Alexander Frank Raymond Patrick Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry
Maria Carmen Rosa Luis Jorge Wei Mei Hiroshi Yuki Priya Ananya Rahul Fatima Omar Aisha Kwame""".split()
FIRST_NON_ASCII = "José Zoë Søren Chloé Björn Renée Małgorzata Đorđe Ærin Siân".split()
SURNAMES = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez
Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores
Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner
Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz
Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez
Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross
Foster Jimenez O'Brien McDonald Smith-Jones Okafor Tanaka Kowalski Schmidt Rossi""".split()
SURNAMES_NON_ASCII = "Żukowski Nguyễn Müller Ólafsdóttir García-Peña Dvořák Łukasz Öztürk Jørgensen Đặng".split()
STREETS = """Oak Maple Cedar Pine Elm Washington Lake Hill Park Main Church Spring Highland Sunset
Meadow Willow River Forest Ridge Valley""".split()
STREET_KINDS = "St Street Ave Avenue Rd Road Blvd Lane Dr Drive Ct Way".split()
CITIES = """Springfield Riverside Franklin Greenville Bristol Clinton Fairview Salem Madison Georgetown
Arlington Ashland Dover Oxford Jackson Burlington Manchester Milton Newport Auburn""".split()
STATES = "AL AK AZ CA CO CT FL GA IL IN MA MD MI MN NC NJ NY OH OR PA TX VA WA WI".split()
MONTHS = "January February March April May June July August September October November December".split()
DOMAINS = "example.org mail.example.com hospital.example.net clinic.example.edu".split()
FACILITIES = """St. Mary's Hospital|Riverside Medical Center|Mercy General Hospital|Lakeview Clinic|
Good Samaritan Hospital|County Memorial Hospital|Northside Family Practice""".replace("\n", "").split("|")
TITLES = "Dr. Dr. Dr. Mr. Mrs. Ms.".split()

# Ordinary clinical prose: the bulk of real notes, and the `clean` profile.
PROSE = [
    "Patient presents with a three-day history of productive cough, low-grade fever and "
    "malaise. Denies chest pain, hemoptysis or night sweats. No recent travel. Lungs with "
    "scattered rhonchi at the right base; no wheeze. Oxygen saturation adequate on room air.",
    "Assessment: community-acquired pneumonia, right lower lobe, mild. Plan: start oral "
    "amoxicillin-clavulanate for seven days, encourage fluids, acetaminophen as needed for "
    "fever. Return precautions reviewed, including worsening dyspnea or confusion.",
    "History of type 2 diabetes mellitus, hypertension and hyperlipidemia. Current "
    "medications include metformin 1000 mg twice daily, lisinopril 20 mg daily and "
    "atorvastatin 40 mg at bedtime. Reports good adherence and no hypoglycemic episodes.",
    "Review of systems is otherwise negative for headache, visual changes, abdominal pain, "
    "nausea, vomiting, diarrhea, dysuria or rash. Appetite is stable and weight unchanged "
    "since the last visit.",
    "On examination the patient is alert, oriented and in no acute distress. Heart regular "
    "rate and rhythm without murmur. Abdomen soft, non-tender, non-distended with normal "
    "bowel sounds. Extremities without edema; pedal pulses intact bilaterally.",
    "Echocardiogram shows preserved left ventricular ejection fraction with mild concentric "
    "hypertrophy and grade I diastolic dysfunction. No significant valvular disease. "
    "Continue current antihypertensive regimen and recheck blood pressure in four weeks.",
    "The patient was counselled on smoking cessation and given written material. She is "
    "interested in nicotine replacement therapy and will start the patch at 21 mg daily "
    "with a taper over ten weeks. Follow up in clinic to review progress.",
    "MRI of the lumbar spine demonstrates mild degenerative disc disease at L4-L5 without "
    "significant canal stenosis or nerve root compression. Recommend physical therapy, "
    "core strengthening and a short course of naproxen with food.",
    "Admitted overnight for observation after a syncopal episode at home. Telemetry showed "
    "sinus rhythm without arrhythmia. Orthostatic vital signs were positive; symptoms "
    "resolved with intravenous fluids. Discharged home in stable condition.",
    "Wound on the left lower leg is healing well with healthy granulation tissue and no "
    "signs of infection. Dressing changed using sterile technique. Continue daily dressing "
    "changes and elevation; district nurse to review twice weekly.",
    "Discussed goals of care with the patient and family. The patient wishes to continue "
    "full treatment at this time. Palliative care consult placed for symptom management "
    "and support. Code status remains full code.",
    "Hemoglobin A1c improved compared with the previous result. Renal function stable. "
    "Urine albumin-to-creatinine ratio mildly elevated; will add an SGLT2 inhibitor if "
    "tolerated and repeat the test in three months.",
    "Psychiatric review: mood described as low with poor sleep and reduced concentration "
    "for several weeks. No suicidal ideation, intent or plan. Started sertraline 50 mg daily; "
    "safety plan discussed and crisis line information provided.",
    "Post-operative day two after laparoscopic cholecystectomy. Tolerating a regular diet, "
    "ambulating independently, pain controlled on oral analgesia. Incisions clean and dry. "
    "Plan discharge tomorrow morning if stable overnight.",
    "Pediatric well-child visit. Growth and development appropriate for age; immunizations "
    "up to date per schedule. Anticipatory guidance given on nutrition, sleep, car seat "
    "safety and screen time. Next routine visit in six months.",
    "Chest radiograph: no focal consolidation, pleural effusion or pneumothorax. Heart size "
    "within normal limits. Mild degenerative changes of the thoracic spine. Impression: no "
    "acute cardiopulmonary process.",
    "Patient reports intermittent palpitations, worse with caffeine, lasting a few minutes. "
    "No associated syncope or chest pain. Holter monitor arranged for forty-eight hours and "
    "thyroid function tests ordered.",
    "Physical therapy note: gait steady with a single-point cane, transfers independent, "
    "stairs with one rail and supervision. Continue balance and strengthening exercises; "
    "home exercise programme reviewed and updated.",
]

# Paragraphs with identifiers; {fields} are filled per pool entry.
WITH_IDS = [
    "Seen today by {title} {last} for follow-up of {cond}. Patient {first} {last2} reports "
    "feeling better since the last visit on {date_us}. Next appointment {date_iso}.",
    "Contact: {first} {last}, phone {phone}, fax {phone2}, e-mail {email}. Preferred "
    "contact is by telephone in the afternoon.",
    "Address on file: {num} {street} {skind}, {city}, {state} {zip}. Emergency contact is "
    "{first2} {last}, daughter, reachable at {phone}.",
    "Identifiers verified at registration: MRN {mrn}, SSN {ssn}, date of birth {date_us}. "
    "Insurance card scanned; member ID {member}.",
    "Discharge summary sent to {title} {first} {last} at {facility}. Copy to the primary "
    "care physician by secure e-mail {email} on {month} {day}, {year}.",
    "{age}-year-old {sex} admitted on {date_us} with {cond}. Past history notable for "
    "{cond2}. Lives alone in {city}; daughter {first2} visits weekly.",
    "Patient portal messages reviewed at {url} from workstation {ip}. {first} {last} asked "
    "about refills; prescription sent to the pharmacy on {street} {skind}.",
    "Call-back requested by {first} {last} ({phone}). Discussed results of the {test} drawn "
    "on {date_us}; all within the reference range except as noted below.",
    "Referred by {title} {last} of {facility} for evaluation of {cond}. Seen with "
    "interpreter; patient's wife {first2} present throughout.",
    "{last}, {first} — DOB {date_us} — MRN {mrn}. Transferred from {facility} on "
    "{date_iso} for further management of {cond}.",
]

CONDITIONS = """chest pain|shortness of breath|atrial fibrillation|heart failure exacerbation|
COPD exacerbation|urinary tract infection|cellulitis of the left leg|acute kidney injury|
diabetic foot ulcer|community-acquired pneumonia|migraine|low back pain|major depressive disorder|
iron deficiency anemia|hip fracture|stroke symptoms""".replace("\n", "").split("|")
TESTS = "complete blood count|basic metabolic panel|lipid panel|thyroid panel|hemoglobin A1c|liver function tests".split("|")
LABS = [
    ("WBC", "x10^9/L", 3.5, 11.0), ("Hemoglobin", "g/dL", 10.5, 16.5), ("Platelets", "x10^9/L", 140, 420),
    ("Sodium", "mmol/L", 132, 146), ("Potassium", "mmol/L", 3.2, 5.4), ("Chloride", "mmol/L", 96, 110),
    ("Bicarbonate", "mmol/L", 20, 30), ("BUN", "mg/dL", 6, 30), ("Creatinine", "mg/dL", 0.5, 1.8),
    ("Glucose", "mg/dL", 70, 220), ("Calcium", "mg/dL", 8.2, 10.6), ("ALT", "U/L", 8, 70),
    ("AST", "U/L", 10, 60), ("Albumin", "g/dL", 3.0, 5.0), ("INR", "", 0.9, 2.8), ("TSH", "mIU/L", 0.3, 5.5),
]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def first(self):
        r = self.r
        return r.choice(FIRST_NON_ASCII) if r.random() < 0.03 else r.choice(FIRST)

    def last(self):
        r = self.r
        return r.choice(SURNAMES_NON_ASCII) if r.random() < 0.03 else r.choice(SURNAMES)

    def date_us(self):
        r = self.r
        return f"{r.randint(1, 12):02d}/{r.randint(1, 28):02d}/{r.randint(1930, 2024)}"

    def date_iso(self):
        r = self.r
        return f"{r.randint(2000, 2025)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"

    def phone(self):
        r = self.r
        a, b, c = r.randint(201, 989), r.randint(200, 999), r.randint(0, 9999)
        return r.choice([f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"{a}.{b}.{c:04d}"])

    def ssn(self):
        r = self.r
        return f"{r.randint(1, 665):03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"

    def fields(self):
        r = self.r
        first, last = self.first(), self.last()
        return {
            "title": r.choice(TITLES), "first": first, "last": last, "first2": self.first(),
            "last2": self.last(), "date_us": self.date_us(), "date_iso": self.date_iso(),
            "phone": self.phone(), "phone2": self.phone(), "ssn": self.ssn(),
            "email": f"{first.lower()}.{last.lower()}@{r.choice(DOMAINS)}".encode("ascii", "ignore").decode(),
            "num": r.randint(1, 9999), "street": r.choice(STREETS), "skind": r.choice(STREET_KINDS),
            "city": r.choice(CITIES), "state": r.choice(STATES), "zip": f"{r.randint(1001, 99950):05d}",
            "mrn": f"{r.randint(1000000, 99999999)}", "member": f"{r.choice('ABCHKMW')}{r.randint(10**8, 10**9 - 1)}",
            "facility": r.choice(FACILITIES), "month": r.choice(MONTHS), "day": r.randint(1, 28),
            "year": r.randint(2005, 2025), "age": r.choice([r.randint(18, 89)] * 9 + [r.randint(90, 104)]),
            "sex": r.choice(["man", "woman"]), "cond": r.choice(CONDITIONS), "cond2": r.choice(CONDITIONS),
            "test": r.choice(TESTS),
            "url": f"https://portal.{r.choice(DOMAINS)}/patient/{r.randint(1000, 99999)}",
            "ip": f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        }

    def lab_table(self):
        r = self.r
        rows = [f"Labs {self.date_iso()} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
                f"{'Test':<12} {'Result':>8} {'Units':<8} {'Ref':>13}"]
        for name, unit, lo, hi in r.sample(LABS, r.randint(6, len(LABS))):
            span = hi - lo
            value = r.uniform(lo - span * 0.15, hi + span * 0.15)
            digits = 0 if hi >= 100 else 1
            flag = " H" if value > hi else " L" if value < lo else ""
            rows.append(f"{name:<12} {value:>8.{digits}f} {unit:<8} {lo:>6.{digits}f}-{hi:<6.{digits}f}{flag}")
        rows.append(f"BP {r.randint(95, 175)}/{r.randint(55, 105)} HR {r.randint(48, 120)} "
                    f"RR {r.randint(12, 24)} T {r.uniform(36.0, 39.2):.1f} SpO2 {r.randint(88, 100)}%")
        return "\n".join(rows)

    def paragraph(self, profile):
        r = self.r
        if profile == "clean":
            return " ".join(r.sample(PROSE, r.randint(1, 2)))
        if profile == "digits":
            return self.lab_table() if r.random() < 0.85 else r.choice(PROSE)
        x = r.random()
        if x < 0.62:
            return " ".join(r.sample(PROSE, r.randint(1, 2)))
        if x < 0.93:
            return r.choice(WITH_IDS).format(**self.fields())
        return self.lab_table()

    def header(self, note):
        r = self.r
        return (f"NOTE {note:08d} | {r.choice(['Progress note', 'Discharge summary', 'Clinic letter', 'Nursing note', 'Consult'])}\n"
                f"Patient: {self.first()} {self.last()}  DOB: {self.date_us()}  MRN: {r.randint(1000000, 99999999)}\n"
                f"Visit: {self.date_iso()}  Author: {r.choice(TITLES[:2])} {self.last()}")

    def header_clean(self, note):
        return f"NOTE {note:08d} | Progress note"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("size_mb", type=float)
    p.add_argument("--seed", type=int, default=20240901)
    p.add_argument("--profile", choices=["notes", "digits", "clean"], default="notes")
    args = p.parse_args()
    target = int(args.size_mb * (1 << 20))
    g = Gen(args.seed)
    pool = [g.paragraph(args.profile).encode() for _ in range(POOL)]
    header = g.header_clean if args.profile == "clean" else g.header
    r = g.r
    written = 0
    note = 0
    with open(args.out, "wb", buffering=1 << 22) as f:
        while written < target:
            batch = []
            for _ in range(512):
                note += 1
                parts = [header(note).encode()]
                parts += [pool[i] for i in r.choices(range(POOL), k=r.randint(3, 7))]
                batch.append(b"\n\n".join(parts) + b"\n\n")
            chunk = b"".join(batch)
            if written + len(chunk) > target:
                # Stop at the last line end within the target (never mid-character).
                chunk = chunk[: target - written]
                chunk = chunk[: chunk.rfind(b"\n") + 1]
                target = written + len(chunk)
            f.write(chunk)
            written += len(chunk)
    return 0


if __name__ == "__main__":
    sys.exit(main())
