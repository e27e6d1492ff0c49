"""What pickup stores, by the rules of src/message/smtp_safe.hpp, written
again from the documentation (not from the C++): the tests compare the
queue file with what these functions say it must hold.

The order of the steps follows the documentation: the parser turns any run
of CRs before an LF into the line end (header.hpp); then a bare CR (one
not right before an LF, a NUL in between counts) becomes a space in a
header field and a line break in the body; then NUL bytes go; a non-empty
body gets a final line break; a body line over 998 octets gets the body
(or the leaf part) re-encoded as quoted-printable.
"""

import email
import email.policy
import re

LIMIT = 998  # RFC 5321 4.5.3.1.6, without the CRLF

REENCODABLE = (None, "7bit", "8bit", "binary")


def crlf_to_lf(data):
    """Any run of CRs before an LF is part of the line end."""
    return re.sub(rb"\r+\n", b"\n", data)


def header_field(raw):
    """A header field as stored (no over-long lines in RAW): bare CR to a
    space, NUL removed."""
    return crlf_to_lf(raw).replace(b"\r", b" ").replace(b"\0", b"")


def body_text(body):
    """The body before any re-encoding: bare CR to LF, NUL removed, a final
    LF when the body is not empty and lacks one."""
    body = crlf_to_lf(body).replace(b"\r", b"\n").replace(b"\0", b"")
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return body


def longest_line(data):
    return max((len(line) for line in data.split(b"\n")), default=0)


def needs_reencoding(body):
    return longest_line(body) > LIMIT


def eight_bit(data):
    return any(c >= 0x80 for c in data)


def expected_body_type(b_option, stored_body):
    """The envelope's body: the -B value when given, else 8BITMIME when the
    stored body holds an 8-bit byte, else none."""
    if b_option:
        return b_option.upper()
    return "8BITMIME" if eight_bit(stored_body) else None


def transfer_encoding(fields):
    """The Content-Transfer-Encoding of [(name, raw)] (lower case), or None."""
    for name, raw in fields:
        if name.lower() == "content-transfer-encoding":
            return raw.split(b":", 1)[1].strip().decode("latin-1").lower()
    return None


def content_type(fields):
    for name, raw in fields:
        if name.lower() == "content-type":
            return raw.split(b":", 1)[1].strip().split(b";")[0].strip().decode().lower()
    return None


def parse_stored(message):
    """The stored message as an email.message.Message (bytes kept)."""
    return email.message_from_bytes(message, policy=email.policy.compat32)


def decoded_payload(part):
    """The decoded payload of a non-multipart email Message."""
    return part.get_payload(decode=True)


def all_lines_fit(data):
    return all(len(line) <= LIMIT for line in data.split(b"\n"))


def charset_for(body):
    """The charset of the text/plain Content-Type added to a re-encoded
    body that had none: us-ascii, utf-8, or unknown-8bit (RFC 1428)."""
    if not eight_bit(body):
        return "us-ascii"
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "unknown-8bit"
