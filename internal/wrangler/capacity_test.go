package wrangler

import "testing"

// The container configuration carries MAX_CONCURRENT for its instance type (internal/instance Capacity),
// and a variable the user sets wins.
func TestRenderMaxConcurrent(t *testing.T) {
	cases := []struct {
		typ  string
		vars map[string]string
		want any
	}{
		{"basic", nil, "1"},
		{"standard-1", nil, "2"},
		{"standard-3", nil, "8"},
		{"standard-4", nil, "16"},
		{"standard-1", map[string]string{"MAX_CONCURRENT": "6"}, "6"},
		{"lite", nil, nil}, // not even one run fits: the Worker's default applies (preflight refuses lite)
	}
	for _, tc := range cases {
		got, err := Config(Options{Mode: ModeContainer, Image: testImage, InstanceType: tc.typ, Vars: tc.vars})
		if err != nil {
			t.Fatal(err)
		}
		if v := standard(t, got)["vars"].(map[string]any)["MAX_CONCURRENT"]; v != tc.want {
			t.Errorf("%s with %v: MAX_CONCURRENT = %v, want %v", tc.typ, tc.vars, v, tc.want)
		}
	}
	stub, err := Config(Options{Mode: ModeStub})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := standard(t, stub)["vars"].(map[string]any)["MAX_CONCURRENT"]; ok {
		t.Errorf("the stub has MAX_CONCURRENT %v: it has no instances", v)
	}
}
