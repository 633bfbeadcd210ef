package anthropic

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanTextDelta reads the one shape a text delta has on the wire,
//
//	{"type":"content_block_delta","index":N,"delta":{"type":"text_delta","text":"…"}}
//
// with its keys in any order and any whitespace between tokens. Anything
// else (another key, a value of another type, a malformed string, invalid
// UTF-8) returns
// ok false, and the caller decodes the event the general way.
//
// The delta's text is returned as text, not in ev: it is a slice of data,
// or of *scratch when it has escapes (decoded there, so that a delta costs
// no allocation), valid until data or *scratch change.
func scanTextDelta(data []byte, scratch *[]byte) (ev textDeltaEvent, text []byte, ok bool) {
	if !utf8.Valid(data) {
		return ev, nil, false
	}
	s := scanner{data: data}
	var seenType, seenIndex, seenDelta bool
	ok = s.object(func(key string) bool {
		switch key {
		case "type":
			seenType = true
			ev.Type, ok = s.str()
			return ok
		case "index":
			seenIndex = true
			ev.Index, ok = s.integer()
			return ok
		case "delta":
			seenDelta = true
			var seenDT, seenText bool
			ok := s.object(func(key string) bool {
				switch key {
				case "type":
					seenDT = true
					ev.Delta.Type, ok = s.str()
					return ok
				case "text":
					seenText = true
					text, ok = s.bytes(scratch)
					return ok
				}
				return false
			})
			return ok && seenDT && seenText
		}
		return false
	})
	s.space()
	return ev, text, ok && seenType && seenIndex && seenDelta && s.pos == len(data)
}

// scanner is a cursor over JSON text for scanTextDelta.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) consume(c byte) bool {
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// object reads {"key": value, …}, handing each key to field, which reads
// the value; a key seen twice is refused.
func (s *scanner) object(field func(key string) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	var seenKeys [4]string // a text delta's object has at most four keys
	seen := seenKeys[:0]
	for {
		s.space()
		key, ok := s.str()
		if !ok || !s.consume(':') {
			return false
		}
		for _, k := range seen {
			if k == key {
				return false
			}
		}
		seen = append(seen, key)
		s.space()
		if !field(key) {
			return false
		}
		if s.consume('}') {
			return true
		}
		if !s.consume(',') {
			return false
		}
	}
}

// integer reads a non-negative JSON integer that fits an int.
func (s *scanner) integer() (int, bool) {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	digits := string(s.data[start:s.pos])
	if digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// str reads a JSON string.
func (s *scanner) str() (string, bool) {
	b, ok := s.bytes(nil)
	if !ok {
		return "", false
	}
	return knownOrCopy(b), true
}

// bytes reads a JSON string: a slice of the data when it has no escapes,
// else its decoded bytes in *scratch (reused; a fresh slice when scratch
// is nil).
func (s *scanner) bytes(scratch *[]byte) ([]byte, bool) {
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return nil, false
	}
	s.pos++
	start := s.pos
	// The common case: no escapes.
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '"' {
			v := s.data[start:s.pos]
			s.pos++
			return v, true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, false
		}
		s.pos++
	}
	var b []byte
	if scratch != nil {
		b = (*scratch)[:0]
		defer func() { *scratch = b[:0] }() // keep what it grew to
	}
	b = append(b, s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return b, true
		case c < 0x20:
			return nil, false
		case c != '\\':
			b = append(b, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.data) {
			return nil, false
		}
		esc := s.data[s.pos+1]
		s.pos += 2
		switch esc {
		case '"', '\\', '/':
			b = append(b, esc)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, false
			}
			if utf16.IsSurrogate(r) {
				// Only a pair makes a rune; a lone half is left to the
				// general decoder.
				if s.pos+1 >= len(s.data) || s.data[s.pos] != '\\' || s.data[s.pos+1] != 'u' {
					return nil, false
				}
				s.pos += 2
				r2, ok := s.hex4()
				if !ok {
					return nil, false
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return nil, false
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

// knownStrings are the keys and type names every text delta repeats.
var knownStrings = [...]string{"type", "index", "delta", "text", "content_block_delta", "text_delta"}

// knownOrCopy is b as a string: one of knownStrings, which costs no
// allocation for the hundreds of events of a long answer, or a copy.
func knownOrCopy(b []byte) string {
	for _, k := range knownStrings {
		if string(b) == k {
			return k
		}
	}
	return string(b)
}

func (s *scanner) hex4() (rune, bool) {
	if s.pos+4 > len(s.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s.data[s.pos:s.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.pos += 4
	return rune(n), true
}
