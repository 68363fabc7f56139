package wrangler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/tailscale/hujson"
)

// userConfig is what patch reads of a user's wrangler.jsonc.
type userConfig struct {
	Name               *string           `json:"name"`
	CompatibilityDate  *string           `json:"compatibility_date"`
	CompatibilityFlags *[]string         `json:"compatibility_flags"`
	Containers         *[]map[string]any `json:"containers"`
	DurableObjects     *struct {
		Bindings *[]binding `json:"bindings"`
	} `json:"durable_objects"`
	Migrations *[]struct {
		Tag              string   `json:"tag"`
		NewClasses       []string `json:"new_classes"`
		NewSqliteClasses []string `json:"new_sqlite_classes"`
	} `json:"migrations"`
	Vars *map[string]json.RawMessage `json:"vars"`
}

// op is one RFC 6902 JSON Patch operation.
type op struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

func add(path string, v any) op {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encoding a patch value of type %T: %v", v, err)) // only plain strings, ints, slices and structs reach here
	}
	return op{Op: "add", Path: path, Value: b}
}

// patch applies o to the user's wrangler.jsonc with a JSON Patch on its syntax tree, so comments,
// order and formatting of everything not changed stay as the user wrote them.
func patch(o Options) ([]byte, error) {
	o = o.clone()
	src := o.UserConfigName
	if src == "" {
		src = ConfigFile
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	// Parse keeps slices of its input and Standardize blanks comments in place: parse two copies.
	tree, err := hujson.Parse(bytes.Clone(o.UserConfig))
	if err != nil {
		return nil, subjectErrorf(FieldUserConfig, src, " is not JSONC (JSON with comments): %w; fix the syntax there", oneLine{err})
	}
	std, _ := hujson.Parse(bytes.Clone(o.UserConfig))
	std.Standardize()
	var u userConfig
	if _, isObject := tree.Value.(*hujson.Object); !isObject {
		return nil, subjectErrorf(FieldUserConfig, src, " is not a JSON object: write the wrangler configuration as one object, starting with {")
	}
	if err := json.Unmarshal(std.Pack(), &u); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, subjectErrorf(FieldUserConfig, src, " does not look like a wrangler configuration: %q is %s where wrangler expects %s; correct it", te.Field, article(te.Value), kindOf(te.Type))
		}
		return nil, subjectErrorf(FieldUserConfig, src, " does not look like a wrangler configuration: %w; correct it", oneLine{err})
	}

	var ops []op
	set := func(path string, v any) { ops = append(ops, add(path, v)) }

	if o.WorkerName != "" {
		set("/name", o.WorkerName)
	} else if u.Name == nil {
		set("/name", DefaultWorkerName)
	}
	if o.CompatibilityDate != "" {
		set("/compatibility_date", o.CompatibilityDate)
	} else if u.CompatibilityDate == nil {
		set("/compatibility_date", DefaultCompatibilityDate)
	}
	switch {
	case u.CompatibilityFlags == nil:
		set("/compatibility_flags", []string{"nodejs_compat"})
	case !slices.Contains(*u.CompatibilityFlags, "nodejs_compat"):
		set("/compatibility_flags/-", "nodejs_compat")
	}

	if o.Mode == ModeStub {
		set("/main", StubMain)
		for _, key := range []string{"containers", "durable_objects", "migrations"} {
			if present(std, key) {
				ops = append(ops, op{Op: "remove", Path: "/" + key})
			}
		}
	} else {
		set("/main", ContainerMain)
		cops, err := containerOps(src, o, u)
		if err != nil {
			return nil, err
		}
		ops = append(ops, cops...)
	}

	v := vars(o)
	if u.Vars == nil {
		if len(v) > 0 {
			set("/vars", v)
		}
	} else {
		for _, k := range slices.Sorted(maps.Keys(v)) {
			set("/vars/"+pointerEscape(k), v[k])
		}
	}

	b, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("encoding the patch for %s: %w", src, err)
	}
	old := map[string]bool{}
	pointers(&tree, "", old)
	if err := tree.Patch(b); err != nil {
		return nil, fmt.Errorf("patching %s: %w", src, err)
	}
	layout(&tree, "", old)
	out := tree.Pack()
	if len(out) == 0 || out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out, nil
}

