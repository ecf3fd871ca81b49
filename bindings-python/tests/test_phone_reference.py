"""Differential test of ``leadroute.normalize_phone`` against libphonenumber.

The reference is Python ``phonenumbers==9.0.33`` (libphonenumber's metadata 9.0.33, the same
as the Rust ``phonenumber`` crate leadroute derives its NANP table from), called exactly as a
user would: ``phonenumbers.parse(raw, region)``, then ``is_valid_number`` and E.164
formatting. leadroute must agree on (valid?, E.164) for:

- every phone in the corpus (``../shared/data/corpus`` when present, else the vendored
  ``data/corpus``): providers A and B (JSON) and C (CSV);
- every example number libphonenumber ships, for every supported region and number type,
  rendered as E.164, in international format, and in national format parsed with its region;
- near-misses of those example numbers and random national numbers for every country code,
  written ``+<code> <number>`` (what the international fast path decides);
- every line of ``data/tricky_phones.txt``;
- a word after a number (``ext``, ``x``, ``extension``, ...), with and without digits after
  it, for several numbers and formats (``trailing_word_cases``).

A disagreement is allowed only when listed in ``POLICIES`` with the reason it is deliberate.
"""

from __future__ import annotations

import csv
import json
import pathlib

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

import leadroute

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED = ROOT.parent / "shared" / "data" / "corpus"
CORPUS = SHARED if (SHARED / "provider_a.jsonl").exists() else ROOT / "data" / "corpus"
TRICKY = HERE / "data" / "tricky_phones.txt"

Result = tuple[bool, "str | None"]

# Deliberate differences from libphonenumber: (raw input, region) -> reason. leadroute's
# answer for these is checked to be the one given here.
POLICIES: dict[tuple[str, str], tuple[Result, str]] = {
    ("317-863-8426 x 6330 / x 7000", "US"): (
        (True, "+13178638426"),
        "libphonenumber cuts the second number at '/ x' but keeps the space before it, so its"
        " extension pattern (anchored at the end) no longer matches and the extension digits"
        " run into the number, which becomes too long; leadroute keeps the first number and"
        " its extension 6330, which is what the writer meant.",
    ),
}


def reference(raw: str, region: str) -> Result:
    """(valid?, E.164) per libphonenumber."""
    try:
        n = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return (False, None)
    if not phonenumbers.is_valid_number(n):
        return (False, None)
    return (True, phonenumbers.format_number(n, PhoneNumberFormat.E164))


def ours(raw: str, region: str) -> Result:
    try:
        return (True, leadroute.normalize_phone(raw, region))
    except leadroute.InvalidPhoneError:
        return (False, None)


def disagreements(cases: list[tuple[str, str]]) -> list[tuple[str, str, Result, Result]]:
    out = []
    for raw, region in cases:
        got, want = ours(raw, region), reference(raw, region)
        policy = POLICIES.get((raw, region))
        if policy is not None:
            assert got == policy[0], (raw, region, got, policy)
            continue
        if got != want:
            out.append((raw, region, got, want))
    return out


def corpus_phones() -> list[str]:
    phones = []
    for name, key in (("provider_a.jsonl", "phone"), ("provider_b.jsonl", "PhoneNumber")):
        for line in (CORPUS / name).read_text().splitlines():
            value = json.loads(line).get(key)
            if value is not None:
                phones.append(str(value))
    with (CORPUS / "provider_c.csv").open(newline="") as f:
        phones.extend(row["phone1"] for row in csv.DictReader(f) if row.get("phone1"))
    return phones


def example_cases() -> list[tuple[str, str]]:
    cases = []
    types = [getattr(PhoneNumberType, t) for t in dir(PhoneNumberType) if t.isupper()]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for t in types:
            n = phonenumbers.example_number_for_type(region, t)
            if n is None:
                continue
            cases.append((phonenumbers.format_number(n, PhoneNumberFormat.E164), "US"))
            cases.append((phonenumbers.format_number(n, PhoneNumberFormat.INTERNATIONAL), "US"))
            cases.append((phonenumbers.format_number(n, PhoneNumberFormat.NATIONAL), region))
    return cases


