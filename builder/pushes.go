package builder

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// pushRecord is what the cache remembers of the last push of a lock, so launch specs can
// be pinned to it without a registry round trip.
type pushRecord struct {
	LockHash string   `json:"lock_hash"`
	Digest   string   `json:"digest"`
	Refs     []string `json:"refs"` // REF@sha256:... as pushed
}

var hexRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// What a push record is of: the container image (or index), or the KubeVirt
// containerDisk of a VM recipe.
const (
	pushImage         = ""
	pushContainerDisk = "kubevirt"
)

func pushRecordPath(cacheDir, lockHash, kind string) string {
	if kind != pushImage {
		return filepath.Join(cacheDir, "pushes", lockHash+"."+kind+".json")
	}
	return filepath.Join(cacheDir, "pushes", lockHash+".json")
}

// recordPushes remembers res's pushes of kind (the pushed digest) under the lock hash
// of its image (written to a temporary file and renamed, so a reader never sees half a
// record).
func recordPushes(cacheDir string, res *ImageResult, kind, digest string) error {
	if cacheDir == "" || len(res.Pushed) == 0 || len(res.Records) == 0 || !hexRe.MatchString(res.Records[0].LockHash) {
		return nil
	}
	lh := res.Records[0].LockHash
	b, err := json.MarshalIndent(pushRecord{LockHash: lh, Digest: digest, Refs: res.Pushed}, "", "  ")
	if err != nil {
		return err
	}
	p := pushRecordPath(cacheDir, lh, kind)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".push-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// LastPush is the first reference (REF@sha256:...) of the last push of the lock with
// this hash from this cache, or a *NotPushedError.
func LastPush(cacheDir, lockHash string) (string, error) {
	return lastPush(cacheDir, lockHash, pushImage)
}

// LastContainerDiskPush is LastPush for the KubeVirt containerDisk of a VM recipe
// (`image --output kubevirt:DIR --push`).
func LastContainerDiskPush(cacheDir, lockHash string) (string, error) {
	return lastPush(cacheDir, lockHash, pushContainerDisk)
}

func lastPush(cacheDir, lockHash, kind string) (string, error) {
	p := pushRecordPath(cacheDir, lockHash, kind)
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return "", &NotPushedError{LockHash: lockHash, ContainerDisk: kind == pushContainerDisk}
	}
	if err != nil {
		return "", err
	}
	var pr pushRecord
	if err := json.Unmarshal(b, &pr); err != nil || len(pr.Refs) == 0 || pr.LockHash != lockHash || !strings.HasSuffix(pr.Refs[0], "@"+pr.Digest) {
		return "", &NotPushedError{LockHash: lockHash, Damaged: p, ContainerDisk: kind == pushContainerDisk}
	}
	return pr.Refs[0], nil
}
