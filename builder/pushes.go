package builder

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
)

// pushRecord is what the cache remembers of the last push of a lock, so launch specs can
// be pinned to it without a registry round trip.
type pushRecord struct {
	LockHash string   `json:"lock_hash"`
	Digest   string   `json:"digest"`
	Refs     []string `json:"refs"` // REF@sha256:... as pushed
}

var hexRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

func pushRecordPath(cacheDir, lockHash string) string {
	return filepath.Join(cacheDir, "pushes", lockHash+".json")
}

// recordPushes remembers res's pushes under the lock hash of its image (written to a
// temporary file and renamed, so a reader never sees half a record).
func recordPushes(cacheDir string, res *ImageResult) error {
	if cacheDir == "" || len(res.Pushed) == 0 || len(res.Records) == 0 || !hexRe.MatchString(res.Records[0].LockHash) {
		return nil
	}
	lh := res.Records[0].LockHash
	b, err := json.MarshalIndent(pushRecord{LockHash: lh, Digest: res.Digest, Refs: res.Pushed}, "", "  ")
	if err != nil {
		return err
	}
	p := pushRecordPath(cacheDir, lh)
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
	b, err := os.ReadFile(pushRecordPath(cacheDir, lockHash))
	if os.IsNotExist(err) {
		return "", &NotPushedError{LockHash: lockHash}
	}
	if err != nil {
		return "", err
	}
	var pr pushRecord
	if err := json.Unmarshal(b, &pr); err != nil || len(pr.Refs) == 0 {
		return "", &NotPushedError{LockHash: lockHash, Damaged: pushRecordPath(cacheDir, lockHash)}
	}
	return pr.Refs[0], nil
}
