package recipes

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// RecordDir is where reprobuild writes its own files in the image (the runtime record and
// SBOMs; internal/record.Path lives in it). Data, the prefix and the environment must
// stay clear of it.
const RecordDir = "/opt/reprobuild"

// ReservedLabelPrefix starts the labels reprobuild writes from the runtime record; a
// recipe may not set them, or an image could claim a record it does not carry.
const ReservedLabelPrefix = "io.reprobuild."

// overlaps reports whether one of two clean absolute paths is the other or inside it.
func overlaps(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}

// checkDataPaths reports data paths that would break the image: over the runtime record,
// over (or above) the environment prefix with its packages and conda-meta, and a data
// path that another one needs as a directory.
func (d *decoder) checkDataPaths(ranges map[string]hcl.Range) {
	prefix := d.recipe.Image.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	var paths []string
	for p := range ranges {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var good []string
	for _, p := range paths {
		rng := ranges[p]
		switch {
		case overlaps(p, RecordDir):
			d.errorf(rng, "Data path over reprobuild's record", "%q overlaps %s, where reprobuild writes the runtime record and SBOMs. Choose a path outside it, e.g. \"/data/...\".", p, RecordDir)
		case overlaps(p, prefix):
			d.errorf(rng, "Data path over the environment", "%q overlaps the environment prefix %s (its packages and conda-meta). Choose a path outside it, e.g. \"/data/...\".", p, prefix)
		default:
			good = append(good, p)
		}
	}
	// Sorted, a path's descendants follow it directly.
	for i := 0; i+1 < len(good); i++ {
		parent, child := good[i], good[i+1]
		if strings.HasPrefix(child, parent+"/") {
			d.errorf(ranges[child], "Data paths conflict", "%q needs %q as a directory, but the data at %s is written there as a file. Move one of them, e.g. to %q.",
				child, parent, at(ranges[parent]), parent+".d/"+path.Base(child))
		}
	}
}

// keyRange is the range of key in an object attribute (falling back to the attribute's).
func keyRange(attr *hcl.Attribute, key string) hcl.Range {
	pairs, diags := hcl.ExprMap(attr.Expr)
	if !diags.HasErrors() {
		for _, kv := range pairs {
			v, diags := kv.Key.Value(nil)
			if !diags.HasErrors() && v.Type().FriendlyName() == "string" && v.AsString() == key {
				return kv.Key.Range()
			}
		}
	}
	return attr.Expr.Range()
}

// checkLabels refuses labels that forge reprobuild's own io.reprobuild.* keys.
func (d *decoder) checkLabels(attr *hcl.Attribute, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		if strings.HasPrefix(k, ReservedLabelPrefix) {
			d.errorf(keyRange(attr, k), "Reserved label", "%q: labels starting with %q are written by reprobuild from the runtime record and cannot be set by a recipe. Use your own namespace, e.g. \"org.example.%s\".", k, ReservedLabelPrefix, strings.TrimPrefix(k, ReservedLabelPrefix))
			delete(labels, k)
		} else if k == "" {
			d.errorf(keyRange(attr, k), "Empty label key", "A label needs a non-empty key.")
			delete(labels, k)
		}
	}
}

// checkEnv refuses environment keys a container runtime cannot set.
func (d *decoder) checkEnv(attr *hcl.Attribute, env map[string]string) {
	for _, k := range sortedKeys(env) {
		switch {
		case k == "":
			d.errorf(keyRange(attr, k), "Invalid environment variable", "An environment variable needs a non-empty name.")
		case strings.ContainsAny(k, "=\x00"):
			d.errorf(keyRange(attr, k), "Invalid environment variable", "%q: a variable name cannot contain '=' or NUL (the image stores NAME=VALUE). Rename it, e.g. %q.", k, strings.NewReplacer("=", "_", "\x00", "").Replace(k))
		case strings.ContainsRune(env[k], 0):
			d.errorf(keyRange(attr, k), "Invalid environment variable", "The value of %q contains a NUL byte, which no process environment can hold.", k)
		default:
			continue
		}
		delete(env, k)
	}
}

// userPart is a user or group: a name (POSIX portable characters) or a numeric id.
var userPart = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.-]{0,31}\$?|[0-9]{1,10})$`)

// checkUser accepts what the OCI image config's User field allows: user, uid, user:group,
// uid:gid (and mixes), with ids that fit in 32 bits.
func (d *decoder) checkUser(attr *hcl.Attribute, user string) bool {
	parts := strings.Split(user, ":")
	ok := len(parts) <= 2
	for _, p := range parts {
		if !userPart.MatchString(p) {
			ok = false
			break
		}
		if p[0] >= '0' && p[0] <= '9' {
			var n uint64
			fmt.Sscan(p, &n)
			if n > 1<<32-1 {
				ok = false
			}
		}
	}
	if !ok {
		d.errorf(attr.Expr.Range(), "Invalid runtime.user", "%q is not a user for the image: write NAME, UID, NAME:GROUP or UID:GID (e.g. \"1000:1000\" or \"app\").", user)
	}
	return ok
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
