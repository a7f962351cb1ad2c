package builder

import (
	"path"
	"testing"

	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/recipes"
)

// The recipe parser keeps data and the prefix out of the record's directory; it must be
// the directory the record is really written to.
func TestRecordDirMatchesRecordPath(t *testing.T) {
	if got := "/" + path.Dir(record.Path); got != recipes.RecordDir {
		t.Fatalf("record is written under %s, recipes reserves %s", got, recipes.RecordDir)
	}
	for k := range record.Labels(&record.RuntimeRecord{}) {
		if len(k) < len(recipes.ReservedLabelPrefix) || k[:len(recipes.ReservedLabelPrefix)] != recipes.ReservedLabelPrefix {
			if k[:4] != "org." {
				t.Errorf("record label %q is outside the reserved prefix", k)
			}
		}
	}
}
