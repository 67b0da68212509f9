package engine

import (
	"encoding/json"
	"maps"
	"testing"
)

// readWeightMapRef is what readWeightMap must agree with: encoding/json.
func readWeightMapRef(b []byte) (map[string]string, error) {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	err := json.Unmarshal(b, &idx)
	return idx.WeightMap, err
}

var weightMapCases = []string{
	`{"metadata":{"total_size":4},"weight_map":{"a.weight":"model-00001.safetensors","b":"m2"}}`,
	`{"weight_map":{"a":"x","a":"y"}}`,
	`{"Weight_Map":{"a":"x"},"weight_map":{"b":"y"}}`,
	`{"weight_map":{"a":"x"},"WEIGHT_MAP":null,"weight_map":{"b":"y"}}`,
	`{"weight_map":{"a":null,"b":"\u00e9\n"}}`,
	`{"weight_map":null}`,
	`{"weight_map":{}}`,
	`{}`,
	`{"weight_map":{"a":1}}`,
	`{"weight_map":[]}`,
	`{"weight_map":"x"}`,
	`[]`,
	`null`,
	`{"weight_map":{"a":"x"}`,
	` {"weight_map" : { "a" : "x" } } `,
}

func TestReadWeightMap(t *testing.T) {
	for _, c := range weightMapCases {
		got, err := readWeightMap([]byte(c))
		want, werr := readWeightMapRef([]byte(c))
		if (err != nil) != (werr != nil) || err == nil && !maps.Equal(got, want) {
			t.Errorf("%s: got %v, %v; encoding/json %v, %v", c, got, err, want, werr)
		}
	}
}

func FuzzReadWeightMap(f *testing.F) {
	for _, c := range weightMapCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readWeightMap(b)
		want, werr := readWeightMapRef(b)
		if (err != nil) != (werr != nil) || err == nil && !maps.Equal(got, want) {
			t.Fatalf("%q: got %v, %v; encoding/json %v, %v", b, got, err, want, werr)
		}
	})
}
