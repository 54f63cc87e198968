"""Statement retries of errors a node that has just rejoined returns under load (seen in the scale tests)."""

from cassandra import ReadFailure
from cassandra.protocol import ErrorMessage

from capillaries_provider.retry import CAS_WRITE_UNKNOWN, statement_delay_s


def test_a_read_failure_and_an_unknown_cas_result_are_retried_and_other_server_errors_are_not() -> None:
    cas_unknown = ErrorMessage(CAS_WRITE_UNKNOWN, "CAS operation result is unknown", None)
    assert statement_delay_s(ReadFailure("received 0 responses and 1 failures"), 1) is not None
    assert statement_delay_s(cas_unknown, 1) is not None
    assert statement_delay_s(ErrorMessage(0x2200, "syntax", None), 1) is None
