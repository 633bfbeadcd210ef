package sandbox

import "unicode/utf8"

// requestKeys lists the keys of a JSON object's top level and, when its
// "messages" member is an array, of each object in it, exactly as written.
// It reads text that encoding/json has already accepted, in one pass
// without decoding values; ok is false for anything it does not expect,
// and the caller then checks the long way.
func requestKeys(body []byte) (top []string, turns [][]string, ok bool) {
	s := keyScanner{b: body}
	ok = s.object(func(key string) bool {
		top = append(top, key)
		if key != "messages" || s.peek() != '[' {
			return s.skip()
		}
		s.i++ // [
		if s.peek() == ']' {
			s.i++
			return true
		}
		for {
			var keys []string
			if s.peek() != '{' {
				return false
			}
			if !s.object(func(k string) bool { keys = append(keys, k); return s.skip() }) {
				return false
			}
			turns = append(turns, keys)
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	})
	return top, turns, ok
}

type keyScanner struct {
	b []byte
	i int
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *keyScanner) peek() byte {
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return c
		}
	}
	return 0
}

// object reads {"key": value, …}, calling member after each key and its
// colon to read the value.
func (s *keyScanner) object(member func(key string) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		start := s.i + 1
		if !s.skipString() {
			return false
		}
		raw := s.b[start : s.i-1]
		for _, c := range raw {
			if c == '\\' || c >= utf8.RuneSelf {
				return false // an escaped or non-ASCII key: leave it to the long way
			}
		}
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.peek()
		if !member(string(raw)) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// skipString moves past a string starting at s.i.
func (s *keyScanner) skipString() bool {
	s.i++ // opening quote
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return true
		default:
			s.i++
		}
	}
	return false
}

// skip moves past one value of any kind.
func (s *keyScanner) skip() bool {
	switch s.peek() {
	case '"':
		return s.skipString()
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if !s.skipString() {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	case 0:
		return false
	default: // number, true, false, null
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return true
			}
			s.i++
		}
		return true
	}
}

// decodeString decodes data, one JSON value that encoding/json has already
// accepted, when it is a string with no escapes but the common ones (\"
// \\ \/ \b \f \n \r \t) and valid UTF-8: what encoding/json would give,
// in one pass. ok is false for any other value or string, which the
// caller then decodes the long way.
func decodeString(data []byte) (s string, ok bool) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return "", false
	}
	body := data[1 : len(data)-1]
	plain := true
	for _, c := range body {
		if c == '\\' || c == '"' || c < ' ' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(body), true
	}
	if !utf8.Valid(body) {
		return "", false
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '"' || c < ' ':
			return "", false // not one valid string
		case c != '\\':
			out = append(out, c)
			continue
		}
		i++
		if i == len(body) {
			return "", false
		}
		switch body[i] {
		case '"', '\\', '/':
			out = append(out, body[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		default:
			return "", false // \u and anything else: the long way
		}
	}
	return string(out), true
}
