// rfc2047.hpp - encoded-words for non-ASCII header text (RFC 2047).
//
// encode_header_text() turns a Subject (or any unstructured text) that has
// non-ASCII bytes into a run of encoded-words separated by spaces, so that
// Message::add() can fold between them. Text that is plain ASCII comes back
// unchanged, unless it holds "=?" (which a reader would try to decode).
// The charset is UTF-8 when the text is valid UTF-8; otherwise the bytes
// are labelled unknown-8bit (RFC 1428) rather than guessed at. Each word
// is at most 75 characters, never splits a UTF-8 character, and uses Q or
// B, whichever is shorter for the whole text. Q uses the strict "phrase"
// alphabet (RFC 2047 section 5 (3)), so the same words are valid in a
// display name. CR, LF and NUL in the input become spaces.
//
// decode_header_text() decodes encoded-words for display: adjacent words
// are joined (the white space between them dropped), utf-8 and us-ascii
// pass through, iso-8859-1 / latin1 are converted to UTF-8 (windows-1252
// is read as latin1), other charsets give their raw bytes. Malformed words
// stay as written. Line breaks are unfolded, and CR, LF or NUL decoded
// from a word become spaces: the result is safe to log.
// Both run in time linear in their input.
#pragma once

#include <string>
#include <string_view>

namespace relay::message {

// FIRST_COLUMN: where the text starts on its line ("Subject: " = 9), so
// that the first word keeps that line within 76 columns.
std::string encode_header_text(std::string_view text, size_t first_column = 0);

// A display name as a phrase: atoms as they are, a quoted-string when it
// holds specials, encoded-words when it is not ASCII.
std::string encode_phrase(std::string_view display);

// "Display <address>" (or the bare address when DISPLAY is empty), with
// the display name encoded by encode_phrase().
std::string format_mailbox(std::string_view display, std::string_view address);

std::string decode_header_text(std::string_view text);

}  // namespace relay::message
