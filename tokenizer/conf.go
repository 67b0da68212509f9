package tokenizer

import (
	"fmt"
	"math"
	"strconv"
	"sync"
)

// obj wraps a JSON object with its path inside tokenizer.json for error messages such as
// `pre_tokenizer.pretokenizers[1].type: unknown "Foo"`.
type obj struct {
	v    *jval
	path string
}

func (o obj) at(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

func (o obj) errf(key, format string, args ...any) error {
	return fmt.Errorf("tokenizer: %s: %s", o.at(key), fmt.Sprintf(format, args...))
}

// has reports whether key is present and not null.
func (o obj) has(key string) bool {
	v := o.v.get(key)
	return v != nil && v.kind != jNull
}

func (o obj) str(key, def string) (string, error) {
	v := o.v.get(key)
	if v == nil || v.kind == jNull {
		return def, nil
	}
	if v.kind != jStr {
		return "", o.errf(key, "expected a string, got %s", v.kind)
	}
	return v.s, nil
}

// optStr returns (value, present).
func (o obj) optStr(key string) (string, bool, error) {
	v := o.v.get(key)
	if v == nil || v.kind == jNull {
		return "", false, nil
	}
	if v.kind != jStr {
		return "", false, o.errf(key, "expected a string, got %s", v.kind)
	}
	return v.s, true, nil
}

func (o obj) boolean(key string, def bool) (bool, error) {
	v := o.v.get(key)
	if v == nil || v.kind == jNull {
		return def, nil
	}
	if v.kind != jBool {
		return false, o.errf(key, "expected a boolean, got %s", v.kind)
	}
	return v.b, nil
}

func (o obj) integer(key string, def int) (int, error) {
	v := o.v.get(key)
	if v == nil || v.kind == jNull {
		return def, nil
	}
	if v.kind != jNum {
		return 0, o.errf(key, "expected an integer, got %s", v.kind)
	}
	n, err := parseInt(v.s)
	if err != nil {
		return 0, o.errf(key, "%v", err)
	}
	return n, nil
}

func (o obj) float(key string, def float64) (float64, error) {
	v := o.v.get(key)
	if v == nil || v.kind == jNull {
		return def, nil
	}
	if v.kind != jNum {
		return 0, o.errf(key, "expected a number, got %s", v.kind)
	}
	f, err := strconv.ParseFloat(v.s, 64)
	if err != nil {
		return 0, o.errf(key, "%v", err)
	}
	return f, nil
}

func (o obj) child(key string) (obj, error) {
	v := o.v.get(key)
	if v == nil || v.kind != jObj {
		kind := "nothing"
		if v != nil {
			kind = v.kind.String()
		}
		return obj{}, o.errf(key, "expected an object, got %s", kind)
	}
	return obj{v: v, path: o.at(key)}, nil
}

func (o obj) list(key string) ([]*jval, error) {
	v := o.v.get(key)
	if v == nil || v.kind == jNull {
		return nil, nil
	}
	if v.kind != jArr {
		return nil, o.errf(key, "expected an array, got %s", v.kind)
	}
	return v.arr, nil
}

// typ returns the component's "type" field.
func (o obj) typ() (string, error) {
	t, ok, err := o.optStr("type")
	if err != nil {
		return "", err
	}
	if !ok {
		return "", o.errf("type", "missing")
	}
	return t, nil
}

func (o obj) unknown(t string) error {
	return o.errf("type", "unknown %q", t)
}

// parseInt parses a JSON integer literal that must fit in 32 bits unsigned (token ids).
func parseInt(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxUint32 {
			return 0, fmt.Errorf("expected an integer, got %s", s)
		}
		n = int64(f)
	}
	if n < math.MinInt32 || n > math.MaxUint32 {
		return 0, fmt.Errorf("integer %s out of range", s)
	}
	return int(n), nil
}

func elemPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// pattern is the {"String": s} | {"Regex": r} union used by Split, Replace.
func (o obj) pattern(key string) (pat string, isRegex bool, err error) {
	p, err := o.child(key)
	if err != nil {
		return "", false, err
	}
	if s, ok, err := p.optStr("String"); err != nil {
		return "", false, err
	} else if ok {
		return s, false, nil
	}
	if s, ok, err := p.optStr("Regex"); err != nil {
		return "", false, err
	} else if ok {
		return s, true, nil
	}
	return "", false, o.errf(key, `expected {"String": ...} or {"Regex": ...}`)
}

// serdeFloat parses a JSON number the way serde_json does without its float_roundtrip feature
// (what tokenizers reads Unigram scores with): the decimal significand is accumulated in a u64
// (further digits are dropped), converted to float64 and scaled by one power of ten. This can
// differ from the correctly rounded value by one ulp, which decides Viterbi ties.
func serdeFloat(lit string) (float64, error) {
	bad := fmt.Errorf("invalid number %q", lit)
	i := 0
	positive := true
	if i < len(lit) && lit[i] == '-' {
		positive = false
		i++
	}
	if i >= len(lit) || lit[i] < '0' || lit[i] > '9' {
		return 0, bad
	}
	overflow := func(a, d uint64) bool {
		const m = math.MaxUint64
		return a >= m/10 && (a > m/10 || d > m%10)
	}
	var sig uint64
	exp := 0
	isFloat := false
	if lit[i] == '0' {
		i++
		if i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			return 0, bad
		}
	} else {
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			d := uint64(lit[i] - '0')
			if overflow(sig, d) {
				isFloat = true
				for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
					exp++
					i++
				}
				break
			}
			sig = sig*10 + d
			i++
		}
	}
	if i < len(lit) && lit[i] == '.' {
		isFloat = true
		i++
		n := 0
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			d := uint64(lit[i] - '0')
			n++
			i++
			if overflow(sig, d) {
				for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
					i++
				}
				break
			}
			sig = sig*10 + d
			exp--
		}
		if n == 0 {
			return 0, bad
		}
	}
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		isFloat = true
		i++
		posExp := true
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			posExp = lit[i] == '+'
			i++
		}
		if i >= len(lit) || lit[i] < '0' || lit[i] > '9' {
			return 0, bad
		}
		e := 0
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			e = e*10 + int(lit[i]-'0')
			if e > math.MaxInt32/10 {
				if sig == 0 || !posExp {
					for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
						i++
					}
					if i != len(lit) {
						return 0, bad
					}
					if positive {
						return 0, nil
					}
					return math.Copysign(0, -1), nil
				}
				return 0, fmt.Errorf("number %q out of range", lit)
			}
			i++
		}
		if posExp {
			exp += e
		} else {
			exp -= e
		}
	}
	if i != len(lit) {
		return 0, bad
	}
	if !isFloat {
		f := float64(sig)
		if !positive {
			f = -f
		}
		return f, nil
	}
	f := float64(sig)
	for {
		if a := abs(exp); a <= 308 {
			if exp >= 0 {
				f *= pow10()[a]
				if math.IsInf(f, 0) {
					return 0, fmt.Errorf("number %q out of range", lit)
				}
			} else {
				f /= pow10()[a]
			}
			break
		}
		if f == 0 {
			break
		}
		if exp >= 0 {
			return 0, fmt.Errorf("number %q out of range", lit)
		}
		f /= 1e308
		exp += 308
	}
	if !positive {
		f = -f
	}
	return f, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// pow10 returns the table of 1e0..1e308, made on first use (not at
// start-up, where it ran strconv through the WebAssembly engine's first,
// unoptimized tier on every start).
var pow10 = sync.OnceValue(func() (t *[309]float64) {
	t = new([309]float64)
	for i := range t {
		t[i], _ = strconv.ParseFloat("1e"+strconv.Itoa(i), 64)
	}
	return t
})
