"""The extension module against the reference implementation, Python ``phonenumbers``."""

from __future__ import annotations

import json
import pathlib

import phonenumbers
import pytest

import leadroute

CORPUS = pathlib.Path(__file__).resolve().parents[2] / "data" / "corpus"


def reference(raw: str, region: str = "US") -> str | None:
    """E.164 per libphonenumber, or None when it is not a valid number."""
    try:
        text = raw.strip()
        plus = text.lstrip().removeprefix("tel:").lstrip().startswith("+")
        n = phonenumbers.parse(text, None if plus else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(n):
        return None
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


def ours(raw: str) -> str | None:
    try:
        return leadroute.normalize_phone(raw)
    except leadroute.InvalidPhoneError:
        return None


def test_version_and_exports() -> None:
    assert leadroute.__version__.count(".") == 2
    assert set(leadroute.__all__) >= {"normalize_phone", "LeadrouteError"}


def test_examples() -> None:
    assert leadroute.normalize_phone("(254) 240-1519 ext. 313") == "+12542401519"
    assert leadroute.normalize_phone("tel:+1-740-735-8616") == "+17407358616"
    assert leadroute.normalize_phone("020 7031 3000", region="GB") == "+442070313000"
    assert leadroute.normalize_email(" JADE99@EXAMPLE.NET ") == "jade99@example.net"


def test_errors_are_typed_value_errors_with_codes() -> None:
    with pytest.raises(leadroute.InvalidPhoneError) as e:
        leadroute.normalize_phone("555")
    assert isinstance(e.value, ValueError) and isinstance(e.value, leadroute.LeadrouteError)
    assert e.value.code == "invalid_number"
    with pytest.raises(ValueError) as e2:
        leadroute.normalize_phone("")
    assert e2.value.code == "empty"  # type: ignore[attr-defined]
    with pytest.raises(leadroute.ValidationError) as e3:
        leadroute.normalize_email("a@")
    assert (e3.value.code, e3.value.field) == ("invalid_email", "email")


def corpus_phones() -> list[str]:
    phones = []
    for name, key in (("provider_a.jsonl", "phone"), ("provider_b.jsonl", "PhoneNumber")):
        for line in (CORPUS / name).read_text().splitlines():
            value = json.loads(line).get(key)
            if isinstance(value, str):
                phones.append(value)
    return phones


def test_every_corpus_phone_agrees_with_libphonenumber() -> None:
    phones = corpus_phones()
    assert len(phones) > 4000
    disagreements = [(p, ours(p), reference(p)) for p in phones if ours(p) != reference(p)]
    assert disagreements == []
    assert sum(ours(p) is None for p in phones) > 100  # the corpus's invalid numbers
