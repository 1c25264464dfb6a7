"""Wire models for requests (strict in) and the parsing that turns bodies into them.

Imports none of our other packages; outputs follow the openai SDK's types field for field.
"""

from thinkgate.protocol.parsing import parse_body, validation_error_to_client_error

__all__ = ["parse_body", "validation_error_to_client_error"]