def international_variants() -> list[tuple[str, str]]:
    """``+<code> <NSN>`` near every example number, and random NSNs for every country code.

    These are what leadroute's international fast path decides (see ``core/src/phone/intl.rs``):
    each example NSN with its last digit dropped, changed or doubled, with each first digit,
    and with one more digit; 40 pseudo-random NSNs of 4 to 14 digits per code; and 20,000
    example NSNs with up to three digits changed, one dropped or added, some after a
    national prefix (`0`, `00`, `80`, `8`, `1`, `11`).
    """
    import random

    rng = random.Random(20261121)
    types = [getattr(PhoneNumberType, t) for t in dir(PhoneNumberType) if t.isupper()]
    cases = set()
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for t in types:
            n = phonenumbers.example_number_for_type(region, t)
            if n is None:
                continue
            cc = n.country_code
            nsn = phonenumbers.national_significant_number(n)
            variants = {nsn[:-1], nsn + nsn[-1], nsn[:-1] + str((int(nsn[-1]) + 1) % 10)}
            variants |= {str(d) + nsn[1:] for d in range(10)}
            variants |= {nsn + str(d) for d in (0, 5)}
            for v in variants:
                cases.add((f"+{cc} {v}", "US"))
                cases.add((f"+{cc}-{v[:3]}-{v[3:]}", "GB"))
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    for cc in codes:
        for _ in range(40):
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 14)))
            cases.add((f"+{cc}{digits}", "US"))
    # Mutated example numbers (about half stay valid), some after a national prefix.
    examples = sorted({(cc, nsn) for (cc, nsn) in (_example_nsns())})
    for _ in range(20_000):
        cc, nsn = rng.choice(examples)
        d = list(nsn)
        for _ in range(rng.randint(0, 3)):
            d[rng.randrange(len(d))] = rng.choice("0123456789")
        if rng.random() < 0.2:
            del d[rng.randrange(len(d))]
        if rng.random() < 0.2:
            d.insert(rng.randrange(len(d)), rng.choice("0123456789"))
        v = "".join(d)
        if rng.random() < 0.2:
            v = rng.choice(["0", "00", "80", "8", "1", "11"]) + v
        sep = rng.choice(["", " ", "-", "."])
        cases.add((f"+{cc}{sep}{v}" if rng.random() < 0.7 else f"tel:+{cc}-{v}", "US"))
    return sorted(cases)


def _example_nsns() -> list[tuple[int, str]]:
    types = [getattr(PhoneNumberType, t) for t in dir(PhoneNumberType) if t.isupper()]
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for t in types:
            n = phonenumbers.example_number_for_type(region, t)
            if n is not None and n.country_code is not None:
                out.append((n.country_code, phonenumbers.national_significant_number(n)))
    return out


def tricky_cases() -> list[tuple[str, str]]:
    cases = []
    for line in TRICKY.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        raw, _, region = line.partition(" ||| ")
        cases.append((raw, region.strip() or "US"))
    return cases


# A word written after a number, with and without digits after it (issue 11): libphonenumber
# cuts an extension only when digits follow its label; a label with no digits stays in the
# number, where three or more letters make it a vanity number (`212-555-1234 ext` is
# 2125551234398, too long), one or two are dropped (`x`), and `,` or `#` make it no number.
TRAILING_NUMBERS = [
    ("(212)555-1234", "US"),
    ("(212) 555-1234", "US"),
    ("212-555-1234", "US"),
    ("212.555.1234", "US"),
    ("2125551234", "US"),
    ("+1 212 555 1234", "US"),
    ("1-317-863-8426", "US"),
    ("(254) 240-1519", "US"),
    ("+44 20 7031 3000", "US"),
    ("020 7031 3000", "GB"),
    ("1-800-FLOWERS", "US"),
]
TRAILING_WORDS = ["ext", "ext.", "x", "X", "extension", "EXT", "Ext.", "Ext:", "extn", "xt", "int", "#", "~"]
TRAILING_SEPARATORS = ["", " ", ", ", "\u00a0"]
TRAILING_TAILS = ["", "5", " 55", " 1234#", ".", " -"]


def trailing_word_cases() -> list[tuple[str, str]]:
    """Every number x word x separator before it x what follows it (digits or not)."""
    return [
        (number + sep + word + tail, region)
        for number, region in TRAILING_NUMBERS
        for word in TRAILING_WORDS
        for sep in TRAILING_SEPARATORS
        for tail in TRAILING_TAILS
    ]


def test_corpus_phones_agree() -> None:
    phones = corpus_phones()
    assert len(phones) >= 5_900
    cases = [(p, "US") for p in phones]
    assert disagreements(cases) == []
    print(f"corpus: {len(cases)} inputs, 0 disagreements")


def test_example_numbers_of_every_region_agree() -> None:
    cases = example_cases()
    assert len(cases) > 3_000
    assert disagreements(cases) == []
    print(f"example numbers: {len(cases)} inputs, 0 disagreements")


def test_international_variants_agree() -> None:
    cases = international_variants()
    assert len(cases) > 40_000
    assert disagreements(cases) == []
    print(f"international variants: {len(cases)} inputs, 0 disagreements")


def test_tricky_inputs_agree() -> None:
    cases = tricky_cases()
    assert len(cases) > 100
    assert disagreements(cases) == []
    print(f"tricky inputs: {len(cases)} inputs, {len(POLICIES)} deliberate policies")


def test_trailing_words_agree() -> None:
    cases = trailing_word_cases()
    assert len(cases) > 3_000
    assert disagreements(cases) == []
    # Both readings occur: a word with no digits makes the number invalid, with digits it
    # is an extension.
    assert ours("(212)555-1234 ext", "US") == (False, None)
    assert ours("(212)555-1234 ext 55", "US") == (True, "+12125551234")
    print(f"trailing words: {len(cases)} inputs, 0 disagreements")


@pytest.mark.parametrize(
    "raw", ["317-863-8426", "+1 (317) 863-8426 x12", "１-８００-FLOWERS", "tel:+1-317-863-8426"]
)
def test_idempotent(raw: str) -> None:
    e164 = leadroute.normalize_phone(raw)
    assert leadroute.normalize_phone(e164) == e164
