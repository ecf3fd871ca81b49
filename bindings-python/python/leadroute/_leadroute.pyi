"""Type stubs for the ``leadroute._leadroute`` extension module (hand-written).

``tests/test_stubs.py`` runs ``mypy.stubtest`` to keep this file equal to the module.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, final

from .errors import InvalidPhoneError

__all__ = [
    "__version__",
    "normalize_phone",
    "normalize_phones",
    "normalize_email",
    "hash_api_key",
    "RouteMatch",
    "RoutingTable",
    "IngestOutcome",
    "Engine",
]

__version__: str

_JsonDict = dict[str, Any]
_Record = Mapping[str, Any] | str | bytes | bytearray
_Headers = Mapping[str, str] | Iterable[tuple[str, str]]

def normalize_phone(raw: str, region: str = "US", *, strict: bool = False) -> str:
    """E.164 for ``raw``; raises ``InvalidPhoneError`` (a ``ValueError``)."""

def normalize_phones(
    raws: Iterable[str], region: str = "US", *, strict: bool = False
) -> list[str | InvalidPhoneError]:
    """One E.164 string or ``InvalidPhoneError`` (returned, not raised) per input."""

def normalize_email(raw: str) -> str:
    """Trimmed, lowercased, syntax-checked email; raises ``ValidationError``."""

def hash_api_key(key: str) -> str:
    """``"sha256:<64 hex>"``, the stored form of a provider API key."""

@final
class RouteMatch:
    """The rule a routing decision chose."""

    @property
    def workspace_id(self) -> str: ...
    @property
    def rule_id(self) -> int: ...
    @property
    def priority(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class RoutingTable:
    """A compiled routing table from rule dicts (every named workspace is active)."""

    def __new__(
        cls, rules: Sequence[Mapping[str, Any]], *, products: Sequence[str] | None = None
    ) -> RoutingTable: ...
    def route(self, product: str, zip: str) -> RouteMatch | None: ...
    def route_many(self, pairs: Iterable[tuple[str, str]]) -> list[RouteMatch | None]: ...
    def explain(self, product: str, zip: str) -> _JsonDict: ...
    @property
    def rule_count(self) -> int: ...
    @property
    def products(self) -> list[str]: ...

@final
class IngestOutcome:
    """What became of one ingested record."""

    @property
    def status(self) -> str: ...
    @property
    def record_key(self) -> str: ...
    @property
    def lead_id(self) -> int | None: ...
    @property
    def contact_id(self) -> int | None: ...
    @property
    def new_contact(self) -> bool | None: ...
    @property
    def duplicate_of(self) -> int | None: ...
    @property
    def rejection_id(self) -> int | None: ...
    @property
    def rejection_codes(self) -> list[str]: ...
    @property
    def rejection_details(self) -> list[str]: ...
    @property
    def appointment_id(self) -> int | None: ...
    @property
    def routing(self) -> str | None: ...
    @property
    def workspace_id(self) -> str | None: ...
    @property
    def rule_id(self) -> int | None: ...
    @property
    def unrouted_reason(self) -> str | None: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def trace(self) -> _JsonDict | None: ...
    @property
    def accepted(self) -> bool: ...
    def to_dict(self) -> _JsonDict: ...

@final
class Engine:
    """The leadroute engine over a SQLite database; create it with ``Engine.open``."""

    @staticmethod
    def open(
        path: str = "leadroute.db",
        *,
        require_phone: bool = True,
        tie_policy: str = "lowest_id",
        dedup_scope: str = "provider",
        default_region: str = "US",
        duplicate_window_days: int = 30,
        gmail_rules: bool = False,
        delivery_workers: int = 8,
        request_timeout: float = 15.0,
        extra_products: Sequence[str] | None = None,
        product_aliases: Mapping[str, str] | None = None,
        required_fields: str | Mapping[str, Sequence[str]] | None = None,
    ) -> Engine: ...
    @property
    def path(self) -> str: ...
    def configure(
        self,
        *,
        providers: Sequence[Mapping[str, Any]] | None = None,
        workspaces: Sequence[Mapping[str, Any]] | None = None,
        rules: Sequence[Mapping[str, Any]] | None = None,
        webhook_base: str | None = None,
        webhooks: Sequence[Mapping[str, Any]] | None = None,
    ) -> None: ...
    def add_providers(self, providers: Sequence[Mapping[str, Any]]) -> None: ...
    def add_workspaces(
        self, workspaces: Sequence[Mapping[str, Any]], *, webhook_base: str | None = None
    ) -> None: ...
    def add_webhooks(self, webhooks: Sequence[Mapping[str, Any]]) -> None: ...
    def provider_usage(self, provider_id: str) -> list[_JsonDict]: ...
    def add_rules(self, rules: Sequence[Mapping[str, Any]]) -> None: ...
    def ingest(
        self,
        provider_id: str,
        record: _Record,
        *,
        api_key: str | None = None,
        headers: _Headers | None = None,
        webhook_id: str | None = None,
    ) -> IngestOutcome: ...
    def ingest_many(
        self,
        provider_id: str,
        records: Iterable[_Record],
        *,
        api_key: str | None = None,
        headers: _Headers | None = None,
        webhook_id: str | None = None,
        batch_size: int = 1000,
    ) -> list[IngestOutcome]: ...
    def ingest_body(
        self,
        provider_id: str,
        body: str | bytes | bytearray,
        *,
        api_key: str | None = None,
        headers: _Headers | None = None,
        webhook_id: str | None = None,
        batch_size: int = 1000,
    ) -> list[IngestOutcome]: ...
    def deliver_due(self, limit: int | None = None) -> dict[str, int]: ...
    def counts(self) -> dict[str, int]: ...
    def unrouted(self, limit: int = 100, *, after: int = 0) -> list[_JsonDict]: ...
    def appointment(self, id: int) -> _JsonDict | None: ...
    def lead(self, id: int) -> _JsonDict | None: ...
    def contact(self, id: int) -> _JsonDict | None: ...
    def billing_summary(
        self, *, since: datetime | str | None = None, until: datetime | str | None = None
    ) -> _JsonDict: ...
    def explain(self, product: str, zip: str) -> _JsonDict: ...
    def reroute_unrouted(self, *, batch: int = 500) -> _JsonDict: ...
    def backtest(self, rules: Sequence[Mapping[str, Any]]) -> _JsonDict: ...
    def assign_manually(self, appointment_id: int, workspace_id: str, note: str = "") -> None: ...
