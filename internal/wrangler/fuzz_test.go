package wrangler

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tailscale/hujson"
)

// patchKeys are the top-level keys the patcher may set or remove; every other user key must survive as is.
var patchKeys = map[string]bool{
	"name": true, "main": true, "compatibility_date": true, "compatibility_flags": true, "vars": true,
	"containers": true, "durable_objects": true, "migrations": true,
}

func standardObject(t *testing.T, b []byte) (map[string]any, bool) {
	t.Helper()
	v, err := hujson.Parse(bytes.Clone(b))
	if err != nil {
		return nil, false
	}
	v.Standardize()
	var m map[string]any
	if err := json.Unmarshal(v.Pack(), &m); err != nil {
		return nil, false
	}
	return m, true
}

// FuzzPatch: for any user wrangler.jsonc the patcher either refuses it with a one-line error, or writes
// JSONC that parses, keeps every user key it does not own unchanged, and carries the image.
func FuzzPatch(f *testing.F) {
	users, _ := filepath.Glob(filepath.Join("testdata", "user", "*.jsonc"))
	for _, u := range users {
		b, err := os.ReadFile(u)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		f.Add(b, false)
	}
	f.Add([]byte(`{"name": "x", "vars": {"A": "1"}, "routes": [{"pattern": "a.example/*"}] /* c */}`), true)
	f.Add([]byte(`{"containers": [], "durable_objects": {"bindings": []}}`), false)
	f.Add([]byte(`[]`), true)
	f.Fuzz(func(t *testing.T, user []byte, container bool) {
		mode := ModeStub
		if container {
			mode = ModeContainer
		}
		got, err := Config(Options{Mode: mode, Image: testImage, UserConfig: user})
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		out, ok := standardObject(t, got)
		if !ok {
			t.Fatalf("output does not parse as a JSONC object:\n%s", got)
		}
		in, ok := standardObject(t, user)
		if !ok {
			t.Fatalf("accepted a user config that is not a JSONC object: %q", user)
		}
		for k, v := range in {
			if patchKeys[k] {
				continue
			}
			if !reflect.DeepEqual(out[k], v) {
				t.Fatalf("user key %q changed from %v to %v", k, v, out[k])
			}
		}
		if mode == ModeContainer {
			cs, _ := out["containers"].([]any)
			found := false
			for _, c := range cs {
				if m, _ := c.(map[string]any); m != nil && m["image"] == testImage {
					found = true
				}
			}
			if !found {
				t.Fatalf("no container carries the image: %v", out["containers"])
			}
		} else if _, ok := out["containers"]; ok {
			t.Fatalf("stub output keeps containers: %v", out["containers"])
		}
	})
}

// FuzzParseOutput: the ND-JSON reader never panics; on success it keeps one entry per non-blank line,
// each valid JSON, and fills Deploy exactly when a deploy entry came.
func FuzzParseOutput(f *testing.F) {
	f.Add([]byte(`{"type":"wrangler-session","version":1,"wrangler_version":"4.164.0","command_line_args":["deploy"],"log_file_path":"/x","timestamp":"2026-11-29T00:00:00.000Z"}` + "\n" +
		`{"type":"deploy","version":1,"worker_name":"lean","worker_tag":"abc","version_id":"0b1c","targets":["https://lean.acct.workers.dev"],"worker_name_overridden":false,"wrangler_environment":null,"timestamp":"2026-11-29T00:00:01.000Z"}` + "\n"))
	f.Add([]byte(`{"type":"command-failed","version":1,"code":10021,"message":"boom","timestamp":"t"}`))
	f.Add([]byte("\n\n  \n"))
	f.Add([]byte(`{"type":"version-upload","version_id":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var res Result
		if err := res.parseOutput(bytes.NewReader(data)); err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		lines := 0
		deploys := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		for _, e := range res.Entries {
			if !json.Valid(e.Raw) {
				t.Fatalf("entry Raw is not JSON: %q", e.Raw)
			}
			if e.Type == "deploy" {
				deploys++
			}
		}
		if len(res.Entries) != lines {
			t.Fatalf("%d entries from %d lines", len(res.Entries), lines)
		}
		if (deploys > 0) != (res.Deploy != nil) {
			t.Fatalf("%d deploy entries but Deploy = %v", deploys, res.Deploy)
		}
	})
}

// FuzzSleepAfter: a sleep-after the options accept is a positive whole duration the container class
// reads ("90" seconds, "30s", "2m", "1h"); anything else is refused with a one-line error that names it.
func FuzzSleepAfter(f *testing.F) {
	for _, s := range []string{"2m", "30s", "1h", "90", "0", "-1m", "1.5m", "2 m", "2mm", "1d", "05m", "9999999999999999999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return // empty means the default
		}
		err := Options{Mode: ModeStub, SleepAfter: s}.validate()
		if err != nil {
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "sleep after") {
				t.Fatalf("error %q is not one line naming sleep after", err)
			}
			return
		}
		d := s
		if !strings.ContainsAny(s, "smh") {
			d += "s"
		}
		if v, perr := time.ParseDuration(d); perr != nil || v <= 0 || v > MaxSleepAfter {
			t.Fatalf("accepted sleep after %q is not a positive duration: %v %v", s, v, perr)
		}
	})
}
