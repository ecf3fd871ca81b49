"""Type stubs for the ``leadroute._leadroute`` extension module (hand-written)."""

__version__: str

def normalize_phone(raw: str, region: str = "US") -> str:
    """E.164 for ``raw``; raises ``InvalidPhoneError`` (a ``ValueError``)."""

def normalize_email(raw: str) -> str:
    """Trimmed, lowercased, syntax-checked email; raises ``ValidationError``."""
