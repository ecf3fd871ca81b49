"""The exception classes: hierarchy, attributes, pickling, and the mapping from Rust errors."""

from __future__ import annotations

import pickle

import pytest

import leadroute
from leadroute import errors

CLASSES = [
    leadroute.InvalidPhoneError,
    leadroute.ValidationError,
    leadroute.UnauthorizedError,
    leadroute.ForbiddenError,
    leadroute.RateLimitedError,
    leadroute.NotFoundError,
    leadroute.ConflictError,
    leadroute.StorageError,
]


def test_hierarchy() -> None:
    assert set(errors.__all__) == {c.__name__ for c in CLASSES} | {"LeadrouteError"}
    for cls in CLASSES:
        assert issubclass(cls, leadroute.LeadrouteError)
        assert cls.__module__ == "leadroute.errors"
        assert cls.__doc__
    assert issubclass(leadroute.InvalidPhoneError, ValueError)
    assert issubclass(leadroute.ValidationError, ValueError)
    assert issubclass(leadroute.NotFoundError, LookupError)
    for cls in (
        leadroute.UnauthorizedError,
        leadroute.ForbiddenError,
        leadroute.ConflictError,
        leadroute.StorageError,
    ):
        assert not issubclass(cls, ValueError)


def test_attributes_and_pickling() -> None:
    samples = [
        leadroute.LeadrouteError("boom", "internal"),
        leadroute.InvalidPhoneError("phone number is too short", "too_short"),
        leadroute.ValidationError("bad", "invalid_zip", field="zip"),
        leadroute.RateLimitedError("slow down", "rate_limited", retry_after=2.5),
        leadroute.NotFoundError('unknown provider "x"', "unknown_provider"),
    ]
    for e in samples:
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is type(e) and str(back) == str(e) and back.code == e.code
    assert pickle.loads(pickle.dumps(samples[2])).field == "zip"
    assert pickle.loads(pickle.dumps(samples[3])).retry_after == 2.5
    assert leadroute.RateLimitedError("x").retry_after is None
    assert leadroute.ValidationError("x").field is None


@pytest.mark.parametrize(
    ("raw", "region", "code"),
    [
        ("", "US", "empty"),
        ("   ", "US", "empty"),
        ("hello", "US", "not_a_number"),
        ("555", "US", "invalid_number"),
        ("+1 317 863 8426 1234 5678 9012", "US", "too_long"),
        ("+999 1234 5678", "US", "invalid_country_code"),
        ("317-863-8426", "ZZ", "unknown_region"),
    ],
)
def test_phone_errors_keep_code_and_cause(raw: str, region: str, code: str) -> None:
    with pytest.raises(leadroute.InvalidPhoneError) as e:
        leadroute.normalize_phone(raw, region)
    assert e.value.code == code
    assert str(e.value)  # the Rust message


def test_strict_policy() -> None:
    assert leadroute.normalize_phone("212-555-0123") == "+12125550123"
    with pytest.raises(leadroute.InvalidPhoneError) as e:
        leadroute.normalize_phone("212-555-0123", strict=True)
    assert e.value.code == "fictional"
    with pytest.raises(leadroute.InvalidPhoneError) as e:
        leadroute.normalize_phone("317-911-8426", strict=True)
    assert e.value.code == "n11_exchange"
    assert leadroute.normalize_phone("317-863-8426", strict=True) == "+13178638426"


def test_normalize_phones_returns_errors_in_place() -> None:
    out = leadroute.normalize_phones(["317 863 8426", "555", "", "+44 20 7031 3000"])
    assert out[0] == "+13178638426" and out[3] == "+442070313000"
    assert isinstance(out[1], leadroute.InvalidPhoneError) and out[1].code == "invalid_number"
    assert isinstance(out[2], leadroute.InvalidPhoneError) and out[2].code == "empty"
    assert leadroute.normalize_phones(iter(["020 7031 3000"]), "GB") == ["+442070313000"]
    assert leadroute.normalize_phones([]) == []
    with pytest.raises(TypeError):
        leadroute.normalize_phones([3178638426])  # type: ignore[list-item]


def test_email_errors() -> None:
    with pytest.raises(leadroute.ValidationError) as e:
        leadroute.normalize_email("  ")
    assert (e.value.code, e.value.field) == ("empty", "email")