func containerOps(src string, o Options, u userConfig) ([]op, error) {
	if u.Containers == nil || len(*u.Containers) == 0 {
		return nil, subjectErrorf(FieldUserConfig, src, " has no containers: add a \"containers\" entry with \"class_name\": %q, or leave out the user configuration to render one", ClassName)
	}
	i := slices.IndexFunc(*u.Containers, func(c map[string]any) bool { return c["class_name"] == ClassName })
	if i < 0 {
		var names []string
		for _, c := range *u.Containers {
			names = append(names, fmt.Sprintf("%q", c["class_name"]))
		}
		return nil, subjectErrorf(FieldUserConfig, src, ": containers name class %s, but lean4-cf's Worker exports %q: set \"class_name\": %q", strings.Join(names, ", "), ClassName, ClassName)
	}
	// Another container class cannot deploy with lean4-cf's Worker, which exports only LeanContainer:
	// wrangler would fail on it at promote, after the stub and the push, whatever its image.
	for j, c := range *u.Containers {
		if j != i {
			return nil, subjectErrorf(FieldUserConfig, src, ": containers also name class %q (image %q), but lean4-cf's Worker exports only %q: remove that entry, or deploy it from a Worker of your own", c["class_name"], c["image"], ClassName)
		}
	}
	var ops []op
	set := func(path string, v any) { ops = append(ops, add(path, v)) }
	at := fmt.Sprintf("/containers/%d", i)
	set(at+"/image", o.Image)
	if o.InstanceType != "" {
		set(at+"/instance_type", instanceTypeValue(o.InstanceType))
	} else if it, ok := (*u.Containers)[i]["instance_type"]; !ok {
		set(at+"/instance_type", DefaultInstanceType)
	} else if _, err := userInstanceType(src, it); err != nil {
		return nil, err // kept as the user wrote it, so it must be one Cloudflare accepts
	}
	if o.MaxInstances != 0 {
		set(at+"/max_instances", o.MaxInstances)
	} else if _, ok := (*u.Containers)[i]["max_instances"]; !ok {
		set(at+"/max_instances", DefaultMaxInstances)
	}
	if mi, ok := (*u.Containers)[i]["max_instances"].(float64); ok && o.MaxInstances == 0 && o.Instances > int(mi) {
		return nil, fieldErrorf(FieldInstances, " %d is more than max_instances %d in %s: lower instances or raise max_instances", o.Instances, int(mi), src)
	}

	want := binding{Name: BindingName, ClassName: ClassName}
	switch {
	case u.DurableObjects == nil:
		set("/durable_objects", durableObjects{Bindings: []binding{want}})
	case u.DurableObjects.Bindings == nil:
		set("/durable_objects/bindings", []binding{want})
	default:
		j := slices.IndexFunc(*u.DurableObjects.Bindings, func(b binding) bool { return b.ClassName == ClassName })
		if j < 0 {
			set("/durable_objects/bindings/-", want)
		} else if got := (*u.DurableObjects.Bindings)[j].Name; got != BindingName {
			return nil, subjectErrorf(FieldUserConfig, src, " binds %s as %q, but lean4-cf's Worker reads env.%s: rename the binding to %q", ClassName, got, BindingName, BindingName)
		}
	}

	m := migration{Tag: "v1", NewSqliteClasses: []string{ClassName}}
	if u.Migrations == nil {
		set("/migrations", []migration{m})
		return ops, nil
	}
	tags := map[string]bool{}
	for _, mg := range *u.Migrations {
		tags[mg.Tag] = true
		if slices.Contains(mg.NewSqliteClasses, ClassName) {
			return ops, nil
		}
		if slices.Contains(mg.NewClasses, ClassName) {
			return nil, subjectErrorf(FieldUserConfig, src, " migration %q declares %s in new_classes: a container class must be SQLite-backed; use new_sqlite_classes", mg.Tag, ClassName)
		}
	}
	for n := 1; tags[m.Tag]; n++ {
		m.Tag = fmt.Sprintf("lean4-cf-v%d", n)
	}
	set("/migrations/-", m)
	return ops, nil
}

