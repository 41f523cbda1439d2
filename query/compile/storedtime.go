package compile

import "time"

// storedTime reads a stored string as parseTime does in ClickHouse: the
// instant in microseconds, and ok false where parseTime gives NULL (a string
// timePattern does not match, or an impossible day like 2023-02-30). The
// calendar is the proleptic Gregorian one, a fraction is cut (not rounded)
// to microseconds, and no zone means UTC, as the server reads them. sure is
// false for an instant outside [timeMin, timeMax], which only an offset can
// make and which Match leaves to the server.
func storedTime(s string) (us int64, ok, sure bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, false, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || year < 1 || month < 1 || month > 12 || day < 1 || day > 31 {
		return 0, false, false
	}
	var hour, minute, second, frac, offset int
	if rest := s[10:]; rest != "" {
		if len(rest) < 9 || (rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ') || rest[3] != ':' || rest[6] != ':' {
			return 0, false, false
		}
		var ok4, ok5, ok6 bool
		hour, ok4 = digits(rest[1:3])
		minute, ok5 = digits(rest[4:6])
		second, ok6 = digits(rest[7:9])
		if !ok4 || !ok5 || !ok6 || hour > 23 || minute > 59 || second > 59 {
			return 0, false, false
		}
		rest = rest[9:]
		if rest != "" && rest[0] == '.' {
			n := 1
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			if n == 1 {
				return 0, false, false
			}
			frac = fraction(rest[1:n])
			rest = rest[n:]
		}
		if offset, ok = zone(rest); !ok {
			return 0, false, false
		}
	}
	if day > daysIn(year, month) {
		return 0, false, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	us = t.UnixMicro() + int64(frac) - int64(offset)*1e6
	return us, true, us >= timeMin.Int64() && us <= timeMax.Int64()
}

// digits is a fixed-width run of decimal digits as a number.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// fraction is a second's fraction in whole microseconds, cut after six digits.
func fraction(s string) int {
	us := 0
	for i := range 6 {
		us *= 10
		if i < len(s) {
			us += int(s[i] - '0')
		}
	}
	return us
}

// zone is what a timestamp's zone adds to UTC, in seconds: none, Z, or
// [+-]HH[:]MM with an hour up to 23.
func zone(s string) (int, bool) {
	switch {
	case s == "":
		return 0, true
	case s == "Z" || s == "z":
		return 0, true
	case s[0] != '+' && s[0] != '-':
		return 0, false
	}
	hm := s[1:]
	if len(hm) == 5 && hm[2] == ':' {
		hm = hm[:2] + hm[3:]
	}
	if len(hm) != 4 {
		return 0, false
	}
	h, ok1 := digits(hm[:2])
	m, ok2 := digits(hm[2:])
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	sec := h*3600 + m*60
	if s[0] == '-' {
		sec = -sec
	}
	return sec, true
}

// daysIn is the number of days of a month of the proleptic Gregorian calendar.
func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
