"""Parses a message with Python's email package and prints what a reader sees.

One fact per line, tab-separated: "header<TAB>name<TAB>decoded value",
"addr<TAB>header<TAB>display<TAB>addr_spec", "part<TAB>type<TAB>cte<TAB>charset<TAB>filename<TAB>hex payload",
"defects<TAB>count". Used by the message unit tests as an independent reader.
"""
import email
import email.policy
import sys


def main():
    data = open(sys.argv[1], 'rb').read()
    msg = email.message_from_bytes(data, policy=email.policy.default)
    defects = len(msg.defects)
    for name in ('From', 'To', 'Cc', 'Bcc', 'Subject', 'MIME-Version'):
        v = msg.get(name)
        if v is None:
            continue
        print('header\t%s\t%s' % (name, str(v)))
        if name in ('From', 'To', 'Cc', 'Bcc'):
            for a in v.addresses:
                print('addr\t%s\t%s\t%s' % (name, a.display_name, a.addr_spec))
    for part in msg.walk():
        defects += len(part.defects)
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b''
        print('part\t%s\t%s\t%s\t%s\t%s' % (
            part.get_content_type(), part.get('Content-Transfer-Encoding', ''),
            part.get_content_charset() or '', part.get_filename() or '', payload.hex()))
    print('defects\t%d' % defects)


main()
