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
