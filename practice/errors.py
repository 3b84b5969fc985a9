class DomainError(Exception):
    """A business rule said no. Views show the message; the API answers 409 (or 400 with a field)."""

    status_code = 409

    def __init__(self, message: str, *, field: str | None = None, code: str = "conflict") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
