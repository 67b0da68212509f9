package jsonscan

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var seeds = []string{
	``, ` `, `null`, `true`, `false`, `0`, `-0`, `1`, `-1.5e-3`, `1E+2`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
	`"a"`, `"\u00e9\n\t\"\\\/"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00x"`, `"\ud83d\u0041"`, `"\x"`, `"\u12"`,
	"\"a\x01\"", "\"\xff\xfe\"", "\"caf\xc3\xa9\"", `"unterminated`,
	`[]`, `[1,2,3]`, `[1,]`, `[,1]`, `[1 2]`, `[[[]]]`, ` [ 1 , "x" , null ] `,
	`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `{"a":{"b":[true,false]}}`,
	`{"a":1} {}`, `{"a":1}x`, `nul`, `tru`, `1e400`, `-1e400`, `123456789012345678901234567890`,
	"\t{\r\n\"k\" : [ 1.25 ] }\n", `{"__metadata__":{"format":"pt"},"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]}}`,
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, s := range seeds {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json says %v", s, got, want)
		}
	}
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range seeds {
		checkDecode(t, []byte(s))
	}
}

// checkDecode holds Valid and Decode to encoding/json's answers on data.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	if got, want := Valid(data), json.Valid(data); got != want {
		t.Fatalf("Valid(%q) = %v, encoding/json says %v", data, got, want)
	}
	var want any
	werr := json.Unmarshal(data, &want)
	got, gerr := Decode(data)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("Decode(%q): error %v, encoding/json's %v", data, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%q) = %#v, encoding/json gives %#v", data, got, want)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		// AppendString writes what encoding/json reads back as it reads its own.
		var want, got string
		enc, _ := json.Marshal(string(data))
		if err := json.Unmarshal(enc, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(AppendString(nil, string(data)), &got); err != nil || got != want {
			t.Fatalf("AppendString(%q) = %s: reads as %q (%v), want %q", data, AppendString(nil, string(data)), got, err, want)
		}
		if !Valid(data) {
			return
		}
		// The typed readers agree with encoding/json on the same text.
		var s string
		if got, err := String(data); (err == nil) != (json.Unmarshal(data, &s) == nil && KindOf(trim(data)) == KindString) || (err == nil && got != s) {
			t.Fatalf("String(%q) = %q, %v; encoding/json %q", data, got, err, s)
		}
		var n int64
		jerr := json.Unmarshal(data, &n)
		okJSON := jerr == nil && KindOf(trim(data)) == KindNumber
		if got, err := Int(data); (err == nil) != okJSON || (err == nil && got != n) {
			t.Fatalf("Int(%q) = %d, %v; encoding/json %d, %v", data, got, err, n, jerr)
		}
		var fl float64
		jerr = json.Unmarshal(data, &fl)
		okJSON = jerr == nil && KindOf(trim(data)) == KindNumber
		if got, err := Float(data); (err == nil) != okJSON || (err == nil && got != fl) {
			t.Fatalf("Float(%q) = %g, %v; encoding/json %g, %v", data, got, err, fl, jerr)
		}
		if ms, err := Members(data); err == nil {
			var m map[string]json.RawMessage
			if json.Unmarshal(data, &m) != nil || m == nil {
				t.Fatalf("Members(%q) ok, encoding/json cannot read an object", data)
			}
			last := map[string]string{}
			for _, x := range ms {
				last[x.Key] = string(x.Raw)
			}
			if len(last) != len(m) {
				t.Fatalf("Members(%q): %d keys, encoding/json %d", data, len(last), len(m))
			}
			for k, v := range m {
				if last[k] != string(v) {
					t.Fatalf("Members(%q)[%q] = %s, encoding/json %s", data, k, last[k], v)
				}
			}
		}
		if els, err := Elements(data); err == nil {
			var a []json.RawMessage
			if json.Unmarshal(data, &a) != nil || len(a) != len(els) {
				t.Fatalf("Elements(%q): %d elements, encoding/json %d", data, len(els), len(a))
			}
			for i := range a {
				if string(a[i]) != string(els[i]) {
					t.Fatalf("Elements(%q)[%d] = %s, encoding/json %s", data, i, els[i], a[i])
				}
			}
		}
	})
}

func trim(data []byte) []byte {
	v, _, _ := Trim(data)
	return v
}

func TestTypedReaders(t *testing.T) {
	ms, err := Members([]byte(` {"n": 12, "s": "x\u00e9", "b": true, "l": [1, "a"], "n": null} `))
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{}
	for _, m := range ms {
		keys = append(keys, m.Key+"="+string(m.Raw))
	}
	if got := strings.Join(keys, " "); got != `n=12 s="x\u00e9" b=true l=[1, "a"] n=null` {
		t.Fatalf("members: %s", got)
	}
	if n, err := Int(ms[0].Raw); err != nil || n != 12 {
		t.Fatalf("Int: %d %v", n, err)
	}
	if s, err := String(ms[1].Raw); err != nil || s != "xé" {
		t.Fatalf("String: %q %v", s, err)
	}
	if b, err := Bool(ms[2].Raw); err != nil || !b {
		t.Fatalf("Bool: %v %v", b, err)
	}
	els, err := Elements(ms[3].Raw)
	if err != nil || len(els) != 2 || string(els[1]) != `"a"` {
		t.Fatalf("Elements: %q %v", els, err)
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"int of a string", func() error { _, err := Int(ms[1].Raw); return err }()},
		{"string of a number", func() error { _, err := String(ms[0].Raw); return err }()},
		{"members of an array", func() error { _, err := Members(ms[3].Raw); return err }()},
		{"elements of null", func() error { _, err := Elements(ms[4].Raw); return err }()},
	} {
		if !errors.Is(c.err, ErrType) {
			t.Errorf("%s: %v, want ErrType", c.name, c.err)
		}
	}
	if _, err := Int([]byte(`1.5`)); err == nil {
		t.Error("Int(1.5) succeeded")
	}
	var se *SyntaxError
	if _, _, err := Trim([]byte(`{"a": [1, 2}`)); !errors.As(err, &se) || se.Offset != 11 {
		t.Errorf("Check: %v, want a syntax error at offset 11", err)
	}
	if _, _, err := Trim([]byte(strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1))); err == nil {
		t.Error("nesting past the depth limit accepted")
	}
}

func BenchmarkMembers(b *testing.B) {
	data := []byte(`{"architectures":["BloomForCausalLM"],"model_type":"bloom","hidden_size":1024,"n_head":16,"n_layer":24,` +
		`"vocab_size":250880,"layer_norm_epsilon":1e-05,"bos_token_id":1,"eos_token_id":2,"apply_residual_connection_post_layernorm":false}`)
	for b.Loop() {
		if _, err := Members(data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMembersOrNull(t *testing.T) {
	for _, tc := range []struct {
		in      string
		n       int
		wantErr bool
	}{
		{"null", 0, false}, {" null\n", 0, false}, {`{"a":1,"a":2}`, 2, false}, {"{}", 0, false},
		{"n", 0, true}, {"nul", 0, true}, {"[]", 0, true}, {`"x"`, 0, true}, {"null x", 0, true},
	} {
		ms, err := MembersOrNull([]byte(tc.in))
		if (err != nil) != tc.wantErr || len(ms) != tc.n {
			t.Errorf("MembersOrNull(%q) = %d members, %v", tc.in, len(ms), err)
		}
	}
}
