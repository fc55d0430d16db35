"""The audit log: one signed, chained JSON line per search and document read, in $CLEARANCE_DATA_DIR/audit/.

records.py builds a record from what the request found; log.py (`AuditLog`) chains, signs and writes it
before the response leaves (if it cannot, nothing leaves: 503); chain.py holds the rules the writer and
verify.py (`clearance audit verify`) share; keys.py reads the key file; segments.py reads segment files.
The format, the threat model and the settings: docs/audit.md.
"""

from retrieval.audit.keys import Keyring, verifying_keyring, writing_keyring
from retrieval.audit.log import AuditLog, AuditOptions
from retrieval.audit.records import RequestRef, document_record, search_record
from retrieval.audit.verify import VerifyReport, verify_log

__all__ = [
    "AuditLog",
    "AuditOptions",
    "Keyring",
    "RequestRef",
    "VerifyReport",
    "document_record",
    "search_record",
    "verify_log",
    "verifying_keyring",
    "writing_keyring",
]
