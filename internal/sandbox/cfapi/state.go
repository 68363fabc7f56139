package cfapi

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Module is one uploaded file part of a Worker version (the bundle, a source map, ...).
type Module struct {
	Name        string
	ContentType string // e.g. application/javascript+module, application/source-map
	Content     []byte
}

// Binding is one binding of a Worker version. Raw holds every field as uploaded, plus namespace_id for
// Durable Object bindings that the server resolved.
type Binding struct {
	Type        string // durable_object_namespace, plain_text, secret_text, ...
	Name        string
	ClassName   string // durable_object_namespace
	ScriptName  string // durable_object_namespace bound to another script
	NamespaceID string // durable_object_namespace, resolved by the server
	Text        string // plain_text and secret_text
	Raw         map[string]any
}

// ContainerRef is an entry of the upload metadata's "containers".
type ContainerRef struct {
	ClassName string
	Name      string // the application name (sent by wrangler 4.164)
}

// Version is an uploaded Worker version with everything needed to run it.
type Version struct {
	ID                 string
	Number             int
	Script             string
	CreatedOn          time.Time
	MainModule         string
	Modules            []Module
	CompatibilityDate  string
	CompatibilityFlags []string
	Bindings           []Binding
	Containers         []ContainerRef
	Annotations        map[string]string
	Metadata           []byte // the upload's metadata part, verbatim
	Source             string // "wrangler"
	Etag               string
}

// Module returns the named module, or false.
func (v Version) Module(name string) (Module, bool) {
	for _, m := range v.Modules {
		if m.Name == name {
			return m, true
		}
	}
	return Module{}, false
}

// DeploymentVersion is one version of a deployment and its share of traffic.
type DeploymentVersion struct {
	VersionID  string  `json:"version_id"`
	Percentage float64 `json:"percentage"`
}

// Deployment says which versions of a script serve traffic.
type Deployment struct {
	ID          string
	Script      string
	CreatedOn   time.Time
	Source      string
	Strategy    string
	Annotations map[string]string
	Versions    []DeploymentVersion
}

// Namespace is a Durable Object namespace created by a migration.
type Namespace struct {
	ID     string
	Name   string // <script>_<class>
	Script string
	Class  string
	SQLite bool
}

type script struct {
	name         string
	tag          string
	createdOn    time.Time
	modifiedOn   time.Time
	migrationTag string
	versions     []*Version    // oldest first
	deployments  []*Deployment // oldest first
	workersDev   bool
	previews     bool
	settings     map[string]any
}

func (sc *script) version(id string) *Version {
	for _, v := range sc.versions {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// current returns the latest deployment and its primary version (the one with the largest share).
func (sc *script) current() (*Deployment, *Version) {
	if len(sc.deployments) == 0 {
		return nil, nil
	}
	d := sc.deployments[len(sc.deployments)-1]
	best := d.Versions[0]
	for _, dv := range d.Versions[1:] {
		if dv.Percentage > best.Percentage {
			best = dv
		}
	}
	return d, sc.version(best.VersionID)
}

type state struct {
	subdomain  string
	scripts    map[string]*script
	namespaces map[string]*Namespace // by id
	apps       map[string]*application
	creds      map[string]credential // by password
}

func newState(opts Options) *state {
	return &state{
		subdomain:  opts.Subdomain,
		scripts:    map[string]*script{},
		namespaces: map[string]*Namespace{},
		apps:       map[string]*application{},
		creds:      map[string]credential{},
	}
}

func (st *state) namespaceFor(scriptName, class string) *Namespace {
	for _, ns := range st.namespaces {
		if ns.Script == scriptName && ns.Class == class {
			return ns
		}
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func uuid() string {
	h := randHex(16)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}
