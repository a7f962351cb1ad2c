// Package conda models conda package metadata exactly as conda reads it: versions and
// their ordering, version specs, match specs, package records, repodata documents,
// platforms and virtual packages.
//
// The reference is conda itself (conda/models/version.py, match_spec.py, channel.py at
// conda 0f64223): the tests replay tens of thousands of verdicts recorded from it
// (testdata/conda/conda-spec). Where conda's behaviour is odd — "*.*" requiring a dot,
// a canonical string that reads back differently — this package is odd the same way.
//
// Hot paths are built for a solver: Version.Compare and MatchSpec.MatchVersion do not
// allocate; parse a record's version once with ParseVersion and reuse it.
// ParseRepodata/ReadRepodata decode repodata with a hand-written scanner that interns
// repeated strings and carves the rest from arena blocks (via unsafe.String over bytes
// it never writes again). BuildRepodataIndex runs the same scanner without keeping
// records, indexing them by name; RepodataIndex.Records decodes one name's records
// back from the io.ReaderAt it was given.
//
// It is pure: it imports only the standard library and does no I/O beyond reading the
// bytes, the io.Reader or the io.ReaderAt it is given. Channel resolution uses conda's default settings
// unless ParseOptions say otherwise; nothing is read from the environment.
package conda