func present(std hujson.Value, key string) bool {
	return std.Find("/"+pointerEscape(key)) != nil
}

// pointerEscape escapes a JSON Pointer reference token (RFC 6901).
func pointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// pointers records the JSON Pointer of every object member and array element in v.
func pointers(v *hujson.Value, ptr string, out map[string]bool) {
	switch c := v.Value.(type) {
	case *hujson.Object:
		for i := range c.Members {
			p := ptr + "/" + pointerEscape(c.Members[i].Name.Value.(hujson.Literal).String())
			out[p] = true
			pointers(&c.Members[i].Value, p, out)
		}
	case *hujson.Array:
		for i := range c.Elements {
			p := fmt.Sprintf("%s/%d", ptr, i)
			out[p] = true
			pointers(&c.Elements[i], p, out)
		}
	}
}

// layout gives the members and elements a patch inserted (those not in old) the whitespace of their
// neighbours: a new line at the previous item's indentation, or a space on a one-line composite, and
// keeps a trailing comma the user had. The user's own items are not touched.
func layout(v *hujson.Value, ptr string, old map[string]bool) {
	var items []*hujson.Value // the Value whose BeforeExtra starts each item (member names for objects)
	var values []*hujson.Value
	var paths []string
	switch c := v.Value.(type) {
	case *hujson.Object:
		for i := range c.Members {
			items = append(items, &c.Members[i].Name)
			values = append(values, &c.Members[i].Value)
			paths = append(paths, ptr+"/"+pointerEscape(c.Members[i].Name.Value.(hujson.Literal).String()))
		}
	case *hujson.Array:
		for i := range c.Elements {
			items = append(items, &c.Elements[i])
			values = append(values, &c.Elements[i])
			paths = append(paths, fmt.Sprintf("%s/%d", ptr, i))
		}
	default:
		return
	}
	trailingComma, inserted := false, false
	for i := range items {
		if old[paths[i]] {
			trailingComma = values[i].AfterExtra != nil
			layout(values[i], paths[i], old)
			continue
		}
		inserted = true
		values[i].Format() // a new value is one line: this only spaces it like ", " and ": "
		values[i].AfterExtra = nil
		if items[i] != values[i] {
			values[i].BeforeExtra = []byte(" ")
		}
		items[i].BeforeExtra = []byte(" ")
		if i > 0 {
			prev := items[i-1].BeforeExtra
			if nl := bytes.LastIndexByte(prev, '\n'); nl >= 0 && len(bytes.TrimSpace(prev[nl:])) == 0 {
				items[i].BeforeExtra = append([]byte("\n"), prev[nl+1:]...)
			}
		}
	}
	if inserted && trailingComma {
		values[len(values)-1].AfterExtra = []byte{}
	}
}

// oneLine keeps an error that quotes the user's file on one line: the parser echoes raw input, newlines included.
type oneLine struct{ err error }

func (e oneLine) Error() string { return strings.ReplaceAll(e.err.Error(), "\n", `\n`) }
func (e oneLine) Unwrap() error { return e.err }

// article names a JSON value kind as json.UnmarshalTypeError reports it ("object", "string", "number").
func article(kind string) string {
	if kind == "" {
		return "a value"
	}
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}

// kindOf names the JSON kind a Go type is decoded from.
func kindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	}
	return t.String()
}
